"""A state machine drives the real service on a real SQLite file and checks it against a model.

Every command either succeeds or raises `Refused` (WrongStage and WorkspaceTaken included);
anything else is a failure. Beside the service the machine keeps its own model of each case,
written from the rules rather than from lifecycle/stages.py: which commands each stage allows,
the date order, reasons, panels (exact means against the pass mark, at least 3 experts), the
exit window, the follow-up year, the entry-date range, and who holds which workspace. It checks:

- after every command: a refusal left the log and the case's version as they were; the service
  accepted or refused exactly as the model predicts, with WrongStage exactly when the model says
  the stage does not allow the command, unless an input guard that runs before the stage check
  (blank text, a malformed panel, a workspace of another site) refused first;
- whenever the log has grown: every case is in a stage of its track, holds a workspace exactly
  while incubating or resident, keeps its entry date once entered, and agrees with the model
  (stage, workspace, version, dates, caseworker); no workspace is claimed twice, and each
  Workspace aggregate's holder is the case that claims it;
- after every 4th recorded step and at the end of each run: the caseload read model agrees with
  the aggregates on stage, workspace, entry date and caseworker.

The park's default settings are used, but workspaces come from a small pool (M-01..M-03 at
`main`, B-01..B-02 at `branch`) so that cases fight over them. Each command has a rule, enabled
while some case's stage allows it, that mostly picks such a case (sometimes any case). Hypothesis
switches rules off at random in each run (swarm testing), so `advance` (and `advance_again`)
takes a case one step along its usual path to get runs deep enough to exit and close, and
`wrong_commands` issues the commands a case's stage does not allow (all of them the first time
a stage comes up in a run). Dates move forward from each case's last step by up
to 200 days (sometimes back, to be refused), never past the clock's today, and sometimes land on
a rule's boundary to catch off-by-one errors.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, cast
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError
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
from lifecycle.errors import Refused, WrongStage
from lifecycle.organization import OrganizationCase
from lifecycle.stages import WORKFLOWS
from lifecycle.workspace import Workspace, WorkspaceTaken
from schedules.clock import FixedClock
from tests.conftest import NOW

TODAY = date(2026, 11, 22)  # NOW in Asia/Shanghai
FIRST_APPLICATION = date(2015, 1, 1)
ACTOR = "王芳"
MAX_OPEN_CASES = 4  # applications stop while this many cases are open...
MAX_CASES = 10  # ...and for good after this many
READ_MODEL_EVERY = 4  # the caseload is compared after every 4th recorded step, and at the end

# The model's own copy of the rules (lifecycle/park.py defaults, commands/defaults.toml).
PASS_MARK = 60
MIN_EXPERTS = 3
EXIT_WINDOW_DAYS = 30
IN_SHELL_MONTHS = 10
FOLLOW_UP_MONTHS = 12

# A small pool of workspaces, so that cases compete for them.
POOL: dict[str, tuple[str, ...]] = {"main": ("M-01", "M-02", "M-03"), "branch": ("B-01", "B-02")}
ALL_CODES = tuple(code for codes in POOL.values() for code in codes)

# Which stages allow which command, per track, written out independently of lifecycle/stages.py.
BEFORE_ENTRY = ("applied", "inspecting", "entry_review", "declined")
ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {
    "incubation": {
        "start_inspection": ("applied",),
        "assign": (*BEFORE_ENTRY, "incubating", "follow_up"),
        "record_visit": ("inspecting",),
        "submit_for_entry": ("inspecting",),
        "evaluate_entry": ("entry_review",),
        "resume_coaching": ("declined",),
        "record_growth_review": ("incubating",),
        "correct_entry_date": ("incubating", "follow_up"),
        "evaluate_exit": ("incubating",),
        "record_follow_up": ("follow_up",),
        "close_case": ("follow_up",),
        "reject": BEFORE_ENTRY,
        "withdraw": (*BEFORE_ENTRY, "incubating"),
        "terminate": ("incubating",),
    },
    "residency": {
        "assign": ("applied", "resident"),
        "admit": ("applied",),
        "record_service_evaluation": ("resident",),
        "correct_entry_date": ("resident",),
        "depart": ("resident",),
        "reject": ("applied",),
        "withdraw": ("applied",),
    },
}
HOLDING = ("incubating", "resident")  # the stages in which a case holds a workspace

# What the model expects of a command:
#   ok          recorded;
#   guard       refused by an input check that runs before the stage check (any Refused);
#   wrong_stage refused with WrongStage;
#   refused     refused by a rule checked after the stage (a Refused that is not WrongStage);
#   taken       refused with WorkspaceTaken.
Outcome = Literal["ok", "guard", "wrong_stage", "refused", "taken"]


def add_months(start: date, months: int) -> date:
    """Calendar months, clipped to the end of the month."""
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(start.day, (next_month - timedelta(days=1)).day))


def has_text(text: str | None) -> bool:
    return text is not None and bool(text.strip())


@dataclass(frozen=True)
class Panel:
    """Experts' scores as typed on the command line, and what the model makes of them."""

    items: tuple[str, ...]
    valid: bool
    mean: Fraction | None  # exact; None when there are no (valid) scores

    @property
    def size(self) -> int:
        return len(self.items)

    def passes(self) -> bool:
        return self.mean is not None and self.mean >= PASS_MARK


