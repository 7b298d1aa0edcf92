"""The party-branch commands (社会组织党组织孵化): one method per command, load, decide, save.

A party track is found by its organization's case id. A command that changes a joint branch too
(joining it, a recount of a member, founding an own branch and leaving it) saves both in one
transaction; a race with another organization on the same branch is decided again.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from commands.service import Commands, Decision, Who
from lifecycle.bounds import shown
from lifecycle.errors import NotFound, Refused
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.step import Step


class PartyService(Commands):
    # ---- the party track's commands -----------------------------------------------------------

    def record_inspection(
        self, case_id: UUID, who: Who, note: str | None = None
    ) -> PartyIncubation:
        return self._change(case_id, who, lambda track, step: track.record_inspection(step, note))

    def count_members(
        self, case_id: UUID, who: Who, formal: int, probationary: int = 0, transferred: int = 0
    ) -> PartyIncubation:
        def decide(track: PartyIncubation, step: Step) -> list[Aggregate]:
            branch = self.joint_branch_of(track)
            track.count_members(step, formal, probationary, transferred)
            if branch is None:
                return []
            branch.recount(track.case_id, formal, step)
            return [branch]

        return self._change(case_id, who, decide)

    def assign_instructor(self, case_id: UUID, who: Who, instructor: str) -> PartyIncubation:
        return self._change(
            case_id, who, lambda track, step: track.assign_instructor(step, instructor)
        )

    def record_support(self, case_id: UUID, who: Who, kind: str, note: str) -> PartyIncubation:
        return self._change(
            case_id, who, lambda track, step: track.record_support(step, kind, note)
        )

    def record_development(self, case_id: UUID, who: Who, note: str) -> PartyIncubation:
        return self._change(case_id, who, lambda track, step: track.record_development(step, note))

    def found_branch(self, case_id: UUID, who: Who, name: str) -> PartyIncubation:
        def decide(track: PartyIncubation, step: Step) -> list[Aggregate]:
            leaving = self.joint_branch_of(track)
            track.found_branch(step, name)
            if leaving is None:
                return []
            leaving.leave(track.case_id, step, "founded its own branch")
            return [leaving]

        return self._change(case_id, who, decide)

    def join_branch(self, case_id: UUID, who: Who, branch: str) -> PartyIncubation:
        def decide(track: PartyIncubation, step: Step) -> list[Aggregate]:
            joined = self.joint_branch(branch, track.site)
            track.join_branch(step, joined)
            assert track.formal is not None
            joined.admit(track.case_id, track.org_name, track.formal, step)
            return [joined]

        return self._change(case_id, who, decide)

    def record_service(self, case_id: UUID, who: Who, kind: str, note: str) -> PartyIncubation:
        return self._change(
            case_id, who, lambda track, step: track.record_service(step, kind, note)
        )

    def rate(self, case_id: UUID, who: Who, stars: int, note: str) -> PartyIncubation:
        return self._change(case_id, who, lambda track, step: track.rate(step, stars, note))

    def start_missing(self, case_id: UUID, who: Who) -> PartyIncubation:
        """The party track of a case that entered before tracks were started automatically:
        recorded on the case too, so a command ending the case at the same moment conflicts."""
        started: list[PartyIncubation] = []

        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            case_id = UUID(str(case.id))
            track_id = PartyIncubation.id_for(case_id)
            case.record_party_track_started(step, track_id, self.party_track(case))
            started[:] = [PartyIncubation.start(case_id, case.name, case.site, step)]
            return [*started]

        self._retrying(lambda: self.case(case_id), who, decide)
        return started[0]

    # ---- joint branches -----------------------------------------------------------------------

    def create_joint_branch(self, who: Who, *, name: str, site: str) -> JointBranch:
        site = self.park.site_key(site)
        step = self._step(who)
        branch = JointBranch.create(site, name, step)
        existing = self._find(branch.id)
        if existing is not None:
            raise _exists(site, branch)
        try:
            self.log.save(branch)
        except IntegrityError:  # created by someone else at the same moment
            raise _exists(site, branch) from None
        return branch

    def joint_branch(self, given: str, site: str | None = None) -> JointBranch:
        """A joint branch by its id, or by its name at `site` (the organization's own site)."""
        try:
            branch_id = UUID(given)
        except ValueError:
            if site is None:
                raise NotFound(
                    "{given} is not a joint branch id", field="branch", given=shown(given)
                ) from None
            branch_id = JointBranch.id_for(site, given)
            missing = NotFound(
                "site '{site}' has no joint branch named {given}",
                field="branch",
                site=site,
                given=shown(given.strip()),
            )
        else:
            missing = NotFound("no joint branch with id {id}", field="branch", id=given)
        return self._get(branch_id, JointBranch, missing)

    # ---- reading ------------------------------------------------------------------------------

    def track(self, case_id: UUID) -> PartyIncubation:
        case = self.case(case_id)
        track = self.party_track(case)
        if track is None:
            raise _no_track(case)
        return track

    # ---- load, decide, save -------------------------------------------------------------------

    def _change(
        self, case_id: UUID, who: Who, decide: Decision[PartyIncubation]
    ) -> PartyIncubation:
        return self._retrying(lambda: self.track(case_id), who, decide)


def _exists(site: str, branch: JointBranch) -> Refused:
    return Refused(
        "site '{site}' already has a joint branch named '{name}' ({id})",
        field="name",
        site=site,
        name=branch.name,
        id=branch.id,
    )


def _no_track(case: OrganizationCase) -> NotFound:
    if case.entered_on is None:
        return NotFound(
            "{name} has no party track yet: it starts when the organization enters the "
            "shell (evaluate-entry) or is admitted as a resident (admit); the case is in stage "
            "'{stage}'",
            name=case.name,
            stage=case.stage,
        )
    return NotFound(
        "{name} has no party track: it entered on {entered_on}, before party tracks "
        "were started automatically; start it once with: incubator party start ORG",
        name=case.name,
        entered_on=case.entered_on,
    )
