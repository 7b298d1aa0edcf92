"""The organization incubation case (社会组织孵化): both tracks, incubation and residency.

Command methods check the rules and raise a clear `Refused`; each event's `apply` only assigns
state. The stage after a command comes from the track's shared workflow (lifecycle/stages.py) and is
written into the event, so replay assigns it without asking any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from lifecycle import deadlines
from lifecycle.bounds import MEMBERS, NAME, NOTE, day
from lifecycle.credit_code import credit_code
from lifecycle.deadlines import Deadline
from lifecycle.errors import Refused, Term
from lifecycle.park import LEGAL_STATUSES, Rules, check_legal_status
from lifecycle.party import PartyIncubation
from lifecycle.personal import ERASED, is_erased
from lifecycle.scores import Panel
from lifecycle.stages import INCUBATION, TRACKS, WORKFLOWS
from lifecycle.step import Stamped, Step, require_text

# Fields every event carries besides its own data (see history in commands/queries.py).
STEP_FIELDS = ("on", "actor", "reason", "role", "rehearsal")


class OrganizationCase(Aggregate):
    name: str
    field: str
    legal_status: str
    track: str
    site: str
    contact: str | None  # personal data: reads as ERASED once erased (lifecycle/personal.py)
    party_members: int | None
    personal_data_erased: dict[str, Any] | None  # on, actor: its personal data was erased
    stage: str
    applied_on: date
    inspected_on: date | None  # when the inspection started
    submitted_on: date | None  # the latest submission to the entry evaluation
    evaluated_on: date | None  # the entry evaluation of the latest submission, if any yet
    last_on: date
    caseworker: str | None
    workspace: str | None
    entered_on: date | None
    growth_reviews: list[date]
    exit_on: date | None
    ended_on: date | None
    # 登记/备案: how the legal status moved (unregistered → filed → registered)
    filing: dict[str, Any] | None  # number, authority, on
    registration: dict[str, Any] | None  # credit_code, authority, on
    _clocks: deadlines.Clocks  # its deadlines' clocks, as its events left them

    # ---- events -------------------------------------------------------------------------------

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class ApplicationReceived(Aggregate.Created, Event, Stamped):
        # The contact person (联系人) is a person the park serves: sealed under the case's key.
        personal_data: ClassVar[tuple[str, ...]] = ("contact",)

        on: date
        actor: str
        reason: str | None
        name: str
        field: str
        legal_status: str
        track: str
        site: str
        contact: str | None
        party_members: int | None

        def apply(self, case: OrganizationCase) -> None:
            case.name, case.field, case.legal_status = self.name, self.field, self.legal_status
            case.track, case.site, case.contact = self.track, self.site, self.contact
            case.party_members, case.personal_data_erased = self.party_members, None
            case.stage, case.applied_on, case.last_on = "applied", self.on, self.on
            case.inspected_on = case.submitted_on = case.evaluated_on = None
            case.caseworker = case.workspace = case.entered_on = None
            case.growth_reviews, case.exit_on, case.ended_on = [], None, None
            case.filing = case.registration = None
            case._clocks = deadlines.fold({}, self)

    class CaseImported(ApplicationReceived):
        """A case the park had before it used this system, taken from a row of its records:
        the application (`on` is the day it applied) and where the case stood, and the file
        and row it came from."""

        stage: str
        caseworker: str | None
        workspace: str | None
        inspected_on: date | None
        submitted_on: date | None
        entered_on: date | None  # entered the shell, or admitted as a resident
        reviewed_on: date | None  # the last growth review
        exit_on: date | None
        filing: dict[str, Any] | None  # number, authority
        registration: dict[str, Any] | None  # credit_code, authority
        source_file: str
        source_sha256: str  # of the file's bytes: the same file again imports nothing
        source_row: int

        def apply(self, case: OrganizationCase) -> None:
            super().apply(case)
            case.stage, case.caseworker, case.workspace = self.stage, self.caseworker, None
            case.inspected_on, case.submitted_on = self.inspected_on, self.submitted_on
            case.entered_on = case.evaluated_on = self.entered_on
            case.growth_reviews = [self.reviewed_on] if self.reviewed_on else []
            case.exit_on = self.exit_on
            if self.stage in ("incubating", "resident"):
                case.workspace = self.workspace
            case.filing = None if self.filing is None else {**self.filing, "on": None}
            case.registration = (
                None if self.registration is None else {**self.registration, "on": None}
            )
            case.last_on = max(d for d in self.dates() if d is not None)

        @property
        def stage_on(self) -> date:
            """The day it entered the stage it was imported in."""
            began = {
                "inspecting": self.inspected_on,
                "entry_review": self.submitted_on,
                "incubating": self.entered_on,
                "resident": self.entered_on,
                "follow_up": self.exit_on,
            }.get(self.stage)
            return began or self.on

        def dates(self) -> tuple[date | None, ...]:
            return (
                self.on,
                self.inspected_on,
                self.submitted_on,
                self.entered_on,
                self.reviewed_on,
                self.exit_on,
            )

    class CaseEvent(Event, Stamped):
        on: date
        actor: str
        reason: str | None

        def apply(self, case: OrganizationCase) -> None:
            case.last_on = self.on
            self.assign(case)
            case._clocks = deadlines.fold(case._clocks, self)

        def assign(self, case: OrganizationCase) -> None:
            """What the event changes besides the date of the last step."""

    class Moved(CaseEvent):
        """A step that changes the stage."""

        stage: str

        def apply(self, case: OrganizationCase) -> None:
            case.stage = self.stage
            super().apply(case)

    class Ended(Moved):
        """A step that ends the case; it releases the workspace it held."""

        def apply(self, case: OrganizationCase) -> None:
            case.ended_on, case.workspace = self.on, None
            super().apply(case)

    class InspectionStarted(Moved):
        def assign(self, case: OrganizationCase) -> None:
            case.inspected_on = self.on

    class CaseworkerAssigned(CaseEvent):
        caseworker: str

        def assign(self, case: OrganizationCase) -> None:
            case.caseworker = self.caseworker

    class SiteVisitRecorded(CaseEvent):
        note: str

    class SubmittedForEntry(Moved):
        def assign(self, case: OrganizationCase) -> None:
            case.submitted_on, case.evaluated_on = self.on, None

    class EntryApproved(Moved):
        scores: dict[str, Decimal]
        mean: Decimal
        pass_mark: Decimal
        workspace: str

        def assign(self, case: OrganizationCase) -> None:
            case.workspace, case.entered_on = self.workspace, self.on
            case.evaluated_on = self.on

    class EntryDeclined(Moved):
        scores: dict[str, Decimal]
        mean: Decimal
        pass_mark: Decimal

        def assign(self, case: OrganizationCase) -> None:
            case.evaluated_on = self.on

    class CoachingResumed(Moved):
        pass

    class GrowthReviewRecorded(CaseEvent):
        scores: dict[str, Decimal]
        mean: Decimal
        party_stars: int | None = None  # the party organization's star rating beside it (四个同步)

        def assign(self, case: OrganizationCase) -> None:
            case.growth_reviews = [*case.growth_reviews, self.on]

    class EntryDateCorrected(CaseEvent):
        entered_on: date
        previous: date

        def assign(self, case: OrganizationCase) -> None:
            case.entered_on = self.entered_on

    class ExitApproved(Moved):
        scores: dict[str, Decimal]
        mean: Decimal
        pass_mark: Decimal
        late: bool
        party_stars: int | None = None

        def assign(self, case: OrganizationCase) -> None:
            case.exit_on, case.workspace = self.on, None

    class ExitFailed(Ended):
        scores: dict[str, Decimal]
        mean: Decimal
        pass_mark: Decimal
        late: bool
        party_stars: int | None = None

        def assign(self, case: OrganizationCase) -> None:
            case.exit_on = self.on

    class FollowUpServiceRecorded(CaseEvent):
        service: str

    class CaseClosed(Ended):
        early: bool

    class ApplicationRejected(Ended):
        pass

    class Withdrawn(Ended):
        pass

    class Terminated(Ended):
        pass

    class ResidentAdmitted(Moved):
        workspace: str

        def assign(self, case: OrganizationCase) -> None:
            case.workspace, case.entered_on = self.workspace, self.on

    class ServiceEvaluationRecorded(CaseEvent):
        scores: dict[str, Decimal]
        mean: Decimal
        party_stars: int | None = None  # the party organization's star rating beside it (四个同步)

    class Departed(Ended):
        pass

    class FilingRecorded(CaseEvent):
        """备案: filed with a community-level authority (no legal personality)."""

        number: str
        authority: str

        def assign(self, case: OrganizationCase) -> None:
            case.legal_status = "filed"
            case.filing = {"number": self.number, "authority": self.authority, "on": self.on}

    class RegistrationRecorded(CaseEvent):
        """登记: registered with the civil-affairs bureau, under its unified social credit
        code."""

        credit_code: str
        authority: str

        def assign(self, case: OrganizationCase) -> None:
            case.legal_status = "registered"
            case.registration = {
                "credit_code": self.credit_code,
                "authority": self.authority,
                "on": self.on,
            }

    class LegalStatusCorrected(CaseEvent):
        """A wrongly recorded legal status put right, with a reason: the only way it moves
        back. What was recorded above the corrected status no longer holds."""

        legal_status: str
        previous: str

        def assign(self, case: OrganizationCase) -> None:
            case.legal_status = self.legal_status
            if self.legal_status != "registered":
                case.registration = None
            if self.legal_status == "unregistered":
                case.filing = None

    class RegistrationHelpRecorded(CaseEvent):
        """注册协助: the park helped the organization towards filing or registration."""

        note: str

    class PartyTrackStarted(CaseEvent):
        """The party track of a case that entered before tracks started by themselves."""

        party_track: UUID

    class PersonalDataErased(Event, Stamped):
        """个人信息删除: the personal data of the case's data subject (its contact person) was
        erased at their request: the key it was sealed under is destroyed. No step of the case:
        its stage, dates and deadlines stay as they were."""

        on: date
        actor: str
        reason: str
        fields: list[str]  # the personal fields that read as erased from now on

        def apply(self, case: OrganizationCase) -> None:
            for name in self.fields:
                if getattr(case, name) is not None:
                    setattr(case, name, ERASED)
            case.personal_data_erased = {"on": self.on, "actor": self.actor}

    def __init__(self) -> None:
        pass

    # ---- commands -----------------------------------------------------------------------------

    @classmethod
    def apply_for(
        cls,
        step: Step,
        *,
        name: str,
        field: str,
        legal_status: str,
        track: str,
        site: str,
        contact: str | None = None,
        party_members: int | None = None,
        case_id: UUID | None = None,
    ) -> OrganizationCase:
        """A new case in `applied`. Field, site and legal status are checked by the park first."""
        if track not in TRACKS:
            raise Refused(
                "unknown track '{track}'; allowed: {allowed}",
                field="track",
                track=track,
                allowed=", ".join(TRACKS),
            )
        if party_members is not None:
            MEMBERS.check(party_members, "--party-members")
        return cls._create(
            cls.ApplicationReceived,
            id=case_id or uuid4(),
            **step.stamp(reason=step.reason),
            name=require_text(name, "--name", "apply"),
            field=field,
            legal_status=legal_status,
            track=track,
            site=site,
            contact=NAME.optional(contact, "--contact"),
            party_members=party_members,
        )

    @classmethod
    def import_case(
        cls, step: Step, record: ImportedRecord, rules: Rules, source: ImportSource
    ) -> OrganizationCase:
        """A case the park had already, as a row of its records says it stands (the park has
        checked the field, site and workspace). Refused, naming the field, when the record
        breaks a rule the commands would have kept."""
        record.check(rules, step.on)
        return cls._create(
            cls.CaseImported,
            id=source.case_id,
            **step.stamp(on=record.applied_on, reason=None),
            name=record.name,
            field=record.field,
            legal_status=record.legal_status,
            track=record.track,
            site=record.site,
            contact=record.contact,
            party_members=record.party_members,
            stage=record.stage,
            caseworker=record.caseworker,
            workspace=record.workspace,
            inspected_on=record.inspected_on,
            submitted_on=record.submitted_on,
            entered_on=record.entered_on,
            reviewed_on=record.reviewed_on,
            exit_on=record.exit_on,
            filing=record.filing(),
            registration=record.registration(),
            source_file=source.file,
            source_sha256=source.sha256,
            source_row=source.row,
        )

    def start_inspection(self, step: Step) -> None:
        self._move(self.InspectionStarted, "start_inspection", step)

    def assign_caseworker(self, step: Step, caseworker: str) -> None:
        caseworker = require_text(caseworker, "--caseworker", "assign")
        self._check("assign", step)
        if caseworker == self.caseworker:
            raise Refused(
                "{caseworker} is already the caseworker of this case",
                field="caseworker",
                caseworker=caseworker,
            )
        self._record(self.CaseworkerAssigned, step, caseworker=caseworker)

    def record_visit(self, step: Step, note: str) -> None:
        note = require_text(note, "--note", "record-visit", NOTE)
        self._check("record_visit", step)
        self._record(self.SiteVisitRecorded, step, note=note)

    def submit_for_entry(self, step: Step) -> None:
        self._move(self.SubmittedForEntry, "submit_for_entry", step)

    def evaluate_entry(self, step: Step, panel: Panel, rules: Rules, workspace: str | None) -> bool:
        """Declined, or entered (True): then it holds `workspace`, which the workspace itself
        must allow, and its party track starts (the handler asks each)."""
        self._check("evaluate_entry", step)
        panel.check_size(rules.min_experts, Term("the entry evaluation"))
        passed = panel.passes(rules.pass_mark)
        grades = _grades(panel, rules)
        if not passed:
            self._move(
                self.EntryDeclined,
                "evaluate_entry",
                step,
                passed=False,
                reason=step.reason or _failure(panel, rules),
                **grades,
            )
            return False
        if workspace is None:
            raise Refused(
                "the entry evaluation passes (mean {mean} ≥ {pass_mark}): "
                "name a free workspace at site '{site}' with --workspace",
                field="workspace",
                mean=panel.mean,
                pass_mark=rules.pass_mark,
                site=self.site,
            )
        self._move(
            self.EntryApproved, "evaluate_entry", step, passed=True, workspace=workspace, **grades
        )
        return True

    def resume_coaching(self, step: Step) -> None:
        self._move(self.CoachingResumed, "resume_coaching", step)

    def record_growth_review(self, step: Step, panel: Panel, party_stars: int | None) -> None:
        what = Term("a growth review")
        self._review(
            self.GrowthReviewRecorded, "record_growth_review", what, step, panel, party_stars
        )

    def _review(
        self,
        event: type[CaseEvent],
        command: str,
        what: str,
        step: Step,
        panel: Panel,
        stars: int | None,
    ) -> None:
        """A review that leaves the stage as it is (a growth review, a resident's service
        evaluation), from one expert or more, with the party organization's current star
        rating beside it (四个同步)."""
        self._check(command, step)
        panel.check_size(1, what)
        self._record(event, step, scores=panel.scores, mean=panel.mean, party_stars=stars)

    def correct_entry_date(self, step: Step, to: date, rules: Rules) -> None:
        """Moves the entry date and every deadline that hangs on it (the party track's start
        moves with it: the handler asks the track too)."""
        self._check("correct_entry_date", step)
        reason = step.require_reason(
            "correct-entry-date needs --reason saying why the date was wrong"
        )
        assert self.entered_on is not None
        day(to, "--to")
        if to == self.entered_on:
            raise Refused("the entry date is already {to}", field="to", to=to)
        earliest = self.submitted_on or self.applied_on
        latest = min([*self.growth_reviews, *([self.exit_on] if self.exit_on else []), step.on])
        if not earliest <= to <= latest:
            raise Refused(
                "the entry date must lie between {earliest} (when the case was submitted for "
                "entry, or applied) and {latest} (the first step recorded after entry, or "
                "today's step); got {to}",
                field="to",
                earliest=earliest,
                latest=latest,
                to=to,
            )
        if self.exit_on is not None and self.exit_on < rules.exit_opens(to):
            raise Refused(
                "with entry on {to} the exit evaluation window would open on "
                "{opens}, after the exit evaluation recorded on {exit_on}",
                field="to",
                to=to,
                opens=rules.exit_opens(to),
                exit_on=self.exit_on,
            )
        self._record(
            self.EntryDateCorrected, step, reason=reason, entered_on=to, previous=self.entered_on
        )

    def evaluate_exit(
        self, step: Step, panel: Panel, rules: Rules, party: PartyIncubation | None
    ) -> None:
        """`party`, the case's party track, is read (its rating goes with the exit), not changed."""
        self._check("evaluate_exit", step)
        assert self.entered_on is not None
        if not self.growth_reviews:
            raise Refused(
                "the exit evaluation needs at least one growth review first (record-growth-review)"
            )
        opens, due = rules.exit_opens(self.entered_on), rules.exit_due(self.entered_on)
        if step.on < opens:
            raise Refused(
                "the exit evaluation opens on {opens}, {days} days before the "
                "in-shell period ends on {due}; {on} is too early "
                "(to end early, terminate or withdraw with a reason)",
                field="on",
                opens=opens,
                days=rules.exit_window_days,
                due=due,
                on=step.on,
            )
        last_review = self.growth_reviews[-1]
        if (
            party is not None
            and party.stage == "follow_up"
            and (party.rated_on is None or not last_review <= party.rated_on <= step.on)
        ):
            if party.rated_on:
                raise Refused(
                    "the exit evaluation and the party organization's star rating go together "
                    "(四个同步): its party organization is in follow-up and has no star rating "
                    "since the last growth review on {review} up to {on} (the last was on "
                    "{rated_on}); rate it first: incubator party rate ORG --stars N --note T",
                    review=last_review,
                    on=step.on,
                    rated_on=party.rated_on,
                )
            raise Refused(
                "the exit evaluation and the party organization's star rating go together "
                "(四个同步): its party organization is in follow-up and has no star rating "
                "since the last growth review on {review}; rate it first: "
                "incubator party rate ORG --stars N --note T",
                review=last_review,
            )
        panel.check_size(rules.min_experts, Term("the exit evaluation"))
        passed = panel.passes(rules.pass_mark)
        grades = _grades(panel, rules)
        event = self.ExitApproved if passed else self.ExitFailed
        reason = step.reason if passed else (step.reason or _failure(panel, rules))
        self._move(
            event,
            "evaluate_exit",
            step,
            passed=passed,
            reason=reason,
            late=step.on > deadlines.BY_KIND[deadlines.EXIT_EVALUATION].due(rules, self.entered_on),
            party_stars=party.stars if party else None,
            **grades,
        )

    def record_follow_up(self, step: Step, service: str) -> None:
        service = require_text(service, "--service", "record-follow-up", NOTE)
        self._check("record_follow_up", step)
        self._record(self.FollowUpServiceRecorded, step, service=service)

    def close_case(self, step: Step, rules: Rules) -> None:
        self._check("close", step)
        assert self.exit_on is not None
        ends = rules.follow_up_end(self.exit_on)
        early = step.on < ends
        if early:
            step.require_reason(
                "close needs --reason explaining the early close: the follow-up year ends on "
                "{ends}",
                ends=ends,
            )
        self._move(self.CaseClosed, "close", step, early=early)

    def reject(self, step: Step) -> None:
        self._end(self.ApplicationRejected, "reject", step)

    def withdraw(self, step: Step) -> None:
        self._end(self.Withdrawn, "withdraw", step)

    def terminate(self, step: Step) -> None:
        self._end(self.Terminated, "terminate", step)

    def admit(self, step: Step, workspace: str) -> None:
        """A resident holds `workspace` (which the workspace itself must allow) and its party
        track starts (the handler asks each)."""
        self._check("admit", step)
        self._check_registered_to_reside()
        self._move(self.ResidentAdmitted, "admit", step, workspace=workspace)

    def _check_registered_to_reside(self) -> None:
        """The residency area (入驻区) takes mature, registered organizations ("成熟的、已注册的
        社会组织"); start-up teams and filed groups are incubated, or register first."""
        if self.legal_status != "registered":
            raise Refused(
                "{name} is {status}: the residency area admits registered organizations "
                "(登记); record its registration first (record-registration), or apply on the "
                "incubation track",
                name=self.name,
                status=Term(self.legal_status),
            )

    def record_service_evaluation(self, step: Step, panel: Panel, party_stars: int | None) -> None:
        what = Term("a service evaluation")
        event, command = self.ServiceEvaluationRecorded, "record_service_evaluation"
        self._review(event, command, what, step, panel, party_stars)

    def depart(self, step: Step) -> None:
        self._end(self.Departed, "depart", step)

    # ---- legal status (登记/备案) -------------------------------------------------------------

    def record_filing(self, step: Step, number: str, authority: str) -> None:
        """unregistered → filed (备案)."""
        number = require_text(number, "--number", "record-filing")
        authority = require_text(authority, "--authority", "record-filing")
        self._check("record_filing", step)
        self._moving_status_to("filed")
        self._record(self.FilingRecorded, step, number=number, authority=authority)

    def record_registration(self, step: Step, code: str, authority: str) -> None:
        """unregistered or filed → registered (登记), under its unified social credit code."""
        code = credit_code(code)
        authority = require_text(authority, "--authority", "record-registration")
        self._check("record_registration", step)
        self._moving_status_to("registered")
        self._record(self.RegistrationRecorded, step, credit_code=code, authority=authority)

    def correct_legal_status(self, step: Step, to: str) -> None:
        """A wrongly recorded legal status, put right: in either direction, with a reason."""
        to = check_legal_status(to)
        self._check("correct_legal_status", step)
        reason = step.require_reason(
            "correct-legal-status needs --reason saying why the legal status was wrong"
        )
        if to == self.legal_status:
            raise Refused("the legal status is already {status}", field="to", status=Term(to))
        self._record(
            self.LegalStatusCorrected,
            step,
            reason=reason,
            legal_status=to,
            previous=self.legal_status,
        )

    def record_registration_help(self, step: Step, note: str) -> None:
        """注册协助: the park's help towards filing or registration, a recorded service."""
        note = require_text(note, "--note", "record-registration-help", NOTE)
        self._check("record_registration_help", step)
        if self.legal_status == "registered":
            raise Refused(
                "{name} is registered already (credit code {code}): registration help is for "
                "an organization that is unregistered or filed",
                name=self.name,
                code=(self.registration or {}).get("credit_code", "—"),
            )
        self._record(self.RegistrationHelpRecorded, step, note=note)

    def _moving_status_to(self, status: str) -> None:
        """A legal status moves only forward: unregistered → filed → registered."""
        order = LEGAL_STATUSES.index
        if order(status) > order(self.legal_status):
            return
        if status == self.legal_status:
            raise Refused(
                "{name} is {status} already; a legal status moves only forward "
                "(unregistered → filed → registered)",
                name=self.name,
                status=Term(status),
            )
        raise Refused(
            "{name} is {current}: a legal status never moves back to {status} "
            "(unregistered → filed → registered), except by a correction with a reason: "
            "incubator org correct-legal-status ORG --to {status} --reason R",
            name=self.name,
            current=Term(self.legal_status),
            status=Term(status),
        )

    def record_party_track_started(
        self, step: Step, track_id: UUID, existing: PartyIncubation | None
    ) -> None:
        """The party track `track_id` of a case that entered before tracks started by
        themselves starts now (the handler starts it); `existing` is the one it has, if any."""
        if self.entered_on is None or not self.is_open:
            raise Refused(
                "{name} is in stage '{stage}': a party track starts when an "
                "organization enters the shell or is admitted, and only while its case is open",
                name=self.name,
                stage=self.stage,
            )
        if existing is not None:
            raise Refused("{name} already has its party track (it starts once)", name=self.name)
        if step.on < self.entered_on:
            raise Refused(
                "the party track cannot start before the entry on {entered_on}",
                field="on",
                entered_on=self.entered_on,
            )
        self._check("start_party_track", step)  # and never before the case's last step
        self._record(self.PartyTrackStarted, step, party_track=track_id)

    # ---- personal data (个人信息) ----------------------------------------------------------------

    def erase_personal_data(self, step: Step) -> list[str]:
        """The personal fields to erase (the handler destroys the key they are sealed under);
        refused when the case holds none, or they were erased already."""
        reason = step.require_reason(
            "erasing personal data needs --reason: the data subject's request, or the rule "
            "that requires it"
        )
        if self.personal_data_erased is not None:
            raise Refused(
                "the personal data of {name} was erased on {on} by {actor}; there is nothing "
                "left to erase",
                name=self.name,
                on=self.personal_data_erased["on"],
                actor=self.personal_data_erased["actor"],
            )
        # A field that reads as erased already (its key destroyed by an erasure that could
        # not be recorded) is recorded as erased now.
        held = [name for name in self.ApplicationReceived.personal_data if getattr(self, name)]
        if not held:
            raise Refused(
                "{name} holds no personal data (no contact person was recorded); "
                "there is nothing to erase",
                name=self.name,
            )
        self.trigger_event(self.PersonalDataErased, **step.stamp(reason=reason, fields=held))
        return held

    @property
    def holds_personal_data(self) -> bool:
        """Whether it holds personal data not erased (what an erasure would act on)."""
        return self.personal_data_erased is None and any(
            getattr(self, name) and not is_erased(getattr(self, name))
            for name in self.ApplicationReceived.personal_data
        )

    # ---- what the case knows ------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not WORKFLOWS[self.track].is_final(self.stage)

    @property
    def is_incubation(self) -> bool:
        return self.track == INCUBATION

    def allowed_commands(self) -> list[str]:
        return WORKFLOWS[self.track].allowed(self.stage)

    def deadlines(self, rules: Rules, today: date) -> list[Deadline]:
        """Its deadlines and their status on `today` (lifecycle/deadlines.py)."""
        return deadlines.deadlines(self._clocks, rules, today, ended=not self.is_open)

    # ---- helpers ------------------------------------------------------------------------------

    def _check(self, command: str, step: Step, *, passed: bool = False) -> str:
        """The stage `command` leads to; refuses a wrong stage or an out-of-order date."""
        stage = WORKFLOWS[self.track].advance(self.stage, command, passed=passed)
        if step.on < self.last_on:
            raise Refused(
                "the date {on} is before this case's last recorded step on "
                "{last_on}; steps are recorded in date order",
                field="on",
                on=step.on,
                last_on=self.last_on,
            )
        return stage

    def _record(self, event: type[CaseEvent], step: Step, **data: Any) -> None:
        data.setdefault("reason", step.reason)
        self.trigger_event(event, **step.stamp(**data))

    def _move(
        self, event: type[Moved], command: str, step: Step, *, passed: bool = False, **data: Any
    ) -> None:
        stage = self._check(command, step, passed=passed)
        self._record(event, step, stage=stage, **data)

    def _end(self, event: type[Ended], command: str, step: Step) -> None:
        self._check(command, step)
        reason = step.require_reason("{command} needs --reason saying why", command=command)
        self._move(event, command, step, reason=reason)


