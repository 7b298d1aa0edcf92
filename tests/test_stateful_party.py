"""A state machine drives both tracks at once: organization cases and their party-branch tracks
(社会组织党组织孵化), with the joint branches (联合党支部), through the real services on a real
SQLite file, checked against a model of its own after every step.

The model is written from the rules, not from lifecycle/party.py or lifecycle/stages.py:

- 入驻一家, 覆盖一家: a case that enters (evaluate-entry passes, or admit) gets exactly one party
  track, started on its entry date; a case that never entered has none;
- the party stages: entry_inspection -> member_discovery -> support -> formation -> follow_up,
  and closed when the case ends (a failed exit, withdraw or terminate while incubating, close,
  depart), dated no earlier than the track's last step; the track leaves its joint branch then;
- which party commands each stage allows, the date order of a track's steps, the member counts
  (never negative, transferred at most formal, a recount must change something), support and
  development with no formal members (policy advice only, and an instructor first);
- branches: an independent branch needs 3 or more formal members (an organization in a joint
  branch that grew to 3 may leave it to found its own); a joint branch takes organizations with
  1 or 2, of its own site, not before the day it was created; a recount of a member updates the
  branch; a joint branch is constituted while its members' total is 3 or more;
- 四个同步: the exit evaluation is refused while the party track is in follow-up and has no star
  rating dated from the last growth review to the exit's date, and the growth review and the
  exit carry the party's current stars;
- party coverage: the organizations in the park (incubating, follow_up, resident), those with a
  party track, their formal members, their independent branches and the joint branches with at
  least one member, for the whole park and for each site.

After every command: a refusal left the log as it was, and the service accepted or refused
exactly as the model predicts (WrongStage and NotFound where the model says). Whenever the log
has grown: every case, party track and joint branch agrees with the model (stages, dates,
counts, members, versions), and the party coverage read model agrees after catching up.

Dates: the model keeps one "today" that only moves forward (never past the clock's today); a
step is dated today, or now and then a few days back (to be refused when that is before the
aggregate's last step, or before a joint branch was created). The exit evaluation jumps today
into the case's exit window.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, cast
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from commands.bootstrap import Incubator, bootstrap
from commands.service import Who
from lifecycle.deadlines import deadlines_of
from lifecycle.errors import NotFound, Refused, WrongStage
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from schedules.clock import FixedClock
from tests.conftest import NOW
from tests.test_stateful import (
    ALLOWED,
    EXIT_WINDOW_DAYS,
    FOLLOW_UP_MONTHS,
    IN_SHELL_MONTHS,
    TODAY,
    add_months,
)

START = date(2019, 1, 1)  # the model's first "today"
ACTOR = "王芳"
MAX_ORGS = 9  # applications stop for good after this many...
MAX_OPEN = 5  # ...and while this many cases are open
COVERAGE_EVERY = 3  # the coverage read model is compared after every 3rd change, and at the end

# The model's own copy of the party rules.
PARTY_OPEN = ("entry_inspection", "member_discovery", "support", "formation", "follow_up")
PARTY_ALLOWED: dict[str, tuple[str, ...]] = {
    "record_inspection": ("entry_inspection",),
    "count_members": ("member_discovery", "support", "formation", "follow_up"),
    "assign_instructor": PARTY_OPEN,
    "record_support": ("support", "formation"),
    "record_development": ("support", "formation"),
    "found_branch": ("support", "formation", "follow_up"),
    "join_branch": ("support", "formation"),
    "record_service": ("follow_up",),
    "rate": ("follow_up",),
}
BRANCH_MINIMUM = 3
SUPPORT_KINDS = ("space", "instructor", "training", "information", "project", "funds")
ADVICE_KINDS = ("instructor", "information")  # the only support with no formal members
SERVICE_KINDS = ("joint_meeting", "model_selection", "project_priority")
IN_THE_PARK = ("incubating", "follow_up", "resident")
ENDED_BY = {  # org commands that end a case, and the stage they end it in
    "reject": "rejected",
    "withdraw": "withdrawn",
    "terminate": "terminated",
    "depart": "departed",
}

# A small pool of workspaces per site.
POOL: dict[str, tuple[str, ...]] = {
    "main": ("M-01", "M-02", "M-03", "M-04"),
    "branch": ("B-01", "B-02"),
}
SITES = tuple(POOL)
PASSING = ("王芳=78", "李强=82", "张敏=70")
FAILING = ("王芳=40", "李强=58", "张敏=61")

# Inputs.
DAYS_PASS = st.integers(0, 12)  # how far "today" moves before a step
BACK = st.sampled_from((0, 0, 0, 0, 0, 0, 0, 1, 3, 30))  # a step dated this many days back
NOTES = st.sampled_from(("走访", "开展主题党日", " "))
INSTRUCTORS = st.sampled_from(("李书记", "赵指导员", " "))
BRANCH_NAMES = ("联合一支部", "联合二支部")
STARS = st.sampled_from((1, 2, 3, 4, 5, 5, 0, 6))
REASONS = st.sampled_from(("服务结束", "服务结束", "负责人变更", None))

PARTY_ARGS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "assign_instructor": {"instructor": INSTRUCTORS},
    "count_members": {
        "formal": st.sampled_from((0, 1, 2, 3, 4, 0, 1, 2, 3, 4, -1)),
        "probationary": st.sampled_from((0, 0, 1, 2)),
        "transferred": st.sampled_from((0, 0, 0, 1, 2)),
    },
    "found_branch": {"name": st.sampled_from(("党支部", "党支部", " "))},
    "join_branch": {},
    "rate": {"stars": STARS, "note": NOTES},
    "record_development": {"note": NOTES},
    "record_inspection": {"note": st.sampled_from(("入壳考察", None, " "))},
    "record_service": {"kind": st.sampled_from((*SERVICE_KINDS, "bogus")), "note": NOTES},
    "record_support": {
        "kind": st.sampled_from((*SUPPORT_KINDS, *ADVICE_KINDS, "bogus")),
        "note": NOTES,
    },
}
assert PARTY_ARGS.keys() == PARTY_ALLOWED.keys()

Outcome = Literal["ok", "guard", "missing", "wrong_stage", "refused", "sync"]
#   ok          recorded;
#   guard       refused by an input check that runs first (any Refused);
#   missing     NotFound (no party track yet, or no such joint branch);
#   wrong_stage WrongStage;
#   refused     refused by a rule checked after the stage (not WrongStage, not NotFound, and
#               not the 四个同步 refusal);
#   sync        the exit evaluation refused for want of a party star rating (四个同步).


def has_text(text: str | None) -> bool:
    return text is not None and bool(text.strip())


@dataclass
class Party:
    """What the model believes about a party track."""

    started_on: date
    last_on: date
    version: int = 1
    stage: str = "entry_inspection"
    inspected: bool = False
    formal: int | None = None
    probationary: int = 0
    transferred: int = 0
    instructor: str | None = None
    branch_kind: str | None = None
    branch_name: str | None = None
    joint: tuple[str, str] | None = None  # (site, name) of its joint branch
    stars: int | None = None
    rated_on: date | None = None
    ended_on: date | None = None
    supports: int = 0
    developments: int = 0
    services: int = 0

    @property
    def is_open(self) -> bool:
        return self.stage != "closed"


@dataclass
class Org:
    """What the model believes about an organization case."""

    id: UUID
    name: str
    track: str
    site: str
    stage: str
    last_on: date
    version: int = 1
    workspace: str | None = None
    entered_on: date | None = None
    reviews: list[date] = field(default_factory=list)
    exit_on: date | None = None
    party: Party | None = None

    def allows(self, command: str) -> bool:
        return self.stage in ALLOWED[self.track].get(command, ())

    @property
    def is_open(self) -> bool:
        return any(self.stage in stages for stages in ALLOWED[self.track].values())

    def exit_opens(self) -> date | None:
        if self.entered_on is None:
            return None
        return add_months(self.entered_on, IN_SHELL_MONTHS) - timedelta(days=EXIT_WINDOW_DAYS)

    def party_allows(self, command: str) -> bool:
        return self.party is not None and self.party.stage in PARTY_ALLOWED[command]


@dataclass
class Joint:
    """What the model believes about a joint branch."""

    id: UUID
    site: str
    name: str
    opened_on: date
    version: int = 1
    members: dict[str, int] = field(default_factory=dict)  # org label -> its formal members
    constituted_on: date | None = None
    total: int = 0  # the members' formal members as of the last event

    history: list[tuple[str, str | None, date]] = field(default_factory=list)
    # (event, org label or None, date) of every event after its creation

    def record(self, kind: str, label: str, on: date) -> None:
        """A member joined, was recounted or left; the branch is constituted (one more event)
        on the day its members' total reaches 3, and falls below (one more) when it drops under."""
        self.history.append((kind, label, on))
        self.version += 1
        total = sum(self.members.values())
        if self.total < BRANCH_MINIMUM <= total:
            self.constituted_on = on
            self.history.append(("Constituted", None, on))
            self.version += 1
        elif total < BRANCH_MINIMUM <= self.total:
            self.constituted_on = None
            self.history.append(("FellBelowMinimum", None, on))
            self.version += 1
        self.total = total