EXPERTS = ("王芳", "李强", "张敏", "刘洋", "陈静")  # scores are drawn in half points
BAD_ITEMS = ("吴军=abc", "吴军=100.5", "吴军=-1", "=70", "吴军", "王芳=70")  # the last: twice


@st.composite
def panels(draw: st.DrawFn, *, passing: bool = False) -> Panel:
    """Mostly well-formed panels (scores in half points) that pass, fail or could go either way;
    with `passing`, a well-formed panel of enough experts that passes."""
    if passing:
        size = draw(st.integers(MIN_EXPERTS, len(EXPERTS)), label="experts")
        low, high = 2 * PASS_MARK, 200
    else:
        size = draw(st.sampled_from((3, 4, 5, 3, 4, 5, 2, 1, 0)), label="experts")
        # Half points: passing, passing, failing, either.
        ranges = ((2 * PASS_MARK, 200), (2 * PASS_MARK, 200), (0, 2 * PASS_MARK - 2), (0, 200))
        low, high = draw(st.sampled_from(ranges), label="score range")
    halves = draw(st.lists(st.integers(low, high), min_size=size, max_size=size), label="halves")
    items = [f"{e}={h / 2:g}" for e, h in zip(EXPERTS[:size], halves, strict=True)]
    if not passing and draw(st.integers(0, 14), label="malformed") == 0:
        bad = draw(st.sampled_from(BAD_ITEMS), label="bad item")
        if bad == "王芳=70" and not items:
            bad = "=70"
        return Panel((*items, bad), valid=False, mean=None)
    mean = Fraction(sum(halves), 2 * size) if size else None
    return Panel(tuple(items), valid=True, mean=mean)


DELTAS_RANGE = range(-30, 201)  # days from the case's last step; negative: out of date order
DELTAS = st.integers(min(DELTAS_RANGE), max(DELTAS_RANGE))
REASONS = st.sampled_from((None, "资金不足", " ", "负责人变更"))
CASEWORKERS = st.sampled_from(("赵磊", "孙丽", " 孙丽 ", " "))
NOTES = st.sampled_from(("走访了办公场地", "电话回访", "  "))
SERVICES = st.sampled_from(("财务培训", "项目对接", ""))
TRACKS = st.sampled_from(("incubation", "residency"))
SITES = st.sampled_from(("main", "branch"))
APPLIED_DAYS = st.integers(0, 3000)  # from FIRST_APPLICATION
SHIFTS = st.integers(-150, 150)  # days from the entry date to the corrected one
NAMES = st.sampled_from(("爱心志愿者协会", "青年创业服务中心", "老年协会", "读书会"))
FIELDS = st.sampled_from(("公益慈善", "community_service", "文化体育"))


# Each command's own inputs, besides the case, its date and `data`.
ARGS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "start_inspection": {},
    "assign": {"caseworker": CASEWORKERS},
    "record_visit": {"note": NOTES},
    "submit_for_entry": {},
    "evaluate_entry": {"panel": panels(), "reason": REASONS},
    "resume_coaching": {},
    "record_growth_review": {"panel": panels()},
    "correct_entry_date": {"shift": SHIFTS, "reason": REASONS},
    "evaluate_exit": {"panel": panels(), "reason": REASONS},
    "record_follow_up": {"service": SERVICES},
    "close_case": {"reason": REASONS},
    "reject": {"reason": REASONS},
    "withdraw": {"reason": REASONS},
    "terminate": {"reason": REASONS},
    "admit": {},
    "record_service_evaluation": {"panel": panels()},
    "depart": {"reason": REASONS},
}

