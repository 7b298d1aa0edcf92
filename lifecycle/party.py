"""The party-branch incubation track (社会组织党组织孵化) of an organization.

"入驻一家, 覆盖一家": the track starts when its organization enters the shell or is admitted as a
resident, in the same transaction as that step. Its id is derived from the organization case's id,
so a second start (a retried or racing entry) is a second version 1 of one aggregate, which the log
refuses: the track exists exactly once. An organization with 1–2 formal party members joins a joint
branch (lifecycle/joint_branch.py); one with 3 or more founds its own independent branch, and may
leave a joint branch to do so.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from lifecycle import deadlines
from lifecycle.bounds import MEMBERS, NOTE, STARS
from lifecycle.deadlines import Deadline
from lifecycle.errors import Refused
from lifecycle.joint_branch import BRANCH_MINIMUM, JointBranch
from lifecycle.park import Rules
from lifecycle.stages import INDEPENDENT, JOINT, PARTY_WORKFLOW
from lifecycle.step import Stamped, Step, require_text

PARTY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:incubator:party-track")

SUPPORT_KINDS = ("space", "instructor", "training", "information", "project", "funds")
# With no members the committee's support is its instructor's or liaison's policy advice.
SUPPORT_KINDS_WITHOUT_MEMBERS = ("instructor", "information")
SERVICE_KINDS = ("joint_meeting", "model_selection", "project_priority")


class PartyIncubation(Aggregate):
    case_id: UUID
    org_name: str
    site: str
    stage: str
    started_on: date
    last_on: date
    inspected: bool
    formal: int | None  # None until member discovery counted them
    counted_on: date | None  # the first count (the member discovery deadline is met)
    probationary: int
    transferred: int
    instructor: str | None
    branch_kind: str | None
    branch_id: UUID | None
    branch_name: str | None
    stars: int | None
    rated_on: date | None
    rating_note: str | None
    first_step_on: date | None  # of the steps after the start: a corrected start stays before it
    supports: list[dict[str, Any]]
    developments: list[dict[str, Any]]
    services: list[dict[str, Any]]
    ended_on: date | None
    _clocks: deadlines.Clocks  # its deadline's clock, as its events left it

    # ---- events -------------------------------------------------------------------------------

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class Started(Aggregate.Created, Event, Stamped):
        on: date
        actor: str
        reason: str | None
        case_id: UUID
        org_name: str
        site: str

        def apply(self, track: PartyIncubation) -> None:
            track.case_id, track.org_name, track.site = self.case_id, self.org_name, self.site
            track.stage, track.started_on, track.last_on = "entry_inspection", self.on, self.on
            track.inspected = False
            track.formal, track.probationary, track.transferred = None, 0, 0
            track.counted_on = None
            track.instructor = track.branch_kind = track.branch_id = track.branch_name = None
            track.stars = track.rated_on = track.rating_note = None
            track.supports, track.developments, track.services = [], [], []
            track.ended_on = track.first_step_on = None
            track._clocks = deadlines.fold({}, self)

    class PartyEvent(Event, Stamped):
        on: date
        actor: str
        reason: str | None

        def apply(self, track: PartyIncubation) -> None:
            track.last_on = self.on
            if track.first_step_on is None:
                track.first_step_on = self.on
            self.assign(track)
            track._clocks = deadlines.fold(track._clocks, self)

        def assign(self, track: PartyIncubation) -> None:
            """What the event changes besides the dates of the first and last steps."""

    class Moved(PartyEvent):
        stage: str

        def apply(self, track: PartyIncubation) -> None:
            track.stage = self.stage
            super().apply(track)

    class InspectionRecorded(Moved):
        note: str | None

        def assign(self, track: PartyIncubation) -> None:
            track.inspected = True

    class MembersCounted(Moved):
        formal: int
        probationary: int
        transferred: int

        def assign(self, track: PartyIncubation) -> None:
            track.formal, track.probationary = self.formal, self.probationary
            track.transferred = self.transferred
            if track.counted_on is None:
                track.counted_on = self.on

    class InstructorAssigned(PartyEvent):
        instructor: str

        def assign(self, track: PartyIncubation) -> None:
            track.instructor = self.instructor

    class SupportRecorded(PartyEvent):
        kind: str
        note: str

        def assign(self, track: PartyIncubation) -> None:
            track.supports = [
                *track.supports,
                {"kind": self.kind, "on": self.on, "note": self.note},
            ]

    class DevelopmentRecorded(Moved):
        note: str

        def assign(self, track: PartyIncubation) -> None:
            track.developments = [*track.developments, {"on": self.on, "note": self.note}]

    class BranchFounded(Moved):
        branch_id: UUID
        name: str
        left_joint: UUID | None  # the joint branch it left to found its own

        def assign(self, track: PartyIncubation) -> None:
            track.branch_kind, track.branch_id, track.branch_name = (
                INDEPENDENT,
                self.branch_id,
                self.name,
            )

    class JointBranchJoined(Moved):
        branch_id: UUID
        name: str

        def assign(self, track: PartyIncubation) -> None:
            track.branch_kind, track.branch_id, track.branch_name = JOINT, self.branch_id, self.name

    class ServiceRecorded(PartyEvent):
        kind: str
        note: str

        def assign(self, track: PartyIncubation) -> None:
            track.services = [
                *track.services,
                {"kind": self.kind, "on": self.on, "note": self.note},
            ]

    class Rated(PartyEvent):
        stars: int
        note: str

        def assign(self, track: PartyIncubation) -> None:
            track.stars, track.rated_on, track.rating_note = self.stars, self.on, self.note

    class StartCorrected(PartyEvent):
        """The organization's entry date was corrected: the track started then."""

        started_on: date
        previous: date

        def apply(self, track: PartyIncubation) -> None:  # not a step of the track's own
            track.last_on, track.started_on = self.on, self.started_on
            track._clocks = deadlines.fold(track._clocks, self)

    class EvaluationNoted(Event, Stamped):
        """The organization's growth review, exit evaluation or (a resident's) service
        evaluation, with this track's stars beside it (四个同步). Saved with the case: a party
        step recorded at the same moment makes one of the two decide again on the fresh state,
        so the exit rule cannot be raced past."""

        on: date
        actor: str
        evaluation: str
        stars: int | None

        def apply(self, track: PartyIncubation) -> None:  # a record, not a step of the track
            pass

    class Closed(Moved):
        org_stage: str  # how the organization's case ended

        def assign(self, track: PartyIncubation) -> None:
            track.ended_on = self.on

    def __init__(self) -> None:
        pass

    # ---- commands -----------------------------------------------------------------------------

    @staticmethod
    def id_for(case_id: UUID) -> UUID:
        return uuid5(PARTY_NAMESPACE, str(case_id))

    @classmethod
    def start(cls, case_id: UUID, org_name: str, site: str, step: Step) -> PartyIncubation:
        return cls._create(
            cls.Started,
            id=cls.id_for(case_id),
            **step.stamp(reason=step.reason),
            case_id=case_id,
            org_name=org_name,
            site=site,
        )

    def record_inspection(self, step: Step, note: str | None) -> None:
        self._move(
            self.InspectionRecorded,
            "record_inspection",
            step,
            note=NOTE.optional(note, "--note"),
        )

    def count_members(
        self,
        step: Step,
        formal: int,
        probationary: int,
        transferred: int,
    ) -> None:
        """A joint branch it belongs to is recounted too (the handler asks the branch)."""
        self._check("count_members", step)
        for option, value in (
            ("--formal", formal),
            ("--probationary", probationary),
            ("--transferred", transferred),
        ):
            MEMBERS.check(value, option)
        if transferred > formal:
            raise Refused(
                "--transferred {transferred} is more than the {formal} formal members: only "
                "formal members' relations are transferred (接转组织关系)",
                field="transferred",
                transferred=transferred,
                formal=formal,
            )
        counted = (formal, probationary, transferred)
        if self.formal is not None and counted == (
            self.formal,
            self.probationary,
            self.transferred,
        ):
            raise Refused(
                "the count is already {formal} formal, {probationary} probationary, "
                "{transferred} transferred; record it again when it changes",
                field="formal",
                formal=formal,
                probationary=probationary,
                transferred=transferred,
            )
        self._move(
            self.MembersCounted,
            "count_members",
            step,
            formal=formal,
            probationary=probationary,
            transferred=transferred,
        )

    def assign_instructor(self, step: Step, instructor: str) -> None:
        instructor = require_text(instructor, "--instructor", "assign-instructor")
        self._check("assign_instructor", step)
        if instructor == self.instructor:
            raise Refused(
                "{instructor} is already the party-building instructor of this track",
                field="instructor",
                instructor=instructor,
            )
        self._record(self.InstructorAssigned, step, instructor=instructor)

    def record_support(self, step: Step, kind: str, note: str) -> None:
        note = require_text(note, "--note", "record-support", NOTE)
        self._check("record_support", step)
        if kind not in SUPPORT_KINDS:
            raise Refused(
                "unknown support kind '{kind}'; kinds: {kinds}",
                field="kind",
                kind=kind,
                kinds=", ".join(SUPPORT_KINDS),
            )
        if self.formal == 0:
            if kind not in SUPPORT_KINDS_WITHOUT_MEMBERS:
                raise Refused(
                    "with no formal party members the support is the instructor's or liaison's "
                    "policy advice: kind {kinds}, "
                    "not '{kind}' (space, training, projects and funds need members)",
                    field="kind",
                    kinds=" or ".join(SUPPORT_KINDS_WITHOUT_MEMBERS),
                    kind=kind,
                )
            self._require_instructor("record-support")
        self._record(self.SupportRecorded, step, kind=kind, note=note)

    def record_development(self, step: Step, note: str) -> None:
        note = require_text(note, "--note", "record-development", NOTE)
        self._check("record_development", step)
        if self.formal == 0:
            self._require_instructor("record-development")
        self._move(self.DevelopmentRecorded, "record_development", step, note=note)

    def found_branch(self, step: Step, name: str, branch_id: UUID | None = None) -> None:
        """Its own branch; it leaves the joint branch it was in (the handler tells the branch)."""
        name = require_text(name, "--name", "found-branch")
        self._check("found_branch", step)
        if self.branch_kind == INDEPENDENT:
            raise Refused(
                "this organization already has its own branch '{branch}'", branch=self.branch_name
            )
        assert self.formal is not None
        if self.formal < BRANCH_MINIMUM:
            if self.branch_kind == JOINT:
                raise Refused(
                    "an independent party branch needs at least {minimum} formal members; "
                    "this organization has {formal}: it is in joint branch '{branch}' and may "
                    "found its own once it has {minimum} (count-members)",
                    minimum=BRANCH_MINIMUM,
                    formal=self.formal,
                    branch=self.branch_name,
                )
            if self.formal:
                raise Refused(
                    "an independent party branch needs at least {minimum} formal members; "
                    "this organization has {formal}: join a joint branch (join-branch)",
                    minimum=BRANCH_MINIMUM,
                    formal=self.formal,
                )
            raise Refused(
                "an independent party branch needs at least {minimum} formal members; "
                "this organization has {formal}: assign an instructor and develop members "
                "(record-development)",
                minimum=BRANCH_MINIMUM,
                formal=self.formal,
            )
        left = self.branch_id if self.branch_kind == JOINT else None
        self._move(
            self.BranchFounded,
            "found_branch",
            step,
            branch_id=branch_id or uuid4(),
            name=name,
            left_joint=left,
        )

    def join_branch(self, step: Step, branch: JointBranch) -> None:
        """`branch` is read (its site and name), not changed: the handler asks it to admit."""
        self._check("join_branch", step)
        assert self.formal is not None
        if not 1 <= self.formal < BRANCH_MINIMUM:
            if self.formal:
                raise Refused(
                    "a joint branch is for organizations with 1 or 2 formal members; this one "
                    "has {formal}: found its own branch (found-branch)",
                    formal=self.formal,
                )
            raise Refused(
                "a joint branch is for organizations with 1 or 2 formal members; this one has "
                "{formal}: assign an instructor and develop members (record-development)",
                formal=self.formal,
            )
        if branch.site != self.site:
            raise Refused(
                "joint branch '{branch}' is at site '{branch_site}'; this organization is "
                "at '{site}' and joins a joint branch of its own site",
                field="branch",
                branch=branch.name,
                branch_site=branch.site,
                site=self.site,
            )
        self._move(
            self.JointBranchJoined, "join_branch", step, branch_id=branch.id, name=branch.name
        )

    def record_service(self, step: Step, kind: str, note: str) -> None:
        note = require_text(note, "--note", "record-service", NOTE)
        self._check("record_service", step)
        if kind not in SERVICE_KINDS:
            raise Refused(
                "unknown service kind '{kind}'; kinds: {kinds}",
                field="kind",
                kind=kind,
                kinds=", ".join(SERVICE_KINDS),
            )
        self._record(self.ServiceRecorded, step, kind=kind, note=note)

    def rate(self, step: Step, stars: int, note: str) -> None:
        note = require_text(note, "--note", "rate", NOTE)
        self._check("rate", step)
        STARS.check(stars, "--stars")
        self._record(self.Rated, step, stars=stars, note=note)

    def note_evaluation(self, step: Step, evaluation: str) -> None:
        if self.is_open:
            self.trigger_event(
                self.EvaluationNoted,
                **step.stamp(),
                evaluation=evaluation,
                stars=self.stars,
            )

    def correct_start(self, step: Step, to: date) -> None:
        """With the organization's corrected entry date (its reason is the case's)."""
        PARTY_WORKFLOW.advance(self.stage, "correct_start")
        if self.first_step_on is not None and to > self.first_step_on:
            raise Refused(
                "the party track recorded a step on {first}; an entry date after "
                "it ({to}) would put that step before the track started",
                field="to",
                first=self.first_step_on,
                to=to,
            )
        self.trigger_event(
            self.StartCorrected,
            **step.stamp(on=max(step.on, self.last_on), reason=step.reason),
            started_on=to,
            previous=self.started_on,
        )

    def close(self, step: Step, org_stage: str) -> None:
        """The organization's case ended: so does its party track (the handler tells its joint
        branch)."""
        stage = PARTY_WORKFLOW.advance(self.stage, "close")
        # never before a step the party track already has
        step = replace(step, on=max(step.on, self.last_on))
        self.trigger_event(
            self.Closed,
            **step.stamp(reason=step.reason),
            stage=stage,
            org_stage=org_stage,
        )

    # ---- what the track knows -----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not PARTY_WORKFLOW.is_final(self.stage)

    def allowed_commands(self) -> list[str]:
        return PARTY_WORKFLOW.allowed(self.stage)

    def deadlines(self, rules: Rules, today: date) -> list[Deadline]:
        """Its member-discovery deadline and its status on `today` (lifecycle/deadlines.py)."""
        return deadlines.deadlines(self._clocks, rules, today, ended=not self.is_open)

    # ---- helpers ------------------------------------------------------------------------------

    def _require_instructor(self, command: str) -> None:
        if self.instructor is None:
            raise Refused(
                "{command}: with no formal party members a party-building instructor or liaison "
                "(党建指导员/联络员) must be assigned first (assign-instructor)",
                command=command,
            )

    def _check(self, command: str, step: Step) -> str:
        stage = PARTY_WORKFLOW.advance(self.stage, command)
        if step.on < self.last_on:
            raise Refused(
                "the date {on} is before the party track's last recorded step on "
                "{last_on}; steps are recorded in date order",
                field="on",
                on=step.on,
                last_on=self.last_on,
            )
        return stage

    def _record(self, event: type[PartyEvent], step: Step, **data: Any) -> None:
        data.setdefault("reason", step.reason)
        self.trigger_event(event, **step.stamp(**data))

    def _move(self, event: type[Moved], command: str, step: Step, **data: Any) -> None:
        stage = self._check(command, step)
        self._record(event, step, stage=stage, **data)