# ---- a park's existing records --------------------------------------------------------------

IMPORT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:incubator:imported-case")
# The stages a case may be imported in (an ended case stays in the park's old records), and the
# dates each needs: the ones that started its pending clocks and the steps its next commands
# check (an exit needs a growth review before it).
IMPORTED_STAGES: dict[str, tuple[str, ...]] = {
    "incubation": ("applied", "inspecting", "entry_review", "incubating", "follow_up"),
    "residency": ("applied", "resident"),
}
NEEDS: dict[str, tuple[str, ...]] = {
    "applied": (),
    "inspecting": ("inspected_on",),
    "entry_review": ("submitted_on",),
    "incubating": ("entered_on",),
    "follow_up": ("entered_on", "reviewed_on", "exit_on"),
    "resident": ("entered_on",),
}
# The dates a stage may have, in the order they happen.
DATES = ("applied_on", "inspected_on", "submitted_on", "entered_on", "reviewed_on", "exit_on")
HAS: dict[str, tuple[str, ...]] = {
    "applied": ("applied_on",),
    "inspecting": ("applied_on", "inspected_on"),
    "entry_review": ("applied_on", "inspected_on", "submitted_on"),
    "incubating": ("applied_on", "inspected_on", "submitted_on", "entered_on", "reviewed_on"),
    "follow_up": DATES,
    "resident": ("applied_on", "entered_on"),
}
DATE_NAMES = {
    "applied_on": Term("the application date"),
    "inspected_on": Term("the date the inspection started"),
    "submitted_on": Term("the date it was submitted for the entry evaluation"),
    "entered_on": Term("the entry (or admission) date"),
    "reviewed_on": Term("the date of the last growth review"),
    "exit_on": Term("the exit date"),
}