# Inputs that pass every guard that runs before the stage check.
SURE_PASS = Panel(("王芳=78", "李强=82", "张敏=70"), valid=True, mean=Fraction(230, 3))
WELL_FORMED: dict[str, dict[str, Any]] = {
    "start_inspection": {},
    "assign": {"caseworker": "赵磊"},
    "record_visit": {"note": "走访了办公场地"},
    "submit_for_entry": {},
    "evaluate_entry": {"panel": SURE_PASS, "reason": None},
    "resume_coaching": {},
    "record_growth_review": {"panel": SURE_PASS},
    "correct_entry_date": {"shift": 1, "reason": "录入错误"},
    "evaluate_exit": {"panel": SURE_PASS, "reason": None},
    "record_follow_up": {"service": "项目对接"},
    "close_case": {"reason": "服务结束"},
    "reject": {"reason": "不符合条件"},
    "withdraw": {"reason": "主动退出"},
    "terminate": {"reason": "停止活动"},
    "admit": {},
    "record_service_evaluation": {"panel": SURE_PASS},
    "depart": {"reason": "迁往新址"},
}
assert WELL_FORMED.keys() == ARGS.keys()

Rule = Callable[..., None]


def command_rule(command: str) -> Callable[[Rule], Rule]:
    """A rule for `command`, enabled while some case's stage allows it (wrong_commands covers
    the others)."""

    def decorate(method: Rule) -> Rule:
        strategies = {"data": st.data(), "delta": DELTAS, **ARGS[command]}
        ruled = cast(Callable[..., Callable[[Rule], Rule]], rule)(**strategies)(method)
        return precondition(lambda self: self.fits(command))(ruled)

    return decorate


@dataclass
class ModelCase:
    """What the model believes about one case."""

    id: UUID
    track: str
    site: str
    stage: str
    applied_on: date
    last_on: date
    version: int = 1
    caseworker: str | None = None
    workspace: str | None = None
    entered_on: date | None = None
    submitted_on: date | None = None
    growth_reviews: list[date] = field(default_factory=list)
    exit_on: date | None = None

    def exit_opens(self, entered_on: date | None = None) -> date | None:
        """The first day of the exit evaluation's window, once the case has entered."""
        entered_on = entered_on or self.entered_on
        if entered_on is None:
            return None
        due = add_months(entered_on, IN_SHELL_MONTHS)
        return due - timedelta(days=EXIT_WINDOW_DAYS)

    def earliest_entry(self) -> date:
        """A corrected entry date cannot precede the (latest) submission for entry."""
        return self.submitted_on or self.applied_on

    def allowed_any(self) -> bool:
        """Whether the case is still open."""
        return any(self.stage in stages for stages in ALLOWED[self.track].values())

    def allows(self, command: str) -> bool:
        return self.stage in ALLOWED[self.track].get(command, ())

    def at_the_stage(self, command: str, on: date) -> Outcome | None:
        """The common checks that follow the input guards: stage first, then the date order."""
        if not self.allows(command):
            return "wrong_stage"
        if on < self.last_on:
            return "refused"
        return None


