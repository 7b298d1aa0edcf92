"""Venture-philanthropy rounds (公益创投): one method per command, each load, decide, save.

An award is saved with its round, which records it: two awards at the same moment both change
the round, so one of them loses the race and is decided again on the fresh round, where it may
no longer fit the fund (a conflict that says so) — the fund can never be overspent. A conflict
an expert declares is saved with the project of that organization, so it cannot slip past a
score of the same project given at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.service import Commands, Decision, Who
from lifecycle.errors import NotFound
from lifecycle.project import Project
from lifecycle.round import Round
from lifecycle.step import Step

ROUND_PARTS = "the round or its project"


class RoundService(Commands):
    # ---- the round ----------------------------------------------------------------------------

    def create_round(
        self,
        who: Who,
        *,
        name: str,
        fund: Decimal,
        opens: date,
        closes: date,
        max_award: Decimal | None = None,
        pass_mark: Decimal | None = None,
        min_scores: int | None = None,
        site: str | None = None,
    ) -> Round:
        step = self._step(who)
        defaults = self.park.venture
        r = Round.announce(
            step,
            name=name,
            fund=fund,
            opens_on=opens,
            closes_on=closes,
            max_award=max_award,
            pass_mark=defaults.pass_mark if pass_mark is None else pass_mark,
            min_scores=defaults.min_scores if min_scores is None else min_scores,
            site=self.park.site_key(site) if site is not None else None,
        )
        self.log.save(r)
        return r

    def add_expert(
        self, round_id: UUID, who: Who, expert: str, conflicts: Sequence[UUID] = ()
    ) -> Round:
        def decide(r: Round, step: Step) -> list[Aggregate]:
            orgs = {org: self.case(org).name for org in conflicts}  # each known to the park
            r.add_expert(step, expert, orgs)
            return self._noted(r, step, expert, list(orgs))

        return self._round_change(round_id, who, decide)

    def declare_conflict(self, round_id: UUID, who: Who, expert: str, org: UUID) -> Round:
        def decide(r: Round, step: Step) -> list[Aggregate]:
            case = self.case(org)
            r.declare_conflict(step, expert.strip(), org, case.name)
            return self._noted(r, step, expert.strip(), [org])

        return self._round_change(round_id, who, decide)

    def submit(
        self,
        round_id: UUID,
        who: Who,
        *,
        org: UUID,
        title: str,
        amount: Decimal,
        category: str | None = None,
    ) -> Project:
        """The project is saved with its round, which records it: one per organization."""
        made: list[Project] = []

        def decide(r: Round, step: Step) -> list[Aggregate]:
            case = self.case(org)
            project = Project.submit(step, r, case, title=title, amount=amount, category=category)
            r.record_submission(step, UUID(str(project.id)), org, case.name)
            made[:] = [project]
            return [project]

        self._round_change(round_id, who, decide)
        return made[0]

    def close_round(self, round_id: UUID, who: Who) -> Round:
        def decide(r: Round, step: Step) -> None:
            projects = (self.project(UUID(p)) for p in r.projects.values())
            r.close(step, [f"{p.title} ({p.stage})" for p in projects if not p.is_determined])

        return self._round_change(round_id, who, decide)

    # ---- its projects -------------------------------------------------------------------------

    def screen(self, project_id: UUID, who: Who, passed: bool) -> Project:
        return self._change(
            project_id, who, lambda p, step: p.screen(step, self.round(p.round_id), passed)
        )

    def score(self, project_id: UUID, who: Who, expert: str, score: Decimal) -> Project:
        return self._change(
            project_id,
            who,
            lambda p, step: p.score(step, self.round(p.round_id), expert, score),
        )

    def award(self, project_id: UUID, who: Who, amount: Decimal) -> Project:
        def decide(p: Project, step: Step) -> list[Aggregate]:
            r = self.round(p.round_id)
            p.award(step, r, amount)
            r.record_award(step, UUID(str(p.id)), amount)
            return [r]

        return self._change(project_id, who, decide)

    def decline(self, project_id: UUID, who: Who) -> Project:
        return self._change(
            project_id, who, lambda p, step: p.decline(step, self.round(p.round_id))
        )

    def disburse(self, project_id: UUID, who: Who, amount: Decimal) -> Project:
        return self._change(project_id, who, lambda p, step: p.disburse(step, amount))

    def report(self, project_id: UUID, who: Who, kind: str, note: str) -> Project:
        return self._change(
            project_id, who, lambda p, step: p.report(step, kind, note, self.park.rules)
        )

    def stop(self, project_id: UUID, who: Who) -> Project:
        return self._change(project_id, who, lambda p, step: p.stop(step))

    # ---- reading ------------------------------------------------------------------------------

    def round(self, round_id: UUID) -> Round:
        missing = NotFound("no venture-philanthropy round with id {id}", field="round", id=round_id)
        return self._get(round_id, Round, missing)

    def project(self, project_id: UUID) -> Project:
        missing = NotFound("no project with id {id}", field="project", id=project_id)
        return self._get(project_id, Project, missing)

    def projects(self, r: Round) -> list[Project]:
        """The round's projects, in the order they were submitted."""
        return [self.project(UUID(p)) for p in r.projects.values()]

    # ---- load, decide, save -------------------------------------------------------------------

    def _noted(self, r: Round, step: Step, expert: str, orgs: list[UUID]) -> list[Aggregate]:
        """The projects of `orgs` in the round that note the expert's conflict (saved with the
        round: a score of the same project at the same moment conflicts with it)."""
        noted: list[Aggregate] = []
        for org in orgs:
            project_id = r.projects.get(str(org))
            if project_id is not None:
                project = self.project(UUID(project_id))
                if project.note_conflict(step, expert):
                    noted.append(project)
        return noted

    def _round_change(self, round_id: UUID, who: Who, decide: Decision[Round]) -> Round:
        return self._retrying(lambda: self.round(round_id), who, decide, ROUND_PARTS)

    def _change(self, project_id: UUID, who: Who, decide: Decision[Project]) -> Project:
        return self._retrying(lambda: self.project(project_id), who, decide, ROUND_PARTS)