@settings(
    max_examples=25,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
class PartyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="incubator-party-")
        folder = Path(self.tmp.name)
        (folder / "settings.toml").write_text("", encoding="utf-8")  # the defaults
        url = f"sqlite:///{folder / 'incubator.sqlite3'}"
        self.inc: Incubator = bootstrap(url, folder / "settings.toml", clock=FixedClock(NOW))
        assert self.inc.service.today() == TODAY
        rules = self.inc.park.rules
        assert (rules.exit_window_days, rules.in_shell_months, rules.follow_up_months) == (
            EXIT_WINDOW_DAYS,
            IN_SHELL_MONTHS,
            FOLLOW_UP_MONTHS,
        )
        self.today = START
        self.orgs: dict[str, Org] = {}  # by label: o1, o2, ...
        self.joints: dict[tuple[str, str], Joint] = {}  # by (site, name)
        self.held: set[tuple[str, str]] = set()  # (site, code) of the workspaces held
        self.released: dict[tuple[str, str], date] = {}  # (site, code) -> when last left
        self.checked_at = -1
        self.checks = 0
        self.coverage_checked_at = -1

    def teardown(self) -> None:
        try:
            if self.orgs:
                self._coverage_agrees()
                self._due_dates_agree()
        finally:
            self.inc.close_all()
            self.tmp.cleanup()

    # ---- helpers -------------------------------------------------------------------------------

    def _on(self, data: st.DataObject) -> date:
        """Today moves on a little; the step is dated today or a few days back."""
        passing = data.draw(DAYS_PASS, label="days pass")
        self.today = min(self.today + timedelta(days=passing), TODAY)
        return self.today - timedelta(days=data.draw(BACK, label="days back"))

    def _who(self, on: date, reason: str | None = None) -> Who:
        return Who(actor=ACTOR, on=on, reason=reason)

    def _log_position(self) -> int:
        return self.inc.log.recorder.max_notification_id() or 0

    def _pick(self, data: st.DataObject, fits: Callable[[Org], bool]) -> tuple[str, Org]:
        """Mostly an organization that `fits`, sometimes any."""
        fitting = sorted(label for label, org in self.orgs.items() if fits(org))
        if fitting and data.draw(st.sampled_from((True, True, True, False)), label="steer"):
            label = data.draw(st.sampled_from(fitting), label="org")
        else:
            label = data.draw(st.sampled_from(sorted(self.orgs)), label="org")
        return label, self.orgs[label]

    def _org_fits(self, command: str) -> bool:
        return any(org.allows(command) for org in self.orgs.values())

    def _party_fits(self, command: str) -> bool:
        return any(org.party_allows(command) for org in self.orgs.values())

    def _free(self, site: str, on: date) -> list[str]:
        """The workspaces nobody holds and whose last holder had left by `on`."""
        return [
            code
            for code in POOL[site]
            if (site, code) not in self.held and self.released.get((site, code), on) <= on
        ]

    def _run(self, what: str, expect: Outcome, call: Callable[[], object]) -> bool:
        """Issue a command; check it was accepted or refused as the model expects, and that a
        refusal left the log as it was. True if it was recorded."""
        before = self._log_position()
        event(f"{what}: {expect}")
        try:
            call()
        except Refused as refusal:
            assert self._log_position() == before, f"{what}: a refusal changed the log: {refusal}"
            if expect == "ok":
                raise AssertionError(
                    f"{what}: refused, but the model expected success: {refusal!r}"
                ) from refusal
            if expect == "wrong_stage":
                assert isinstance(refusal, WrongStage), f"{what}: expected WrongStage: {refusal!r}"
            elif expect == "missing":
                assert isinstance(refusal, NotFound), f"{what}: expected NotFound: {refusal!r}"
            elif expect in ("refused", "sync"):
                assert not isinstance(refusal, WrongStage | NotFound), (
                    f"{what}: expected a refusal after the stage check, got {refusal!r}"
                )
                assert ("四个同步" in str(refusal)) == (expect == "sync"), (
                    f"{what}: the model expected {expect}, got {refusal!r}"
                )
            return False
        assert expect == "ok", f"{what}: recorded, but the model expected {expect}"
        assert self._log_position() > before
        return True

    def _org_expect(self, org: Org, command: str, on: date) -> Outcome | None:
        if not org.allows(command):
            return "wrong_stage"
        if on < org.last_on:
            return "refused"
        return None

    def _party_expect(self, org: Org, command: str, on: date) -> Outcome | None:
        party = org.party
        if party is None:
            return "missing"
        if party.stage not in PARTY_ALLOWED[command]:
            return "wrong_stage"
        if on < party.last_on:
            return "refused"
        return None

    def _last_event(self, org: Org) -> Any:
        return next(iter(self.inc.log.events.get(org.id, desc=True, limit=1)))

    def _unrated(self, org: Org, on: date | None = None) -> bool:
        """四个同步: the party track is in follow-up with no star rating between the last growth
        review and the exit evaluation (`on`, by default today)."""
        party = org.party
        if party is None or party.stage != "follow_up" or not org.reviews:
            return False
        on = on or self.today
        return party.rated_on is None or not org.reviews[-1] <= party.rated_on <= on

    def _enter(self, org: Org, on: date, code: str) -> None:
        org.workspace, org.entered_on = code, on
        self.held.add((org.site, code))
        org.party = Party(started_on=on, last_on=on)

    def _let_go(self, label: str, org: Org, on: date) -> None:
        """The workspace is released; if the case has ended, its party track closes."""
        if org.workspace is not None:
            self.held.discard((org.site, org.workspace))
            self.released[(org.site, org.workspace)] = on
            org.workspace = None
        party = org.party
        if not org.is_open and party is not None and party.is_open:
            closed_on = max(on, party.last_on)  # never before the track's last step
            if party.joint is not None:
                joint = self.joints[party.joint]
                del joint.members[label]
                joint.record("MemberLeft", label, closed_on)
            party.stage = "closed"
            party.ended_on = party.last_on = closed_on
            party.version += 1
            event("party track closed with its case")

    # ---- organization cases --------------------------------------------------------------------

    @initialize(
        applications=st.lists(
            st.tuples(st.sampled_from(("incubation", "residency")), st.sampled_from(SITES)),
            min_size=2,
            max_size=4,
        )
    )
    def first_applications(self, applications: list[tuple[str, str]]) -> None:
        for track, site in applications:
            self._apply(track, site, self.today)

    @precondition(
        lambda self: (
            len(self.orgs) < MAX_ORGS and sum(org.is_open for org in self.orgs.values()) < MAX_OPEN
        )
    )
    @rule(
        data=st.data(),
        track=st.sampled_from(("incubation", "incubation", "residency")),
        site=st.sampled_from(SITES),
    )
    def apply(self, data: st.DataObject, track: str, site: str) -> None:
        self._apply(track, site, self._on(data))

    def _apply(self, track: str, site: str, on: date) -> None:
        label = f"o{len(self.orgs) + 1}"
        case = self.inc.service.apply(
            self._who(on),
            name=f"社会组织{label}",
            field="公益慈善",
            legal_status="registered",
            track=track,
            site=site,
        )
        self.orgs[label] = Org(UUID(str(case.id)), case.name, track, site, "applied", on)

    def _org_step(
        self, org: Org, command: str, expect: Outcome, call: Callable[[], object]
    ) -> bool:
        if self._run(command, expect, call):
            org.version += 1
            return True
        return False

    @precondition(lambda self: self._org_fits("start_inspection"))
    @rule(data=st.data())
    def start_inspection(self, data: st.DataObject) -> None:
        _, org = self._pick(data, lambda o: o.allows("start_inspection"))
        self._start_inspection(org, self._on(data))

    def _start_inspection(self, org: Org, on: date) -> None:
        expect = self._org_expect(org, "start_inspection", on) or "ok"
        call = lambda: self.inc.service.start_inspection(org.id, self._who(on))  # noqa: E731
        if self._org_step(org, "start_inspection", expect, call):
            org.stage, org.last_on = "inspecting", on

    @precondition(lambda self: self._org_fits("submit_for_entry"))
    @rule(data=st.data())
    def submit_for_entry(self, data: st.DataObject) -> None:
        _, org = self._pick(data, lambda o: o.allows("submit_for_entry"))
        self._submit(org, self._on(data))

    def _submit(self, org: Org, on: date) -> None:
        expect = self._org_expect(org, "submit_for_entry", on) or "ok"
        call = lambda: self.inc.service.submit_for_entry(org.id, self._who(on))  # noqa: E731
        if self._org_step(org, "submit_for_entry", expect, call):
            org.stage, org.last_on = "entry_review", on

    @precondition(lambda self: self._org_fits("evaluate_entry"))
    @rule(data=st.data(), passes=st.booleans())
    def evaluate_entry(self, data: st.DataObject, passes: bool) -> None:
        _, org = self._pick(data, lambda o: o.allows("evaluate_entry"))
        self._evaluate_entry(data, org, self._on(data), passes)

    def _evaluate_entry(self, data: st.DataObject, org: Org, on: date, passes: bool) -> None:
        free = self._free(org.site, on)
        passes = passes and bool(free)
        code = data.draw(st.sampled_from(free), label="workspace") if passes else None
        expect = self._org_expect(org, "evaluate_entry", on) or "ok"
        panel = PASSING if passes else FAILING
        call = lambda: self.inc.service.evaluate_entry(org.id, self._who(on), panel, code)  # noqa: E731
        if not self._org_step(org, "evaluate_entry", expect, call):
            return
        org.last_on = on
        if code is not None:
            org.stage = "incubating"
            self._enter(org, on, code)
        else:
            org.stage = "declined"

    @precondition(lambda self: self._org_fits("resume_coaching"))
    @rule(data=st.data())
    def resume_coaching(self, data: st.DataObject) -> None:
        _, org = self._pick(data, lambda o: o.allows("resume_coaching"))
        self._resume(org, self._on(data))

    def _resume(self, org: Org, on: date) -> None:
        expect = self._org_expect(org, "resume_coaching", on) or "ok"
        call = lambda: self.inc.service.resume_coaching(org.id, self._who(on))  # noqa: E731
        if self._org_step(org, "resume_coaching", expect, call):
            org.stage, org.last_on = "inspecting", on

    @precondition(lambda self: self._org_fits("admit"))
    @rule(data=st.data())
    def admit(self, data: st.DataObject) -> None:
        _, org = self._pick(data, lambda o: o.allows("admit"))
        self._admit(data, org, self._on(data))

    def _admit(self, data: st.DataObject, org: Org, on: date) -> None:
        free = self._free(org.site, on)
        if not free:
            event("admit: no free workspace")
            return
        code = data.draw(st.sampled_from(free), label="workspace")
        expect = self._org_expect(org, "admit", on) or "ok"
        call = lambda: self.inc.service.admit(org.id, self._who(on), code)  # noqa: E731
        if self._org_step(org, "admit", expect, call):
            org.stage, org.last_on = "resident", on
            self._enter(org, on, code)

    @precondition(lambda self: self._org_fits("record_growth_review"))
    @rule(data=st.data())
    def record_growth_review(self, data: st.DataObject) -> None:
        _, org = self._pick(data, lambda o: o.allows("record_growth_review"))
        self._growth_review(org, self._on(data))

    def _growth_review(self, org: Org, on: date) -> None:
        expect = self._org_expect(org, "record_growth_review", on) or "ok"
        call = lambda: self.inc.service.record_growth_review(org.id, self._who(on), PASSING)  # noqa: E731
        if self._org_step(org, "record_growth_review", expect, call):
            org.reviews.append(on)
            org.last_on = on
            # 四个同步: the review carries the party organization's current stars.
            stars = org.party.stars if org.party else None
            assert self._last_event(org).party_stars == stars
            if org.party is not None:  # the review is noted on the party track too
                org.party.version += 1

    @precondition(lambda self: self._org_fits("evaluate_exit"))
    @rule(data=st.data(), passes=st.sampled_from((True, True, False)), in_window=st.booleans())
    def evaluate_exit(self, data: st.DataObject, passes: bool, in_window: bool) -> None:
        label, org = self._pick(data, lambda o: o.allows("evaluate_exit"))
        self._evaluate_exit(data, label, org, passes, in_window)

    def _evaluate_exit(
        self, data: st.DataObject, label: str, org: Org, passes: bool, in_window: bool
    ) -> None:
        opens = org.exit_opens()
        if in_window and opens is not None:  # today jumps into the window (or beyond it)
            late = data.draw(st.sampled_from((0, 0, 1, 15, 29, 45)), label="days into window")
            self.today = min(max(self.today, opens + timedelta(days=late)), TODAY)
            on = self.today
        else:
            on = self._on(data)
        rated_on = org.party.rated_on if org.party else None
        aim = data.draw(st.sampled_from((None, None, -1, 0)), label="exit around the rating")
        if rated_on is not None and aim is not None and rated_on + timedelta(aim) <= self.today:
            on = rated_on + timedelta(aim)  # the 四个同步 boundary: rated up to the exit's date
        expect = self._org_expect(org, "evaluate_exit", on)
        if expect is None:
            assert opens is not None and org.party is not None
            if not org.reviews or on < opens:
                expect = "refused"
            else:
                expect = "sync" if self._unrated(org, on) else "ok"
                event(f"evaluate_exit in the window, party track in {org.party.stage}")
                rated_on = org.party.rated_on
                if rated_on is not None and rated_on in (org.reviews[-1], on):
                    event("evaluate_exit: rated on the day of the last review or of the exit")
        panel = PASSING if passes else FAILING
        call = lambda: self.inc.service.evaluate_exit(org.id, self._who(on), panel)  # noqa: E731
        if not self._org_step(org, "evaluate_exit", expect, call):
            return
        assert self._last_event(org).party_stars == (org.party.stars if org.party else None)
        org.stage = "follow_up" if passes else "exited"
        org.exit_on = org.last_on = on
        if org.party is not None:  # the exit evaluation is noted on the party track too
            org.party.version += 1
        self._let_go(label, org, on)

    @precondition(lambda self: self._org_fits("close_case"))
    @rule(data=st.data(), reason=REASONS)
    def close_case(self, data: st.DataObject, reason: str | None) -> None:
        label, org = self._pick(data, lambda o: o.allows("close_case"))
        self._close(label, org, self._on(data), reason)

    def _close(self, label: str, org: Org, on: date, reason: str | None) -> None:
        expect = self._org_expect(org, "close_case", on)
        if expect is None:
            assert org.exit_on is not None
            early = on < add_months(org.exit_on, FOLLOW_UP_MONTHS)
            expect = "refused" if early and not has_text(reason) else "ok"
        call = lambda: self.inc.service.close_case(org.id, self._who(on, reason))  # noqa: E731
        if self._org_step(org, "close_case", expect, call):
            org.stage, org.last_on = "closed", on
            self._let_go(label, org, on)

    @precondition(lambda self: any(self._org_fits(command) for command in ENDED_BY))
    @rule(data=st.data(), command=st.sampled_from(sorted(ENDED_BY)), reason=REASONS)
    def end_case(self, data: st.DataObject, command: str, reason: str | None) -> None:
        label, org = self._pick(data, lambda o: o.allows(command))
        self._end(label, org, self._on(data), command, reason)

    def _end(self, label: str, org: Org, on: date, command: str, reason: str | None) -> None:
        expect = self._org_expect(org, command, on)
        if expect is None:
            expect = "ok" if has_text(reason) else "refused"
        service: Callable[[UUID, Who], OrganizationCase] = getattr(self.inc.service, command)
        if self._org_step(org, command, expect, lambda: service(org.id, self._who(on, reason))):
            org.stage, org.last_on = ENDED_BY[command], on
            self._let_go(label, org, on)

    # ---- party tracks --------------------------------------------------------------------------

    def _party_step(
        self, org: Org, command: str, expect: Outcome, call: Callable[[], object]
    ) -> Party | None:
        """The party track's model if the command was recorded (one event on the track)."""
        if not self._run(f"party {command}", expect, call):
            return None
        assert org.party is not None
        org.party.version += 1
        return org.party

    def record_inspection(self, data: st.DataObject, note: str | None) -> None:
        _, org = self._pick(data, lambda o: o.party_allows("record_inspection"))
        self._record_inspection(org, self._on(data), note)

    def _record_inspection(self, org: Org, on: date, note: str | None) -> None:
        expect = self._party_expect(org, "record_inspection", on) or "ok"
        call = lambda: self.inc.party.record_inspection(org.id, self._who(on), note)  # noqa: E731
        party = self._party_step(org, "record_inspection", expect or "ok", call)
        if party is not None:
            party.stage, party.last_on, party.inspected = "member_discovery", on, True

    def count_members(
        self, data: st.DataObject, formal: int, probationary: int, transferred: int
    ) -> None:
        label, org = self._pick(data, lambda o: o.party_allows("count_members"))
        self._count(label, org, self._on(data), formal, probationary, transferred)

    def _count(
        self, label: str, org: Org, on: date, formal: int, probationary: int, transferred: int
    ) -> None:
        expect = self._party_expect(org, "count_members", on)
        if expect is None:
            assert org.party is not None
            same = (org.party.formal, org.party.probationary, org.party.transferred) == (
                formal,
                probationary,
                transferred,
            )
            negative = min(formal, probationary, transferred) < 0
            expect = "refused" if negative or transferred > formal or same else "ok"
        call = lambda: self.inc.party.count_members(  # noqa: E731
            org.id, self._who(on), formal, probationary, transferred
        )
        party = self._party_step(org, "count_members", expect or "ok", call)
        if party is None:
            return
        if party.stage == "member_discovery":
            party.stage = "support"
        party.formal, party.probationary, party.transferred = formal, probationary, transferred
        party.last_on = on
        if party.joint is not None:
            joint = self.joints[party.joint]
            if joint.members[label] != formal:
                joint.members[label] = formal
                joint.record("MemberRecounted", label, on)
                event("joint member recounted")

    def assign_instructor(self, data: st.DataObject, instructor: str) -> None:
        _, org = self._pick(data, lambda o: o.party_allows("assign_instructor"))
        self._assign_instructor(org, self._on(data), instructor)

    def _assign_instructor(self, org: Org, on: date, instructor: str) -> None:
        expect: Outcome | None = "guard"
        if has_text(instructor):
            expect = self._party_expect(org, "assign_instructor", on)
            if expect is None:
                assert org.party is not None
                expect = "refused" if org.party.instructor == instructor.strip() else "ok"
        call = lambda: self.inc.party.assign_instructor(org.id, self._who(on), instructor)  # noqa: E731
        party = self._party_step(org, "assign_instructor", expect or "ok", call)
        if party is not None:
            party.instructor, party.last_on = instructor.strip(), on

    def record_support(self, data: st.DataObject, kind: str, note: str) -> None:
        _, org = self._pick(data, lambda o: o.party_allows("record_support"))
        self._record_support(org, self._on(data), kind, note)

    def _record_support(self, org: Org, on: date, kind: str, note: str) -> None:
        expect: Outcome | None = "guard"
        if has_text(note):
            expect = self._party_expect(org, "record_support", on)
            if expect is None:
                assert org.party is not None
                advice_only = org.party.formal == 0  # and an instructor first
                unknown = kind not in SUPPORT_KINDS
                if advice_only and (kind not in ADVICE_KINDS or org.party.instructor is None):
                    unknown = True
                expect = "refused" if unknown else "ok"
        call = lambda: self.inc.party.record_support(org.id, self._who(on), kind, note)  # noqa: E731
        party = self._party_step(org, "record_support", expect or "ok", call)
        if party is not None:
            party.supports += 1
            party.last_on = on

    def record_development(self, data: st.DataObject, note: str) -> None:
        _, org = self._pick(data, lambda o: o.party_allows("record_development"))
        self._record_development(org, self._on(data), note)

    def _record_development(self, org: Org, on: date, note: str) -> None:
        expect: Outcome | None = "guard"
        if has_text(note):
            expect = self._party_expect(org, "record_development", on)
            if expect is None:
                assert org.party is not None
                needs = org.party.formal == 0 and org.party.instructor is None
                expect = "refused" if needs else "ok"
        call = lambda: self.inc.party.record_development(org.id, self._who(on), note)  # noqa: E731
        party = self._party_step(org, "record_development", expect or "ok", call)
        if party is not None:
            party.developments += 1
            party.stage, party.last_on = "formation", on

    def found_branch(self, data: st.DataObject, name: str) -> None:
        label, org = self._pick(data, lambda o: o.party_allows("found_branch"))
        self._found_branch(label, org, self._on(data), name)

    def _found_branch(self, label: str, org: Org, on: date, name: str) -> None:
        expect: Outcome | None = "guard"
        if has_text(name):
            expect = self._party_expect(org, "found_branch", on)
            if expect is None:
                party = org.party
                assert party is not None and party.formal is not None
                own = party.branch_kind == "independent"
                expect = "refused" if own or party.formal < BRANCH_MINIMUM else "ok"
        call = lambda: self.inc.party.found_branch(org.id, self._who(on), name)  # noqa: E731
        party = self._party_step(org, "found_branch", expect or "ok", call)
        if party is None:
            return
        if party.joint is not None:  # it leaves its joint branch to found its own
            joint = self.joints[party.joint]
            del joint.members[label]
            joint.record("MemberLeft", label, on)
            event("left a joint branch to found its own")
        party.branch_kind, party.branch_name, party.joint = "independent", name.strip(), None
        party.stage, party.last_on = "follow_up", on

    def join_branch(self, data: st.DataObject) -> None:
        label, org = self._pick(data, lambda o: o.party_allows("join_branch"))
        on = self._on(data)
        # By name at the organization's own site (the one it has, or another name), or by id.
        by = data.draw(st.sampled_from(("name", "name", "padded", "id")), label="join by")
        given: str
        joint: Joint | None
        if by == "id" and self.joints:
            joint = self.joints[data.draw(st.sampled_from(sorted(self.joints)), label="branch")]
            given = str(joint.id)
        else:
            name = data.draw(st.sampled_from(BRANCH_NAMES), label="branch name")
            joint = self.joints.get((org.site, name))
            given = f" {name} " if by == "padded" else name
        self._join(label, org, on, given, joint)

    def _join(self, label: str, org: Org, on: date, given: str, joint: Joint | None) -> None:
        expect: Outcome | None = "missing" if org.party is None or joint is None else None
        expect = expect or self._party_expect(org, "join_branch", on)
        if expect is None:
            party = org.party
            assert party is not None and party.formal is not None and joint is not None
            fits = 1 <= party.formal < BRANCH_MINIMUM
            fits = fits and joint.site == org.site and on >= joint.opened_on
            expect = "ok" if fits else "refused"
        call = lambda: self.inc.party.join_branch(org.id, self._who(on), given)  # noqa: E731
        party = self._party_step(org, "join_branch", expect or "ok", call)
        if party is None:
            return
        assert joint is not None and party.formal is not None
        joint.members[label] = party.formal
        joint.record("MemberJoined", label, on)
        party.branch_kind, party.branch_name = "joint", joint.name
        party.joint = (joint.site, joint.name)
        party.stage, party.last_on = "follow_up", on
        if joint.constituted_on == on:
            event("joint branch constituted on joining")

    def record_service(self, data: st.DataObject, kind: str, note: str) -> None:
        _, org = self._pick(data, lambda o: o.party_allows("record_service"))
        self._record_service(org, self._on(data), kind, note)

    def _record_service(self, org: Org, on: date, kind: str, note: str) -> None:
        expect: Outcome | None = "guard"
        if has_text(note):
            expect = self._party_expect(org, "record_service", on)
            if expect is None:
                expect = "ok" if kind in SERVICE_KINDS else "refused"
        call = lambda: self.inc.party.record_service(org.id, self._who(on), kind, note)  # noqa: E731
        party = self._party_step(org, "record_service", expect or "ok", call)
        if party is not None:
            party.services += 1
            party.last_on = on

    def rate(self, data: st.DataObject, stars: int, note: str) -> None:
        _, org = self._pick(data, lambda o: o.party_allows("rate"))
        self._rate(org, self._on(data), stars, note)

    def _rate(self, org: Org, on: date, stars: int, note: str) -> None:
        expect: Outcome | None = "guard"
        if has_text(note):
            expect = self._party_expect(org, "rate", on)
            if expect is None:
                expect = "ok" if 1 <= stars <= 5 else "refused"
        call = lambda: self.inc.party.rate(org.id, self._who(on), stars, note)  # noqa: E731
        party = self._party_step(org, "rate", expect or "ok", call)
        if party is not None:
            party.stars, party.rated_on, party.last_on = stars, on, on

    # ---- joint branches ------------------------------------------------------------------------

    @rule(
        data=st.data(),
        site=st.sampled_from(SITES),
        name=st.sampled_from((*BRANCH_NAMES, *BRANCH_NAMES, f" {BRANCH_NAMES[0]} ", " ")),
    )
    def create_joint_branch(self, data: st.DataObject, site: str, name: str) -> None:
        self._create_joint(site, self._on(data), name)

    def _create_joint(self, site: str, on: date, name: str) -> None:
        key = (site, name.strip())
        expect: Outcome = "guard"
        if has_text(name):
            expect = "refused" if key in self.joints else "ok"
        created: list[JointBranch] = []

        def call() -> None:
            created.append(self.inc.party.create_joint_branch(self._who(on), name=name, site=site))

        if self._run("create_joint_branch", expect, call):
            branch = created[0]
            assert branch.id == JointBranch.id_for(site, name)
            self.joints[key] = Joint(UUID(str(branch.id)), site, name.strip(), on)

    # ---- the usual paths -----------------------------------------------------------------------

    @rule(days=st.integers(1, 90))
    def time_passes(self, days: int) -> None:
        """Nothing happens for a while (always enabled, whatever swarm testing switches off)."""
        self.today = min(self.today + timedelta(days=days), TODAY)

    @rule()
    def read_the_coverage(self) -> None:
        """The coverage read model now, whatever the schedule of the invariant (and a rule that
        is always enabled)."""
        self.coverage_checked_at = -1
        self._coverage_agrees()

    @precondition(lambda self: any(org.party is not None for org in self.orgs.values()))
    @rule(data=st.data())
    def party_command(self, data: st.DataObject) -> None:
        """A party command, mostly one that some track's stage allows, with inputs of its own
        (one rule for all of them, so that the usual paths get their share of the steps)."""
        fitting = [command for command in PARTY_ALLOWED if self._party_fits(command)]
        if not fitting or data.draw(st.sampled_from((False, False, False, True)), label="any"):
            fitting = sorted(PARTY_ALLOWED)
        command = data.draw(st.sampled_from(fitting), label="party command")
        inputs = {name: data.draw(arg, label=name) for name, arg in PARTY_ARGS[command].items()}
        getattr(self, command)(data, **inputs)

    @rule(data=st.data(), command=st.sampled_from(sorted(PARTY_ALLOWED)))
    def wrong_party_command(self, data: st.DataObject, command: str) -> None:
        """A party command that the track's stage does not allow (or on a case with no track,
        or a closed one), with inputs that pass the guards before the stage check."""
        unfit = sorted(label for label, o in self.orgs.items() if not o.party_allows(command))
        if not unfit:
            return
        label = data.draw(st.sampled_from(unfit), label="org")
        self._issue(data, label, command, self._on(data))

    def _issue(self, data: st.DataObject, label: str, command: str, on: date) -> None:
        """`command` on the organization's party track, with well-formed inputs."""
        org = self.orgs[label]
        if command == "record_inspection":
            self._record_inspection(org, on, "入壳考察")
        elif command == "count_members":
            self._count(label, org, on, data.draw(st.integers(0, 4), label="formal"), 0, 0)
        elif command == "assign_instructor":
            self._assign_instructor(org, on, "王指导员")
        elif command == "record_support":
            self._record_support(org, on, "information", "政策宣讲")
        elif command == "record_development":
            self._record_development(org, on, "发展党员")
        elif command == "found_branch":
            self._found_branch(label, org, on, "党支部")
        elif command == "join_branch":
            joint = self.joints.get((org.site, BRANCH_NAMES[0]))
            self._join(label, org, on, BRANCH_NAMES[0], joint)
        elif command == "record_service":
            self._record_service(org, on, "model_selection", "评选")
        else:
            self._rate(org, on, 3, "年度评星")

    @precondition(lambda self: any(org.is_open for org in self.orgs.values()))
    @rule(data=st.data())
    def advance_case(self, data: st.DataObject) -> None:
        """Take an open case one step along its usual path (swarm testing switches rules off at
        random, which would otherwise stall most cases early)."""
        self._advance_case(data)

    def _advance_case(self, data: st.DataObject) -> None:
        """One to three steps of a case along its usual path, for runs deep enough to exit."""
        label = data.draw(
            st.sampled_from(sorted(label for label, o in self.orgs.items() if o.is_open)),
            label="case to advance",
        )
        for _ in range(data.draw(st.integers(1, 3), label="steps")):
            if self.orgs[label].is_open:
                self._advance_one(data, label)

    def _advance_one(self, data: st.DataObject, label: str) -> None:
        org = self.orgs[label]
        on = self._on(data)
        if org.stage == "applied":
            if org.track == "incubation":
                self._start_inspection(org, on)
            else:
                self._admit(data, org, on)
        elif org.stage == "inspecting":
            self._submit(org, on)
        elif org.stage == "entry_review":
            self._evaluate_entry(data, org, on, data.draw(st.sampled_from((True, True, False))))
        elif org.stage == "declined":
            self._resume(org, on)
        else:
            self._advance_in_the_park(data, label, org, on)

    def _advance_in_the_park(self, data: st.DataObject, label: str, org: Org, on: date) -> None:
        """Growth reviews, then the exit (or the end, when the window is out of reach by the
        clock's today); the close of the follow-up; a resident's departure, or a party step."""
        party = org.party
        assert party is not None
        first = data.draw(st.sampled_from((True, True, True, False)), label="party first")
        if party.is_open and party.stage != "follow_up" and first:
            self._advance_party(data, label, org, on)  # its party track moves on too
        elif org.stage == "incubating":
            opens = org.exit_opens()
            assert opens is not None
            if opens > TODAY:
                self._end(label, org, on, "terminate", "停止活动")
            elif not org.reviews or data.draw(st.booleans(), label="another review"):
                self._growth_review(org, on)
                together = data.draw(st.sampled_from((True, True, False)), label="rate with it")
                if together and self._unrated(org, on):  # 四个同步: rated on the review's day
                    self._rate(org, on, data.draw(st.integers(1, 5), label="stars"), "年度评星")
            elif self._unrated(org) and data.draw(st.booleans(), label="rate first"):
                review = org.reviews[-1]  # the 四个同步 boundary: rated from the review's day
                aimed = (on, review, review - timedelta(days=1))
                rate_on = data.draw(st.sampled_from(aimed), label="rate on")
                self._rate(org, rate_on, data.draw(st.integers(1, 5), label="stars"), "年度评星")
            else:
                passes = data.draw(st.sampled_from((True, True, True, False)), label="passes")
                self._evaluate_exit(data, label, org, passes, in_window=True)
        elif org.stage == "follow_up":
            self._close(label, org, on, "服务结束")
        elif data.draw(st.sampled_from((False, False, True)), label="depart"):
            self._end(label, org, on, "depart", "迁往新址")
        else:
            self._advance_party(data, label, org, on)

    @precondition(lambda self: any(org.is_open for org in self.orgs.values()))
    @rule(data=st.data())
    def advance_case_again(self, data: st.DataObject) -> None:
        """The same as advance_case: swarm testing rarely switches off both."""
        self._advance_case(data)

    @precondition(
        lambda self: any(o.party is not None and o.party.is_open for o in self.orgs.values())
    )
    @rule(data=st.data())
    def advance_party_again(self, data: st.DataObject) -> None:
        """The same as advance_party."""
        self._advance_a_party(data)

    @precondition(
        lambda self: any(o.party is not None and o.party.is_open for o in self.orgs.values())
    )
    @rule(data=st.data())
    def advance_party(self, data: st.DataObject) -> None:
        """Take an open party track one step along its usual path."""
        self._advance_a_party(data)

    def _advance_a_party(self, data: st.DataObject) -> None:
        label = data.draw(
            st.sampled_from(
                sorted(label for label, o in self.orgs.items() if o.party and o.party.is_open)
            ),
            label="party track to advance",
        )
        org = self.orgs[label]
        for _ in range(data.draw(st.integers(1, 3), label="steps")):
            if org.party is not None and org.party.is_open:
                self._advance_party(data, label, org, self._on(data))

    def _advance_party(self, data: st.DataObject, label: str, org: Org, on: date) -> None:
        party = org.party
        assert party is not None
        if party.stage == "entry_inspection":
            self._record_inspection(org, on, "入壳考察")
        elif party.stage == "member_discovery":
            self._count(label, org, on, data.draw(st.integers(0, 4), label="formal"), 0, 0)
        elif party.stage == "follow_up":
            self._advance_in_follow_up(data, label, org, on)
        elif party.formal == 0:  # support or formation, with no members yet
            if party.instructor is None:
                self._assign_instructor(org, on, "李书记")
                return
            step = data.draw(st.sampled_from(("develop", "advise", "recount")), label="next")
            if step == "develop":
                self._record_development(org, on, "发展党员")
            elif step == "advise":
                self._record_support(org, on, "information", "政策宣讲")
            else:
                self._count(label, org, on, data.draw(st.integers(1, 4), label="formal"), 0, 0)
        elif party.formal is not None and party.formal < BRANCH_MINIMUM:
            name = data.draw(st.sampled_from(BRANCH_NAMES), label="branch name")
            if (org.site, name) not in self.joints:
                self._create_joint(org.site, on, name)
            joint = self.joints.get((org.site, name))
            if joint is not None:
                self._join(label, org, max(on, joint.opened_on), name, joint)
        else:
            self._found_branch(label, org, on, "党支部")

    def _advance_in_follow_up(self, data: st.DataObject, label: str, org: Org, on: date) -> None:
        party = org.party
        assert party is not None
        step = data.draw(
            st.sampled_from(("rate", "rate", "service", "recount", "found")), label="next"
        )
        if step == "rate":
            self._rate(org, on, data.draw(st.integers(1, 5), label="stars"), "年度评星")
        elif step == "service":
            self._record_service(org, on, "joint_meeting", "联合组织生活")
        elif step == "recount":
            formal = data.draw(st.integers(0, 4), label="formal")
            self._count(label, org, on, formal, party.probationary, party.transferred)
        else:
            self._found_branch(label, org, on, "党支部")

    # ---- invariants ----------------------------------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        """Whenever the log has grown (a refusal is checked to leave it as it was)."""
        position = self._log_position()
        if position == self.checked_at:
            return
        self.checked_at = position
        for label, org in self.orgs.items():
            self._case_agrees(label, org)
        for joint in self.joints.values():
            self._joint_agrees(joint)
        self.checks += 1
        if self.checks % COVERAGE_EVERY == 0:
            self._coverage_agrees()

    def _case_agrees(self, label: str, org: Org) -> None:
        case = self.inc.service.case(org.id)
        assert (case.stage, case.workspace, case.version) == (
            org.stage,
            org.workspace,
            org.version,
        ), label
        assert (case.entered_on, case.last_on, case.exit_on) == (
            org.entered_on,
            org.last_on,
            org.exit_on,
        ), label
        assert case.growth_reviews == org.reviews, label
        track = self.inc.service.party_track(case)
        expected = org.party
        if expected is None:  # never entered: no party track
            assert track is None, f"{label} in {case.stage} has a party track"
            return
        assert isinstance(track, PartyIncubation), f"{label} entered but has no party track"
        event(f"party reached {track.stage}")
        assert (track.case_id, track.site, track.org_name) == (org.id, org.site, org.name)
        assert track.started_on == org.entered_on == expected.started_on, label
        assert (track.stage, track.last_on, track.version) == (
            expected.stage,
            expected.last_on,
            expected.version,
        ), label
        assert track.inspected == expected.inspected, label
        assert (track.formal, track.probationary, track.transferred) == (
            expected.formal,
            expected.probationary,
            expected.transferred,
        ), label
        assert track.instructor == expected.instructor, label
        assert (track.branch_kind, track.branch_name) == (
            expected.branch_kind,
            expected.branch_name,
        ), label
        if expected.joint is not None:
            assert track.branch_id == self.joints[expected.joint].id, label
        else:
            assert (track.branch_id is None) == (expected.branch_kind is None), label
        assert (track.stars, track.rated_on) == (expected.stars, expected.rated_on), label
        assert track.ended_on == expected.ended_on, label
        assert (len(track.supports), len(track.developments), len(track.services)) == (
            expected.supports,
            expected.developments,
            expected.services,
        ), label
        # The party track is open exactly while its case is (it started when the case entered).
        assert track.is_open == case.is_open, label
        held = self.inc.service.holdings(case)
        assert held.party is not None and held.party.id == track.id
        held_branch = held.branch.id if held.branch is not None else None
        assert held_branch == (self.joints[expected.joint].id if expected.joint else None)

    def _joint_agrees(self, joint: Joint) -> None:
        branch = self.inc.party.joint_branch(str(joint.id))
        by_name = self.inc.party.joint_branch(f" {joint.name}", joint.site)
        assert by_name.id == branch.id
        members = {str(self.orgs[label].id): n for label, n in joint.members.items()}
        assert (branch.site, branch.name, branch.opened_on) == (
            joint.site,
            joint.name,
            joint.opened_on,
        )
        assert branch.members == members, f"{joint.site}/{joint.name}"
        assert branch.formal_total == sum(joint.members.values())
        assert branch.constituted_on == joint.constituted_on, f"{joint.site}/{joint.name}"
        assert branch.version == joint.version, f"{joint.site}/{joint.name}"
        assert set(branch.member_names) == set(members)
        ids = {str(org.id): label for label, org in self.orgs.items()}
        history = [
            (
                type(e).__name__,
                ids[str(e.case_id)] if hasattr(e, "case_id") else None,
                cast(Any, e).on,
            )
            for e in list(self.inc.log.events.get(joint.id))[1:]
        ]
        assert history == joint.history, f"{joint.site}/{joint.name}"
        for label in joint.members:  # every member is an open case whose track is in the branch
            party = self.orgs[label].party
            assert party is not None and party.is_open and party.joint == (joint.site, joint.name)

    def _model_coverage(self, site: str | None) -> dict[str, Any]:
        orgs = [o for o in self.orgs.values() if o.stage in IN_THE_PARK and site in (None, o.site)]
        covered = [o.party for o in orgs if o.party is not None]
        joint = sum(1 for j in self.joints.values() if j.constituted_on and site in (None, j.site))
        return {
            "organizations": len(orgs),
            "covered": len(covered),
            "formal_members": sum(p.formal or 0 for p in covered),
            "branches": {
                "independent": sum(p.branch_kind == "independent" for p in covered),
                "joint": joint,
            },
            "ratio": round(len(covered) / len(orgs), 4) if orgs else None,
        }

    def _coverage_agrees(self) -> None:
        position = self._log_position()
        if position == self.coverage_checked_at:
            return
        self.coverage_checked_at = position
        self.inc.read_models.catch_up()
        for site in (None, *SITES):
            expected = self._model_coverage(site)
            assert self.inc.read_models.party_coverage(site) == expected, site
            if expected["organizations"]:
                event("coverage: organizations in the park")
            if expected["branches"]["joint"]:
                event("coverage: a constituted joint branch")

    def _due_dates_agree(self) -> None:
        """The due-dates read model (what reminder scans read) holds exactly the pending
        deadlines the cases and their party tracks say, on both tracks."""
        service, expected = self.inc.service, set()
        for org in self.orgs.values():
            case = service.case(org.id)
            track = service.party_track(case)
            for d in deadlines_of(case, self.inc.park.rules, self.today, track):
                if d.is_pending:
                    expected.add((str(org.id), d.kind, d.due_on))
        self.inc.read_models.catch_up()
        kept = {(r["case_id"], r["kind"], r["due_on"]) for r in self.inc.read_models.due()}
        assert kept == expected


TestPartyStateMachine = pytest.mark.slow(PartyMachine.TestCase)


def test_a_corrected_entry_date_moves_the_party_tracks_start(tmp_path: Path) -> None:
    incubator = bootstrap(f"sqlite:///{tmp_path / 'incubator.sqlite3'}", clock=FixedClock(NOW))
    try:
        service = incubator.service
        case = service.apply(
            Who(ACTOR, date(2024, 1, 2)),
            name="社会组织甲",
            field="公益慈善",
            legal_status="registered",
            track="residency",
            site="main",
        )
        service.admit(case.id, Who(ACTOR, date(2024, 3, 1)), "M-01")
        corrected = service.correct_entry_date(
            case.id, Who(ACTOR, date(2024, 3, 5), "录入错误"), date(2024, 2, 20)
        )
        track = service.party_track(corrected)
        assert corrected.entered_on == date(2024, 2, 20)
        assert track is not None and track.started_on == corrected.entered_on
    finally:
        incubator.close_all()
