"""The park a case lives in: its sites and workspaces, its fields, and the numbers its rules use.

Values come from the settings file (commands/settings.py); these classes only hold and check them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from lifecycle.bounds import shown
from lifecycle.errors import Refused
from schedules.calendar import add_months
from schedules.reminders import ReminderPolicy
from schedules.workdays import WorkingDays

LEGAL_STATUSES = ("unregistered", "filed", "registered")
# The lengths of the periods the deadlines count (the settings' [periods]).
LENGTHS = (
    "growth_review_months",
    "in_shell_months",
    "follow_up_months",
    "inspection_days",
    "entry_evaluation_days",
    "member_discovery_days",
    "midterm_report_months",
    "final_report_months",
)


@dataclass(frozen=True)
class AccountPolicy:
    """How long a login lasts, and how failed logins lock an account (settings: [accounts])."""

    session_minutes: int = 480
    lock_after_failures: int = 5  # failed logins within the window that lock the account
    failure_window_minutes: int = 15
    lock_minutes: int = 15

    @property
    def session(self) -> timedelta:
        return timedelta(minutes=self.session_minutes)

    @property
    def failure_window(self) -> timedelta:
        return timedelta(minutes=self.failure_window_minutes)

    @property
    def lock(self) -> timedelta:
        return timedelta(minutes=self.lock_minutes)


@dataclass(frozen=True)
class Rules:
    pass_mark: Decimal = Decimal(60)
    min_experts: int = 3
    exit_window_days: int = 30
    growth_review_months: int = 5
    in_shell_months: int = 10
    follow_up_months: int = 12
    inspection_days: int = 14  # service level: inspection started after the application
    entry_evaluation_days: int = 30  # service level: entry evaluation after the submission
    member_discovery_days: int = 30  # party members counted after the party track starts
    midterm_report_months: int = 6  # a venture-philanthropy project's reports, after its award
    final_report_months: int = 12
    # 民法典 第二百零三条: a period whose last day is a statutory day off ends on the next
    # working day (lifecycle/deadlines.py applies it to every deadline).
    ends_on_working_day: bool = True
    calendar: WorkingDays = field(default_factory=WorkingDays, compare=False, repr=False)

    def period_end(self, last_day: date) -> date:
        """The day a period whose nominal last day is `last_day` ends."""
        return self.calendar.on_or_after(last_day) if self.ends_on_working_day else last_day

    def fingerprint(self) -> str:
        """What the deadlines' due dates depend on: the lengths, the day-off rule and the
        calendar."""
        lengths = ",".join(f"{name}={getattr(self, name)}" for name in LENGTHS)
        return f"{lengths}|{self.ends_on_working_day}|{self.calendar.fingerprint()}"

    def growth_review_due(self, entered_on: date) -> date:
        return add_months(entered_on, self.growth_review_months)

    def exit_due(self, entered_on: date) -> date:
        return add_months(entered_on, self.in_shell_months)

    def exit_opens(self, entered_on: date) -> date:
        return self.exit_due(entered_on) - timedelta(days=self.exit_window_days)

    def follow_up_end(self, exited_on: date) -> date:
        return add_months(exited_on, self.follow_up_months)

    def inspection_due(self, applied_on: date) -> date:
        return applied_on + timedelta(days=self.inspection_days)

    def entry_evaluation_due(self, submitted_on: date) -> date:
        return submitted_on + timedelta(days=self.entry_evaluation_days)

    def member_discovery_due(self, started_on: date) -> date:
        return started_on + timedelta(days=self.member_discovery_days)

    def midterm_report_due(self, awarded_on: date) -> date:
        return add_months(awarded_on, self.midterm_report_months)

    def final_report_due(self, awarded_on: date) -> date:
        return add_months(awarded_on, self.final_report_months)


@dataclass(frozen=True)
class VentureRules:
    """Venture-philanthropy rounds (公益创投): what a round takes when its creator says nothing.
    (The reports an award agrees are clocks like the others: `Rules`, lifecycle/deadlines.py.)"""

    pass_mark: Decimal = Decimal(60)
    min_scores: int = 3


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    workspaces: tuple[str, ...]


@dataclass(frozen=True)
class Park:
    name: str
    timezone: str
    sites: dict[str, Site]
    fields: dict[str, str]  # English key -> Chinese name
    rules: Rules = field(default_factory=Rules)
    venture: VentureRules = field(default_factory=VentureRules)
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    accounts: AccountPolicy = field(default_factory=AccountPolicy)
    signing_key: str | None = None  # the file of the key that signs audit checkpoints

    def local(self, moment: datetime) -> datetime:
        """A local time of the park (naive) as a moment."""
        if moment.tzinfo is not None:
            return moment
        return moment.replace(tzinfo=ZoneInfo(self.timezone))

    def site(self, key: str) -> Site:
        if key not in self.sites:
            raise Refused(
                "unknown site {site}; sites: {sites}",
                field="site",
                site=shown(key),
                sites=", ".join(self.sites),
            )
        return self.sites[key]

    def site_key(self, given: str) -> str:
        """A site by its key (main) or its name (主园区)."""
        for site in self.sites.values():
            if given in (site.key, site.name):
                return site.key
        return self.site(given).key  # refused, naming the sites

    def workspace(self, site_key: str, code: str) -> str:
        site = self.site(site_key)
        if code not in site.workspaces:
            raise Refused(
                "workspace {code} is not at site {site}; its workspaces are {workspaces}",
                field="workspace",
                code=shown(code),
                site=shown(site_key),
                workspaces=_span(site.workspaces),
            )
        return code

    def field_key(self, given: str) -> str:
        """A field by its English key or its Chinese name."""
        if given in self.fields:
            return given
        for key, name in self.fields.items():
            if name == given:
                return key
        options = ", ".join(f"{k} ({n})" for k, n in self.fields.items())
        raise Refused(
            "unknown field {given}; fields: {fields}",
            field="field",
            given=shown(given),
            fields=options,
        )


def check_legal_status(given: str) -> str:
    if given not in LEGAL_STATUSES:
        raise Refused(
            "unknown legal status {given}; allowed: {allowed}",
            field="legal_status",
            given=shown(given),
            allowed=", ".join(LEGAL_STATUSES),
        )
    return given


def _span(codes: tuple[str, ...]) -> str:
    if len(codes) > 6:
        return f"{codes[0]} … {codes[-1]} ({len(codes)})"
    return ", ".join(codes)