@dataclass(frozen=True)
class ImportSource:
    """Where an imported case came from: the file, its sha256 and the row."""

    file: str
    sha256: str
    row: int

    @property
    def case_id(self) -> UUID:
        """The same row of the same file is the same case: importing it again finds it."""
        return uuid5(IMPORT_NAMESPACE, f"{self.sha256}:{self.row}")


@dataclass(frozen=True)
class ImportedRecord:
    """A case as a park's records give it (bounds checked by the message that carries it)."""

    name: str
    field: str
    legal_status: str
    track: str
    site: str
    stage: str
    applied_on: date
    inspected_on: date | None = None
    submitted_on: date | None = None
    entered_on: date | None = None
    reviewed_on: date | None = None
    exit_on: date | None = None
    workspace: str | None = None
    caseworker: str | None = None
    contact: str | None = None
    party_members: int | None = None
    filing_number: str | None = None
    filing_authority: str | None = None
    credit_code: str | None = None
    registration_authority: str | None = None

    def check(self, rules: Rules, today: date) -> None:
        """The rules the commands would have kept on the way to this stage."""
        if self.track not in TRACKS:
            raise Refused(
                "unknown track '{track}'; allowed: {allowed}",
                field="track",
                track=self.track,
                allowed=", ".join(TRACKS),
            )
        stages = IMPORTED_STAGES[self.track]
        if self.stage not in stages:
            raise Refused(
                "a case of the {track} track is imported in one of the stages {allowed}, "
                "not '{stage}' (an ended case stays in the park's old records)",
                field="stage",
                track=Term(self.track),
                stage=self.stage,
                allowed=", ".join(stages),
            )
        self._check_dates(rules, today)
        self._check_workspace()
        self._check_legal_status()
        if self.party_members is not None:
            MEMBERS.check(self.party_members, "--party-members")

    def _check_dates(self, rules: Rules, today: date) -> None:
        given = {name: getattr(self, name) for name in DATES}
        for name in NEEDS[self.stage]:
            if given[name] is None:
                raise Refused(
                    "a case in stage '{stage}' needs {date}",
                    field=name,
                    stage=self.stage,
                    date=DATE_NAMES[name],
                )
        for name, value in given.items():
            if value is not None and name not in HAS[self.stage]:
                raise Refused(
                    "a case in stage '{stage}' has no {date} (it has not got that far); "
                    "leave it empty",
                    field=name,
                    stage=self.stage,
                    date=DATE_NAMES[name],
                )
        known = [(name, value) for name, value in given.items() if value is not None]
        for name, value in known:
            day(value, name)
            if value > today:
                raise Refused(
                    "{date} {on} is in the future (today is {today})",
                    field=name,
                    date=DATE_NAMES[name],
                    on=value,
                    today=today,
                )
        for (before, earlier), (after, later) in pairwise(known):
            if later < earlier:
                raise Refused(
                    "{later_date} {later} is before {earlier_date} {earlier}; the steps of a "
                    "case happen in this order: application, inspection, submission, entry, "
                    "growth review, exit",
                    field=after,
                    later_date=DATE_NAMES[after],
                    later=later,
                    earlier_date=DATE_NAMES[before],
                    earlier=earlier,
                )
        if self.exit_on is not None and self.entered_on is not None:
            opens = rules.exit_opens(self.entered_on)
            if self.exit_on < opens:
                raise Refused(
                    "the exit evaluation opens on {opens}, {days} days before the in-shell "
                    "period that began on {entered_on} ends; an exit on {exit_on} is too early",
                    field="exit_on",
                    opens=opens,
                    days=rules.exit_window_days,
                    entered_on=self.entered_on,
                    exit_on=self.exit_on,
                )

    def _check_workspace(self) -> None:
        holds = self.stage in ("incubating", "resident")
        if holds and self.workspace is None:
            raise Refused(
                "a case in stage '{stage}' holds a workspace: name it",
                field="workspace",
                stage=self.stage,
            )
        if not holds and self.workspace is not None:
            raise Refused(
                "a case in stage '{stage}' holds no workspace (only incubating and resident "
                "ones do); leave it empty",
                field="workspace",
                stage=self.stage,
            )

    def _check_legal_status(self) -> None:
        status = check_legal_status(self.legal_status)
        pairs = (
            ("filing_number", "filing_authority", ("filed", "registered"), Term("a filing")),
            ("credit_code", "registration_authority", ("registered",), Term("a registration")),
        )
        for number, authority, statuses, what in pairs:
            given = [getattr(self, number), getattr(self, authority)]
            if any(given) and status not in statuses:
                raise Refused(
                    "{what} belongs to a legal status of {statuses}, not {status}",
                    field=number if given[0] else authority,
                    what=what,
                    statuses=", ".join(statuses),
                    status=Term(status),
                )
            if any(given) and not all(given):
                missing = number if given[0] is None else authority
                raise Refused(
                    "{what} needs both its number and its authority", field=missing, what=what
                )
        if self.credit_code is not None:
            credit_code(self.credit_code, "credit_code")

    def filing(self) -> dict[str, Any] | None:
        if self.filing_number is None:
            return None
        return {"number": self.filing_number, "authority": self.filing_authority}

    def registration(self) -> dict[str, Any] | None:
        if self.credit_code is None:
            return None
        return {"credit_code": self.credit_code, "authority": self.registration_authority}


def _grades(panel: Panel, rules: Rules) -> dict[str, Any]:
    return {"scores": panel.scores, "mean": panel.mean, "pass_mark": rules.pass_mark}


def _failure(panel: Panel, rules: Rules) -> str:
    scores = ", ".join(f"{e} {s}" for e, s in panel.scores.items())
    mean = (
        panel.mean if panel.mean < rules.pass_mark else panel.exact_mean.quantize(Decimal("0.0001"))
    )  # 59.997 is shown as 59.9967, not as a passing 60.00
    return f"mean score {mean} below the pass mark {rules.pass_mark} ({scores})"