@settings(
    max_examples=40,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
class IncubatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="incubator-stateful-")
        folder = Path(self.tmp.name)
        # An empty settings file: the defaults, whatever INCUBATOR_SETTINGS may say.
        (folder / "settings.toml").write_text("", encoding="utf-8")
        url = f"sqlite:///{folder / 'incubator.sqlite3'}"
        self.inc: Incubator = bootstrap(url, folder / "settings.toml", clock=FixedClock(NOW))
        assert self.inc.service.today() == TODAY
        rules = self.inc.park.rules  # the model's copy of the rules is still right
        assert Fraction(rules.pass_mark) == Fraction(PASS_MARK)
        assert (rules.min_experts, rules.exit_window_days) == (MIN_EXPERTS, EXIT_WINDOW_DAYS)
        assert (rules.in_shell_months, rules.follow_up_months) == (
            IN_SHELL_MONTHS,
            FOLLOW_UP_MONTHS,
        )
        for site, codes in POOL.items():
            for code in codes:
                self.inc.park.workspace(site, code)  # every code of the pool exists
        self.cases: dict[str, ModelCase] = {}  # by label: c1, c2, ...
        self.holders: dict[tuple[str, str], str] = {}  # (site, code) -> label of the holder
        self.released: dict[tuple[str, str], date] = {}  # (site, code) -> when last left
        self.command = ""
        self.forced: ModelCase | None = None  # the case the next _pick returns (see advance)
        self.checked_at = -1  # the log position at the last check of the invariants
        self.checks = 0
        self.probed: set[tuple[str, str]] = set()  # (track, stage) given every wrong command

    def teardown(self) -> None:
        try:
            if self.cases:
                self._caseload_agrees_with_the_cases(self._loaded())
        finally:
            self.inc.close_all()
            self.tmp.cleanup()

    # ---- helpers -------------------------------------------------------------------------------

    def fits(self, command: str) -> bool:
        return any(case.allows(command) for case in self.cases.values())

    def _pick(self, data: st.DataObject, command: str) -> ModelCase:
        """Mostly a case whose stage allows `command`, sometimes any case (or the case `advance`
        chose)."""
        self.command = command  # the command this step issues, for the statistics
        if self.forced is not None:
            case, self.forced = self.forced, None
            return case
        fitting = [label for label, case in self.cases.items() if case.allows(command)]
        if fitting and data.draw(st.sampled_from((True, True, True, False)), label="steer"):
            return self.cases[data.draw(st.sampled_from(fitting), label="case")]
        return self.cases[data.draw(st.sampled_from(sorted(self.cases)), label="case")]

    @staticmethod
    def _date(case: ModelCase, delta: int) -> date:
        return min(case.last_on + timedelta(days=delta), TODAY)

    def _aimed_date(
        self, data: st.DataObject, case: ModelCase, delta: int, boundary: date | None
    ) -> date:
        """The step's date, sometimes the day before or on a rule's boundary (if that is a date
        the case could move to) to catch off-by-one errors."""
        on = self._date(case, delta)
        aim = data.draw(st.sampled_from((None, -1, 0)), label="aim at the boundary")
        if aim is not None and boundary is not None:
            target = boundary + timedelta(days=aim)
            if case.last_on <= target <= self._date(case, max(DELTAS_RANGE)):
                return target
        return on

    def _log_position(self) -> int:
        return self.inc.log.recorder.max_notification_id() or 0

    def _run(self, case: ModelCase, expect: Outcome, call: Callable[[], OrganizationCase]) -> bool:
        """Issue a command; check it was accepted or refused as expected and that a refusal
        left no trace. True if it was recorded (the caller then updates the model)."""
        before = self._log_position()
        version = case.version  # checked against the case whenever the log grows
        event(f"{self.command}: {expect}")
        try:
            result = call()
        except Refused as refusal:
            assert self._log_position() == before, f"a refusal changed the log: {refusal}"
            assert self.inc.service.case(case.id).version == version
            if expect == "ok":
                raise AssertionError(
                    f"refused, but the model expected success: {refusal!r}"
                ) from refusal
            if expect == "wrong_stage":
                assert isinstance(refusal, WrongStage), f"expected WrongStage, got {refusal!r}"
            elif expect == "taken":
                assert isinstance(refusal, WorkspaceTaken), f"expected taken, got {refusal!r}"
            elif expect == "refused":
                assert not isinstance(refusal, WrongStage | WorkspaceTaken), (
                    f"expected a refusal after the stage check, got {refusal!r}"
                )
            return False
        assert expect == "ok", f"recorded, but the model expected {expect}"
        assert result.id == case.id
        assert result.version == version + 1, "one command records one case event"
        assert self._log_position() > before
        case.version += 1
        return True

    def _hold(self, case: ModelCase, code: str) -> None:
        assert (case.site, code) not in self.holders
        case.workspace = code
        self.holders[(case.site, code)] = self._label(case)

    def _release(self, case: ModelCase, on: date) -> None:
        if case.workspace is not None:
            del self.holders[(case.site, case.workspace)]
            self.released[(case.site, case.workspace)] = on
            case.workspace = None

    def _label(self, case: ModelCase) -> str:
        return next(label for label, c in self.cases.items() if c is case)

    def _workspace_outcome(self, case: ModelCase, code: str, on: date) -> Outcome | None:
        holder = self.holders.get((case.site, code))
        if holder is not None and self.cases[holder] is not case:
            return "taken"
        released = self.released.get((case.site, code))
        if holder is None and released is not None and on < released:
            return "taken"  # the last holder left after that day
        return None

    def _who(self, on: date, reason: str | None = None) -> Who:
        return Who(actor=ACTOR, on=on, reason=reason)

    def _ending(
        self,
        command: str,
        data: st.DataObject,
        *,
        delta: int,
        reason: str | None,
        call: Callable[[UUID, Who], OrganizationCase],
        stage: str,
    ) -> None:
        case = self._pick(data, command)
        on = self._date(case, delta)
        expect = case.at_the_stage(command, on)
        if expect is None:
            expect = "ok" if has_text(reason) else "refused"
        if self._run(case, expect, lambda: call(case.id, self._who(on, reason))):
            case.stage, case.last_on = stage, on
            self._release(case, on)

    # ---- applying ------------------------------------------------------------------------------

    @initialize(
        applications=st.lists(
            st.tuples(TRACKS, SITES, APPLIED_DAYS, NAMES, FIELDS), min_size=2, max_size=4
        )
    )
    def first_applications(self, applications: list[tuple[str, str, int, str, str]]) -> None:
        """A few cases from the start, whichever rules this run switches off."""
        for track, site, days, name, field_name in applications:
            self.apply(track, site, days, name, field_name)

    @precondition(
        lambda self: (
            len(self.cases) < MAX_CASES
            and sum(c.allowed_any() for c in self.cases.values()) < MAX_OPEN_CASES
        )
    )
    @rule(track=TRACKS, site=SITES, days=APPLIED_DAYS, name=NAMES, field_name=FIELDS)
    def apply(self, track: str, site: str, days: int, name: str, field_name: str) -> None:
        on = min(FIRST_APPLICATION + timedelta(days=days), TODAY)
        before = self._log_position()
        case = self.inc.service.apply(
            self._who(on),
            name=name,
            field=field_name,
            legal_status="registered",
            track=track,
            site=site,
        )
        assert self._log_position() == before + 1
        label = f"c{len(self.cases) + 1}"
        self.cases[label] = ModelCase(UUID(str(case.id)), track, site, "applied", on, on)
        event(f"apply: {track} at {site}")

    # ---- incubation before entry ---------------------------------------------------------------

    @command_rule("start_inspection")
    def start_inspection(self, data: st.DataObject, delta: int) -> None:
        case = self._pick(data, "start_inspection")
        on = self._date(case, delta)
        expect = case.at_the_stage("start_inspection", on) or "ok"
        if self._run(
            case, expect, lambda: self.inc.service.start_inspection(case.id, self._who(on))
        ):
            case.stage, case.last_on = "inspecting", on

    @command_rule("assign")
    def assign(self, data: st.DataObject, delta: int, caseworker: str) -> None:
        case = self._pick(data, "assign")
        on = self._date(case, delta)
        expect: Outcome | None
        if not has_text(caseworker):
            expect = "guard"
        else:
            expect = case.at_the_stage("assign", on)
            if expect is None:
                expect = "refused" if caseworker.strip() == case.caseworker else "ok"
        if self._run(
            case, expect, lambda: self.inc.service.assign(case.id, self._who(on), caseworker)
        ):
            case.caseworker, case.last_on = caseworker.strip(), on

    @command_rule("record_visit")
    def record_visit(self, data: st.DataObject, delta: int, note: str) -> None:
        case = self._pick(data, "record_visit")
        on = self._date(case, delta)
        expect = "guard" if not has_text(note) else case.at_the_stage("record_visit", on) or "ok"
        if self._run(
            case, expect, lambda: self.inc.service.record_visit(case.id, self._who(on), note)
        ):
            case.last_on = on

    @command_rule("submit_for_entry")
    def submit_for_entry(self, data: st.DataObject, delta: int) -> None:
        case = self._pick(data, "submit_for_entry")
        on = self._date(case, delta)
        expect = case.at_the_stage("submit_for_entry", on) or "ok"
        if self._run(
            case, expect, lambda: self.inc.service.submit_for_entry(case.id, self._who(on))
        ):
            case.stage, case.last_on, case.submitted_on = "entry_review", on, on

    @command_rule("evaluate_entry")
    def evaluate_entry(
        self, data: st.DataObject, delta: int, panel: Panel, reason: str | None
    ) -> None:
        case = self._pick(data, "evaluate_entry")
        on = self._date(case, delta)
        same_site = st.sampled_from(POOL[case.site])
        code = data.draw(
            st.one_of(same_site, same_site, st.none(), st.sampled_from(ALL_CODES)),
            label="workspace",
        )
        expect: Outcome | None
        if not panel.valid or (code is not None and code not in POOL[case.site]):
            expect = "guard"
        else:
            expect = case.at_the_stage("evaluate_entry", on)
            if expect is None and panel.size < MIN_EXPERTS:
                expect = "refused"
            if expect is None and panel.passes():
                expect = "refused" if code is None else self._workspace_outcome(case, code, on)
            expect = expect or "ok"
        if not self._run(
            case,
            expect,
            lambda: self.inc.service.evaluate_entry(
                case.id, self._who(on, reason), panel.items, code
            ),
        ):
            return
        case.last_on = on
        if panel.passes():
            assert code is not None
            case.stage, case.entered_on = "incubating", on
            self._hold(case, code)
        else:
            case.stage = "declined"

    @command_rule("resume_coaching")
    def resume_coaching(self, data: st.DataObject, delta: int) -> None:
        case = self._pick(data, "resume_coaching")
        on = self._date(case, delta)
        expect = case.at_the_stage("resume_coaching", on) or "ok"
        if self._run(
            case, expect, lambda: self.inc.service.resume_coaching(case.id, self._who(on))
        ):
            case.stage, case.last_on = "inspecting", on

    # ---- incubating and after ------------------------------------------------------------------

    @command_rule("record_growth_review")
    def record_growth_review(self, data: st.DataObject, delta: int, panel: Panel) -> None:
        case = self._pick(data, "record_growth_review")
        on = self._date(case, delta)
        expect: Outcome | None = "guard"
        if panel.valid:
            expect = case.at_the_stage("record_growth_review", on)
            if expect is None and panel.size < 1:
                expect = "refused"
        if self._run(
            case,
            expect or "ok",
            lambda: self.inc.service.record_growth_review(case.id, self._who(on), panel.items),
        ):
            case.growth_reviews.append(on)
            case.last_on = on

    @command_rule("correct_entry_date")
    def correct_entry_date(
        self, data: st.DataObject, delta: int, shift: int, reason: str | None
    ) -> None:
        case = self._pick(data, "correct_entry_date")
        on = self._date(case, delta)
        to = (case.entered_on or case.applied_on) + timedelta(days=shift)
        latest = min([*case.growth_reviews, *([case.exit_on] if case.exit_on else []), on])
        aim = data.draw(st.sampled_from((None, None, -1, 0, 1, 2)), label="aim at the range")
        if aim is not None:  # around either end of the allowed range
            to = (
                case.earliest_entry() + timedelta(days=aim)
                if aim < 1
                else latest + timedelta(aim - 1)
            )
        expect = case.at_the_stage("correct_entry_date", on)
        if expect is None:
            assert case.entered_on is not None
            in_range = case.earliest_entry() <= to <= latest
            opens = case.exit_opens(to)
            exit_too_early = (
                case.exit_on is not None and opens is not None and (case.exit_on < opens)
            )
            if not has_text(reason) or to == case.entered_on or not in_range or exit_too_early:
                expect = "refused"
        if self._run(
            case,
            expect or "ok",
            lambda: self.inc.service.correct_entry_date(case.id, self._who(on, reason), to),
        ):
            case.entered_on, case.last_on = to, on

    @command_rule("evaluate_exit")
    def evaluate_exit(
        self, data: st.DataObject, delta: int, panel: Panel, reason: str | None
    ) -> None:
        case = self._pick(data, "evaluate_exit")
        opens = case.exit_opens()
        on = self._aimed_date(data, case, delta, opens)
        expect: Outcome | None = "guard"
        if panel.valid:
            expect = case.at_the_stage("evaluate_exit", on)
            if expect is None:
                assert opens is not None
                if not case.growth_reviews or on < opens or panel.size < MIN_EXPERTS:
                    expect = "refused"
        if not self._run(
            case,
            expect or "ok",
            lambda: self.inc.service.evaluate_exit(case.id, self._who(on, reason), panel.items),
        ):
            return
        case.stage = "follow_up" if panel.passes() else "exited"
        case.exit_on = case.last_on = on
        self._release(case, on)

    @command_rule("record_follow_up")
    def record_follow_up(self, data: st.DataObject, delta: int, service: str) -> None:
        case = self._pick(data, "record_follow_up")
        on = self._date(case, delta)
        expect = "guard" if not has_text(service) else case.at_the_stage("record_follow_up", on)
        if self._run(
            case,
            expect or "ok",
            lambda: self.inc.service.record_follow_up(case.id, self._who(on), service),
        ):
            case.last_on = on

    @command_rule("close_case")
    def close_case(self, data: st.DataObject, delta: int, reason: str | None) -> None:
        case = self._pick(data, "close_case")
        ends = add_months(case.exit_on, FOLLOW_UP_MONTHS) if case.exit_on else None
        on = self._aimed_date(data, case, delta, ends)
        expect = case.at_the_stage("close_case", on)
        if expect is None:
            assert case.exit_on is not None
            early = on < add_months(case.exit_on, FOLLOW_UP_MONTHS)
            expect = "refused" if early and not has_text(reason) else "ok"
        if self._run(
            case, expect, lambda: self.inc.service.close_case(case.id, self._who(on, reason))
        ):
            case.stage, case.last_on = "closed", on

    # ---- endings -------------------------------------------------------------------------------

    @command_rule("reject")
    def reject(self, data: st.DataObject, delta: int, reason: str | None) -> None:
        self._ending(
            "reject",
            data,
            delta=delta,
            reason=reason,
            call=self.inc.service.reject,
            stage="rejected",
        )

    @command_rule("withdraw")
    def withdraw(self, data: st.DataObject, delta: int, reason: str | None) -> None:
        self._ending(
            "withdraw",
            data,
            delta=delta,
            reason=reason,
            call=self.inc.service.withdraw,
            stage="withdrawn",
        )

    @command_rule("terminate")
    def terminate(self, data: st.DataObject, delta: int, reason: str | None) -> None:
        self._ending(
            "terminate",
            data,
            delta=delta,
            reason=reason,
            call=self.inc.service.terminate,
            stage="terminated",
        )

    # ---- residency -----------------------------------------------------------------------------

    @command_rule("admit")
    def admit(self, data: st.DataObject, delta: int) -> None:
        case = self._pick(data, "admit")
        on = self._date(case, delta)
        code = data.draw(
            st.sampled_from(POOL[case.site]) | st.sampled_from(ALL_CODES), label="workspace"
        )
        expect: Outcome | None = "guard"
        if code in POOL[case.site]:
            expect = case.at_the_stage("admit", on) or self._workspace_outcome(case, code, on)
        if self._run(
            case, expect or "ok", lambda: self.inc.service.admit(case.id, self._who(on), code)
        ):
            case.stage, case.entered_on, case.last_on = "resident", on, on
            self._hold(case, code)

    @command_rule("record_service_evaluation")
    def record_service_evaluation(self, data: st.DataObject, delta: int, panel: Panel) -> None:
        case = self._pick(data, "record_service_evaluation")
        on = self._date(case, delta)
        expect: Outcome | None = "guard"
        if panel.valid:
            expect = case.at_the_stage("record_service_evaluation", on)
            if expect is None and panel.size < 1:
                expect = "refused"
        if self._run(
            case,
            expect or "ok",
            lambda: self.inc.service.record_service_evaluation(case.id, self._who(on), panel.items),
        ):
            case.last_on = on

    @command_rule("depart")
    def depart(self, data: st.DataObject, delta: int, reason: str | None) -> None:
        self._ending(
            "depart",
            data,
            delta=delta,
            reason=reason,
            call=self.inc.service.depart,
            stage="departed",
        )

    # ---- the happy path ------------------------------------------------------------------------

    @precondition(lambda self: any(c.allowed_any() for c in self.cases.values()))
    @rule(data=st.data(), delta=st.integers(0, 200))
    def advance(self, data: st.DataObject, delta: int) -> None:
        """Take an open case one step along its usual path, with inputs that mostly work: runs
        get deep enough to exit, close and fight over workspaces (rules are also switched off at
        random in each run, which would otherwise stall most cases early)."""
        self._advance(data, delta)

    @precondition(lambda self: any(c.allowed_any() for c in self.cases.values()))
    @rule(data=st.data(), delta=st.integers(0, 200))
    def advance_again(self, data: st.DataObject, delta: int) -> None:
        """The same as advance, as a rule of its own: swarm testing rarely switches off both."""
        self._advance(data, delta)

    def _advance(self, data: st.DataObject, delta: int) -> None:
        open_cases = sorted(label for label, c in self.cases.items() if c.allowed_any())
        case = self.cases[data.draw(st.sampled_from(open_cases), label="case to advance")]
        self.forced = case
        if case.stage == "applied":
            (self.start_inspection if case.track == "incubation" else self.admit)(data, delta)
        elif case.stage == "inspecting":
            self.submit_for_entry(data, delta)
        elif case.stage == "entry_review":
            self.evaluate_entry(data, delta, data.draw(panels(passing=True)), None)
        elif case.stage == "declined":
            self.resume_coaching(data, delta)
        else:
            self._advance_in_the_park(data, delta, case)
        self.forced = None

    @rule(data=st.data(), delta=DELTAS)
    def wrong_commands(self, data: st.DataObject, delta: int) -> None:
        """Commands that a case's stage does not allow, with inputs that pass the guards before
        the stage check: the model expects WrongStage from each (or a guard's refusal when the
        drawn workspace is of another site). The first time in a run that a stage is chosen,
        every such command is issued in turn; later, one of them."""
        candidates = sorted(label for label, c in self.cases.items() if c.allowed_any())
        if not candidates or data.draw(st.sampled_from((False, False, True)), label="any case"):
            candidates = sorted(self.cases)
        # A stage first (one not yet probed, if any), so that rare stages get their share.
        stages = sorted({(self.cases[c].track, self.cases[c].stage) for c in candidates})
        fresh = [stage for stage in stages if stage not in self.probed]
        stage = data.draw(st.sampled_from(fresh or stages), label="stage")
        candidates = [c for c in candidates if (self.cases[c].track, self.cases[c].stage) == stage]
        case = self.cases[data.draw(st.sampled_from(candidates), label="case")]
        commands = [command for command in WELL_FORMED if not case.allows(command)]
        if stage in self.probed:
            commands = [data.draw(st.sampled_from(commands), label="command")]
        self.probed.add(stage)
        for command in commands:
            self.forced = case
            getattr(self, command)(data, delta, **WELL_FORMED[command])
        self.forced = None

    def _advance_in_the_park(self, data: st.DataObject, delta: int, case: ModelCase) -> None:
        """Growth reviews until the exit window is in reach, then the exit evaluation (ending
        the case if it cannot exit by today); follow-up services until the follow-up year ends
        or today comes, then the close (or more services), and now and then a correction of the
        entry date; service evaluations or the departure of a resident."""
        on = self._date(case, delta)
        if case.stage == "incubating":
            opens = case.exit_opens()
            assert opens is not None
            if opens > TODAY:  # entered too recently to exit by today
                self.terminate(data, delta, "停止活动")
            elif not case.growth_reviews or self._date(case, max(DELTAS_RANGE)) < opens:
                self.record_growth_review(data, delta, data.draw(panels(passing=True)))
            else:
                sure = data.draw(st.sampled_from((True, True, True, False)), label="sure pass")
                self.evaluate_exit(data, delta, data.draw(panels(passing=sure)), None)
        elif case.stage == "follow_up":
            assert case.exit_on is not None
            if data.draw(st.sampled_from((False, False, False, True)), label="correct entry"):
                self.correct_entry_date(data, delta, data.draw(SHIFTS), "录入错误")
            elif on < add_months(case.exit_on, FOLLOW_UP_MONTHS) and on < TODAY:
                self.record_follow_up(data, delta, "项目对接")
            elif data.draw(st.booleans(), label="close"):  # the year is over, or it is today
                self.close_case(data, delta, "提前结案")
            else:
                self.record_follow_up(data, delta, "项目对接")
        elif data.draw(st.booleans(), label="stay"):
            self.record_service_evaluation(data, delta, data.draw(panels(passing=True)))
        else:
            self.depart(data, delta, "迁往新址")

    # ---- invariants ----------------------------------------------------------------------------

    @invariant()
    def state_is_consistent(self) -> None:
        """Checked whenever the log has grown (a refusal is checked to leave it as it was)."""
        position = self._log_position()
        if position == self.checked_at:
            return
        self.checked_at = position
        loaded = self._loaded()
        self._cases_agree_with_the_model(loaded)
        self._no_workspace_is_held_twice(loaded)
        self.checks += 1
        if self.checks % READ_MODEL_EVERY == 0:  # catching up is slow; teardown checks too
            self._caseload_agrees_with_the_cases(loaded)

    def _loaded(self) -> dict[str, OrganizationCase]:
        return {label: self.inc.service.case(c.id) for label, c in self.cases.items()}

    def _cases_agree_with_the_model(self, loaded: dict[str, OrganizationCase]) -> None:
        for label, case in loaded.items():
            expected = self.cases[label]
            event(f"reached {case.track}/{case.stage}")
            assert case.track == expected.track and case.site == expected.site
            assert case.stage in WORKFLOWS[case.track].stages, f"{label}: stage {case.stage}"
            assert (case.workspace is not None) == (case.stage in HOLDING), (
                f"{label} in {case.stage} holds workspace {case.workspace}"
            )
            if expected.entered_on is not None:  # it has entered (and may have left since)
                assert case.entered_on is not None, f"{label} entered but has no entry date"
            assert (case.stage, case.workspace, case.version) == (
                expected.stage,
                expected.workspace,
                expected.version,
            ), label
            assert case.entered_on == expected.entered_on, label
            assert case.last_on == expected.last_on, label
            assert case.caseworker == expected.caseworker, label
            assert case.growth_reviews == expected.growth_reviews, label
            assert case.exit_on == expected.exit_on, label

    def _no_workspace_is_held_twice(self, loaded: dict[str, OrganizationCase]) -> None:
        claims: dict[tuple[str, str], str] = {}
        for label, case in loaded.items():
            if case.workspace is not None:
                place = (case.site, case.workspace)
                assert place not in claims, f"{place} claimed by {claims.get(place)} and {label}"
                claims[place] = label
        assert claims == self.holders
        for site, codes in POOL.items():
            for code in codes:
                claimant = claims.get((site, code))
                claimant_id = loaded[claimant].id if claimant else None
                try:
                    workspace: object = self.inc.log.repository.get(Workspace.id_for(site, code))
                except AggregateNotFoundError:
                    assert claimant is None, f"{site}/{code} claimed by {claimant}, never allocated"
                    continue
                assert isinstance(workspace, Workspace)
                assert workspace.holder == claimant_id, (
                    f"{site}/{code} is held by {workspace.holder}, claimed by {claimant}"
                )

    def _caseload_agrees_with_the_cases(self, loaded: dict[str, OrganizationCase]) -> None:
        self.inc.read_models.catch_up()
        rows = {row["id"]: row for row in self.inc.read_models.caseload()}
        assert len(rows) == len(loaded)
        for label, case in loaded.items():
            row = rows[str(case.id)]
            assert (row["stage"], row["workspace"], row["entered_on"], row["caseworker"]) == (
                case.stage,
                case.workspace,
                case.entered_on,
                case.caseworker,
            ), label


# Long: `pytest -m "not slow"` is the fast loop without it (as TestPartyStateMachine).
TestIncubatorStateMachine = pytest.mark.slow(IncubatorMachine.TestCase)
