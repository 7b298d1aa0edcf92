"""Reminder mail through a real SMTP server (aiosmtpd on a local port).

One case applied on 2024-02-20 (incubation track, site main) with caseworker 李强: its inspection
is due on 2024-03-05, reminded on 2024-02-27 (remind-7) and 2024-03-04 (remind-1) at 08:00 in
Shanghai, and escalated to the director 园区主任 on 2024-03-06 (escalate-1) and 2024-03-13
(escalate-2). The clock stands still; each test moves it by hand, so retries, claims and backoff
are decided by the recorded times, never by the wall clock. What went out is what the server
accepted; what was recorded is read back from the log.
"""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller

from commands.bootstrap import Incubator, bootstrap
from commands.reminders import Delivery
from lifecycle.deadlines import INSPECTION, KIND_NAMES_ZH
from lifecycle.reminder import Reminder
from schedules.clock import FixedClock
from schedules.mail import SMTP_ENV, MailError, SmtpMailer
from tests.conftest import who

ORGANIZATION = "爱心志愿者协会"
APPLIED_ON = "2024-02-20"
DUE_ON = date(2024, 3, 5)  # the inspection: 14 days after the application
DUE_ZH = "2024年3月5日"
CASEWORKER, DIRECTOR = "李强", "园区主任"
CASEWORKER_MAIL, DIRECTOR_MAIL = "liqiang@example.org", "director@example.org"
SENDER = "park@example.org"
PEOPLE = {CASEWORKER: CASEWORKER_MAIL, DIRECTOR: DIRECTOR_MAIL}
# Noon in Shanghai: after remind-7 (2024-02-27), before remind-1 (2024-03-04).
AT_REMIND_7 = datetime(2024, 3, 1, 4, 0, tzinfo=UTC)
# 09:00 in Shanghai on the day of each later step (they go out from 08:00).
AT_REMIND_1 = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
AT_ESCALATE_1 = datetime(2024, 3, 6, 1, 0, tzinfo=UTC)
AT_ESCALATE_2 = datetime(2024, 3, 13, 1, 0, tzinfo=UTC)


# ---- the SMTP server ---------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on now (aiosmtpd cannot be asked for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Mail:
    """One mail as the server received it."""

    sender: str
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return str(self.message.get_content())

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class SmtpServer:
    """A real SMTP server on 127.0.0.1: keeps every mail it accepts; while `refusing` is set it
    answers the data with 554 (the mail is then not accepted, and kept in `refused`)."""

    def __init__(self) -> None:
        self.accepted: list[Mail] = []
        self.refused: list[Mail] = []
        self.refusing = False
        self.port = free_port()
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from={SENDER}&timeout=10"

    def mailer(self) -> SmtpMailer:
        return SmtpMailer.from_url(self.url)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(bytes(envelope.content), policy=policy.default)
        mail = Mail(str(envelope.mail_from), [str(to) for to in envelope.rcpt_tos], message)
        with self._lock:
            if self.refusing:
                self.refused.append(mail)
                return "554 5.7.1 mailbox unavailable: refused by policy"
            self.accepted.append(mail)
        return "250 OK"

    def attempts(self) -> int:
        return len(self.accepted) + len(self.refused)


# ---- the park ----------------------------------------------------------------------------------


def settings_file(folder: Path, people: dict[str, str] | None = None) -> Path:
    """A settings file with the mail addresses of `people` (default: caseworker and director)."""
    path = folder / "settings.toml"
    lines = [
        "[people]",
        *(f'"{name}" = "{address}"' for name, address in (people or PEOPLE).items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def apply_case(
    system: Incubator, name: str = ORGANIZATION, caseworker: str | None = CASEWORKER
) -> UUID:
    case = system.service.apply(
        who(APPLIED_ON),
        name=name,
        field="公益慈善",
        legal_status="registered",
        track="incubation",
        site="main",
    )
    case_id = UUID(str(case.id))
    if caseworker is not None:
        system.service.assign(case_id, who(APPLIED_ON), caseworker)
    return case_id


def reminder_id(case_id: UUID, step: str) -> UUID:
    return Reminder.id_for(case_id, INSPECTION, DUE_ON, step)


def message_id(case_id: UUID, step: str) -> str:
    return f"<{reminder_id(case_id, step)}@incubator.reminders>"


def events(system: Incubator, case_id: UUID, step: str) -> list[Any]:
    return list(system.log.events.get(reminder_id(case_id, step)))


def names(recorded: list[Any]) -> list[str]:
    return [type(event).__name__ for event in recorded]


def outbox(system: Incubator, case_id: UUID) -> dict[str, dict[str, Any]]:
    """The outbox read model's rows of the case, by step."""
    return {row["step"]: row for row in system.read_models.reminders_of(str(case_id))}


def outcomes(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    return [(d.outcome, d.to) for d in deliveries]


@dataclass
class Setup:
    """Opens the system on one SQLite file, as often as a test needs (a restart is a new one)."""

    url: str
    settings: Path
    clock: FixedClock
    opened: list[Incubator]

    def open(self, mailer: Any) -> Incubator:
        system = bootstrap(self.url, settings_path=self.settings, clock=self.clock, mailer=mailer)
        self.opened.append(system)
        return system


@pytest.fixture
def park(sqlite_url: str, tmp_path: Path) -> Iterator[Setup]:
    opened: list[Incubator] = []
    yield Setup(sqlite_url, settings_file(tmp_path), FixedClock(AT_REMIND_7), opened)
    for system in opened:
        system.close_all()


# ---- one mail per reminder, in Chinese, to the right person ------------------------------------


def test_each_reminder_and_escalation_is_mailed_once_in_chinese_to_the_one_who_acts(
    park: Setup, smtp: SmtpServer
) -> None:
    system = park.open(smtp.mailer())
    case_id = apply_case(system)

    for at, step in [
        (AT_REMIND_7, "remind-7"),
        (AT_REMIND_1, "remind-1"),
        (AT_ESCALATE_1, "escalate-1"),
        (AT_ESCALATE_2, "escalate-2"),
    ]:
        park.clock.at = at
        scanned, delivered = system.reminders.tick()
        assert [r["step"] for r in scanned] == [step]
        assert [d.reminder_id for d in delivered] == [str(reminder_id(case_id, step))]
        # Ticking, scanning and delivering again at the same time and a little later: nothing.
        assert system.reminders.tick() == ([], [])
        park.clock.at = at + timedelta(hours=2)
        assert system.reminders.scan() == []
        assert system.reminders.deliver() == []
        assert system.reminders.tick() == ([], [])

    mails = smtp.accepted
    assert smtp.refused == []
    assert [(m.message_id, m.to) for m in mails] == [
        (message_id(case_id, "remind-7"), [CASEWORKER_MAIL]),
        (message_id(case_id, "remind-1"), [CASEWORKER_MAIL]),
        (message_id(case_id, "escalate-1"), [DIRECTOR_MAIL]),
        (message_id(case_id, "escalate-2"), [DIRECTOR_MAIL]),
    ]
    kind_zh = KIND_NAMES_ZH[INSPECTION]
    assert kind_zh == "考察启动"
    for mail in mails:
        assert mail.sender == SENDER
        assert mail.message["From"] == SENDER
        for text in (mail.subject, mail.body):
            assert ORGANIZATION in text
            assert kind_zh in text
            assert DUE_ZH in text
        assert f"——{system.park.name}孵化管理系统" in mail.body
        assert "负责人：李强" in mail.body

    remind_7, remind_1, escalate_1, escalate_2 = mails
    assert remind_7.subject == f"【提醒】{ORGANIZATION}：考察启动将于{DUE_ZH}到期"
    assert remind_7.message["To"].addresses[0].display_name == CASEWORKER
    assert remind_7.message["To"].addresses[0].addr_spec == CASEWORKER_MAIL
    assert remind_7.body.startswith(f"{CASEWORKER}：\n")
    assert f"{ORGANIZATION}的考察启动截止日期为{DUE_ZH}，还有4天。" in remind_7.body
    assert "请及时办理" in remind_7.body
    assert "remind-7" in remind_7.body
    assert "还有1天" in remind_1.body

    assert escalate_1.subject == (
        f"【督办】{ORGANIZATION}：考察启动已逾期（{DUE_ZH}到期，第1次督办）"
    )
    assert escalate_1.message["To"].addresses[0].display_name == DIRECTOR
    assert escalate_1.message["To"].addresses[0].addr_spec == DIRECTOR_MAIL
    assert escalate_1.body.startswith(f"{DIRECTOR}：\n")
    assert "已逾期1天" in escalate_1.body
    assert "请督促负责人尽快办理" in escalate_1.body
    assert "第2次督办" in escalate_2.subject
    assert "已逾期8天" in escalate_2.body

    # The log says each was claimed once and delivered once, to that address.
    for step, address in [
        ("remind-7", CASEWORKER_MAIL),
        ("remind-1", CASEWORKER_MAIL),
        ("escalate-1", DIRECTOR_MAIL),
        ("escalate-2", DIRECTOR_MAIL),
    ]:
        recorded = events(system, case_id, step)
        first = "DeadlineEscalated" if step.startswith("escalate") else "ReminderIssued"
        assert names(recorded) == [first, "DeliveryClaimed", "Delivered"]
        assert (recorded[-1].attempt, recorded[-1].to) == (1, address)
        assert recorded[-1].message_id == message_id(case_id, step)
    assert {row["delivery"] for row in outbox(system, case_id).values()} == {"sent"}


def test_a_reminder_that_goes_out_after_its_due_date_does_not_say_it_is_still_to_come(
    park: Setup, smtp: SmtpServer
) -> None:
    """The scheduler was down from Friday to Wednesday: remind-1 (Monday 2024-03-04) goes out
    on 2024-03-06 with the first escalation, a day after the due date. Its body says it is a day
    overdue; its subject must not say the deadline is still to come."""
    system = park.open(smtp.mailer())
    case_id = apply_case(system)
    system.reminders.tick()
    park.clock.at = AT_ESCALATE_1

    scanned, _ = system.reminders.tick()

    assert [r["step"] for r in scanned] == ["remind-1", "escalate-1"]
    [late] = [m for m in smtp.accepted if m.message_id == message_id(case_id, "remind-1")]
    assert f"{ORGANIZATION}的考察启动截止日期为{DUE_ZH}，已逾期1天。" in late.body
    assert f"将于{DUE_ZH}到期" not in late.subject, late.subject


def test_a_case_without_a_caseworker_is_reminded_to_the_director(
    park: Setup, smtp: SmtpServer
) -> None:
    system = park.open(smtp.mailer())
    case_id = apply_case(system, caseworker=None)

    scanned, delivered = system.reminders.tick()

    assert [(r["step"], r["to"], r["responsible"]) for r in scanned] == [
        ("remind-7", DIRECTOR, None)
    ]
    assert outcomes(delivered) == [("sent", DIRECTOR_MAIL)]
    [mail] = smtp.accepted
    assert mail.to == [DIRECTOR_MAIL]
    assert mail.message_id == message_id(case_id, "remind-7")
    assert "负责人：未指派" in mail.body


# ---- refusals, backoff and giving up -----------------------------------------------------------


def test_a_refused_mail_is_recorded_and_retried_after_the_backoff_then_sent_once(
    park: Setup, smtp: SmtpServer
) -> None:
    system = park.open(smtp.mailer())
    case_id = apply_case(system)
    smtp.refusing = True

    _, delivered = system.reminders.tick()

    [failure] = delivered
    assert (failure.outcome, failure.to) == ("failed", CASEWORKER_MAIL)
    assert failure.detail is not None and "554" in failure.detail
    assert len(smtp.refused) == 1 and smtp.accepted == []
    recorded = events(system, case_id, "remind-7")
    assert names(recorded) == ["ReminderIssued", "DeliveryClaimed", "DeliveryFailed"]
    failed = recorded[-1]
    assert failed.attempt == 1
    assert "554" in failed.error and "refused by policy" in failed.error
    assert failed.retry_at == AT_REMIND_7 + timedelta(minutes=1)  # retry_minutes[0]
    row = outbox(system, case_id)["remind-7"]
    assert (row["delivery"], row["attempts"]) == ("failed", 1)
    assert "554" in row["error"]

    smtp.refusing = False
    for early in (AT_REMIND_7, AT_REMIND_7 + timedelta(seconds=59)):
        park.clock.at = early
        assert system.reminders.tick() == ([], [])  # the backoff has not passed: not tried
    assert smtp.attempts() == 1

    park.clock.at = AT_REMIND_7 + timedelta(minutes=1)
    assert outcomes(system.reminders.deliver()) == [("sent", CASEWORKER_MAIL)]
    for later in (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=7)):
        park.clock.at = AT_REMIND_7 + later
        assert system.reminders.deliver() == []

    assert [m.message_id for m in smtp.accepted] == [message_id(case_id, "remind-7")]
    assert [m.message_id for m in smtp.refused] == [message_id(case_id, "remind-7")]
    recorded = events(system, case_id, "remind-7")
    assert names(recorded)[3:] == ["DeliveryClaimed", "Delivered"]
    assert [e.attempt for e in recorded[1:]] == [1, 1, 2, 2]
    assert outbox(system, case_id)["remind-7"]["delivery"] == "sent"


def test_a_mail_refused_every_time_is_given_up_after_the_last_retry_and_never_tried_again(
    park: Setup, smtp: SmtpServer
) -> None:
    system = park.open(smtp.mailer())
    case_id = apply_case(system)
    waits = system.park.reminders.retry_minutes
    assert waits == (1, 5, 30, 120, 360)  # commands/defaults.toml
    smtp.refusing = True

    _, delivered = system.reminders.tick()
    assert [d.outcome for d in delivered] == ["failed"]
    tried_at = AT_REMIND_7
    for number, wait in enumerate(waits, start=2):
        park.clock.at = tried_at + timedelta(minutes=wait) - timedelta(seconds=1)
        assert system.reminders.deliver() == [], f"attempt {number} came before its backoff"
        assert smtp.attempts() == number - 1
        tried_at = tried_at + timedelta(minutes=wait)
        park.clock.at = tried_at
        [outcome] = system.reminders.deliver()
        assert outcome.outcome == ("given_up" if number == len(waits) + 1 else "failed")
        assert smtp.attempts() == number

    recorded = events(system, case_id, "remind-7")
    failures = [e for e in recorded if type(e).__name__ == "DeliveryFailed"]
    assert [e.attempt for e in failures] == [1, 2, 3, 4, 5, 6]
    assert [e.retry_at is None for e in failures] == [False] * 5 + [True]
    row = outbox(system, case_id)["remind-7"]
    assert (row["delivery"], row["attempts"], row["ready_at"]) == ("given_up", 6, None)

    # Given up is final: not when the server accepts again, after a day, nor after a rebuild.
    smtp.refusing = False
    for later in (timedelta(hours=1), timedelta(days=1)):
        park.clock.at = tried_at + later
        assert system.reminders.deliver() == []
    system.read_models.rebuild(["outbox"])
    assert outbox(system, case_id)["remind-7"]["delivery"] == "given_up"
    assert system.reminders.deliver() == []
    assert smtp.accepted == [] and len(smtp.refused) == 6
    assert names(events(system, case_id, "remind-7")) == names(recorded)


def test_an_unreachable_server_is_a_failure_retried_like_a_refusal(
    park: Setup, smtp: SmtpServer
) -> None:
    nobody = SmtpMailer.from_url(f"smtp://127.0.0.1:{free_port()}?from={SENDER}&timeout=5")
    system = park.open(nobody)
    case_id = apply_case(system)

    [failure] = system.reminders.tick()[1]
    assert failure.outcome == "failed"
    assert failure.detail is not None and "ConnectionRefusedError" in failure.detail

    system.reminders.mailer = smtp.mailer()  # the server is back
    park.clock.at = AT_REMIND_7 + timedelta(minutes=1)
    assert outcomes(system.reminders.deliver()) == [("sent", CASEWORKER_MAIL)]
    assert [m.message_id for m in smtp.accepted] == [message_id(case_id, "remind-7")]


# ---- sent is final -----------------------------------------------------------------------------


def test_a_reminder_recorded_as_sent_is_never_mailed_again(park: Setup, smtp: SmtpServer) -> None:
    system = park.open(smtp.mailer())
    case_id = apply_case(system)
    assert outcomes(system.reminders.tick()[1]) == [("sent", CASEWORKER_MAIL)]
    rid = reminder_id(case_id, "remind-7")

    for _ in range(3):
        assert system.reminders.deliver() == []
    park.clock.at = AT_REMIND_7 + timedelta(minutes=system.park.reminders.claim_minutes + 1)
    assert system.reminders.tick() == ([], [])
    # The outbox read model rebuilt from the log still says sent.
    system.read_models.rebuild(["outbox"])
    row = outbox(system, case_id)["remind-7"]
    assert (row["delivery"], row["ready_at"]) == ("sent", None)
    assert system.reminders.deliver() == []
    # Asked for that reminder directly, the sender decides on the log: nothing to do.
    assert system.reminders._deliver(str(rid)) is None
    # A restarted sender on the same database, a day later.
    system.close_all()
    park.opened.remove(system)
    restarted = park.open(smtp.mailer())
    park.clock.at = AT_REMIND_7 + timedelta(days=1)
    assert restarted.reminders.tick() == ([], [])

    assert [m.message_id for m in smtp.accepted] == [message_id(case_id, "remind-7")]
    assert names(events(restarted, case_id, "remind-7")) == [
        "ReminderIssued",
        "DeliveryClaimed",
        "Delivered",
    ]


# ---- a sender that dies after claiming ---------------------------------------------------------


class Crashed(BaseException):
    """The sender process dying (like KeyboardInterrupt or SystemExit): not an `Exception`."""


class CrashingMailer:
    """Hands the mail to the real server, then dies before the outcome can be recorded."""

    def __init__(self, mailer: SmtpMailer) -> None:
        self.mailer = mailer

    def send(self, message: EmailMessage) -> None:
        self.mailer.send(message)
        raise Crashed("killed after the server took the mail")


@pytest.mark.parametrize("how", ["the sender died after mailing", "a claim saved by hand"])
def test_a_claim_without_an_outcome_is_mailed_again_after_the_claim_lapses_with_the_same_message_id(
    park: Setup, smtp: SmtpServer, how: str
) -> None:
    claim_minutes = 10
    if how == "the sender died after mailing":
        dying = park.open(CrashingMailer(smtp.mailer()))
        case_id = apply_case(dying)
        with pytest.raises(Crashed):
            dying.reminders.tick()
        mailed_before = 1
    else:
        dying = park.open(None)
        case_id = apply_case(dying)
        assert [r["step"] for r in dying.reminders.scan()] == ["remind-7"]
        reminder: object = dying.log.repository.get(reminder_id(case_id, "remind-7"))
        assert isinstance(reminder, Reminder)
        reminder.claim(CASEWORKER_MAIL, AT_REMIND_7)
        dying.log.save(reminder)
        mailed_before = 0
    dying.close_all()
    park.opened.remove(dying)
    assert len(smtp.accepted) == mailed_before
    system = park.open(smtp.mailer())
    assert system.park.reminders.claim_minutes == claim_minutes
    recorded = events(system, case_id, "remind-7")
    assert names(recorded) == ["ReminderIssued", "DeliveryClaimed"]
    assert recorded[-1].message_id == message_id(case_id, "remind-7")
    # The outbox, also rebuilt from the log, holds it until the claim lapses.
    lapses = int((AT_REMIND_7 + timedelta(minutes=claim_minutes)).timestamp())
    system.read_models.catch_up()
    assert outbox(system, case_id)["remind-7"]["ready_at"] == lapses
    system.read_models.rebuild(["outbox"])
    row = outbox(system, case_id)["remind-7"]
    assert (row["delivery"], row["attempts"], row["ready_at"]) == ("claimed", 1, lapses)

    for early in (timedelta(0), timedelta(minutes=5), timedelta(minutes=claim_minutes, seconds=-1)):
        park.clock.at = AT_REMIND_7 + early
        assert system.reminders.tick() == ([], []), f"sent again {early} after the claim"
    assert len(smtp.accepted) == mailed_before
    assert outbox(system, case_id)["remind-7"]["delivery"] == "claimed"

    park.clock.at = AT_REMIND_7 + timedelta(minutes=claim_minutes)
    assert outcomes(system.reminders.deliver()) == [("sent", CASEWORKER_MAIL)]
    park.clock.at = AT_REMIND_7 + timedelta(minutes=3 * claim_minutes)
    assert system.reminders.deliver() == []

    assert [m.message_id for m in smtp.accepted] == [message_id(case_id, "remind-7")] * (
        mailed_before + 1
    )
    if mailed_before:
        first, again = smtp.accepted
        assert first.message["Message-ID"] == again.message["Message-ID"]
        assert first.subject == again.subject
    recorded = events(system, case_id, "remind-7")
    assert names(recorded) == ["ReminderIssued", "DeliveryClaimed", "DeliveryClaimed", "Delivered"]
    assert [e.attempt for e in recorded[1:]] == [1, 2, 2]
    assert {e.message_id for e in recorded[1:]} == {message_id(case_id, "remind-7")}


# ---- withdrawn, no address ---------------------------------------------------------------------


def test_a_deadline_met_before_the_mail_goes_out_withdraws_it(
    park: Setup, smtp: SmtpServer
) -> None:
    system = park.open(smtp.mailer())
    case_id = apply_case(system)
    assert [r["step"] for r in system.reminders.scan()] == ["remind-7"]
    system.service.start_inspection(case_id, who("2024-03-01"))  # the inspection deadline is met

    [withdrawn] = system.reminders.deliver()

    assert withdrawn.outcome == "withdrawn"
    assert smtp.attempts() == 0
    recorded = events(system, case_id, "remind-7")
    assert names(recorded) == ["ReminderIssued", "DeliveryWithdrawn"]
    assert "met" in recorded[-1].why
    assert outbox(system, case_id)["remind-7"]["delivery"] == "withdrawn"
    # Nothing more for that deadline: no mail, no later reminders or escalations.
    for at in (AT_REMIND_7 + timedelta(hours=1), AT_REMIND_1, AT_ESCALATE_1):
        park.clock.at = at
        assert system.reminders.tick() == ([], [])
    assert smtp.attempts() == 0


def test_a_deadline_met_while_a_failed_mail_waits_for_its_retry_withdraws_it(
    park: Setup, smtp: SmtpServer
) -> None:
    system = park.open(smtp.mailer())
    case_id = apply_case(system)
    smtp.refusing = True
    assert [d.outcome for d in system.reminders.tick()[1]] == ["failed"]
    smtp.refusing = False
    system.service.start_inspection(case_id, who("2024-03-01"))

    park.clock.at = AT_REMIND_7 + timedelta(minutes=1)
    assert [d.outcome for d in system.reminders.deliver()] == ["withdrawn"]
    assert smtp.accepted == []
    assert names(events(system, case_id, "remind-7"))[-1] == "DeliveryWithdrawn"


def test_a_recipient_without_a_mail_address_fails_naming_the_people_table(
    sqlite_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = settings_file(tmp_path, {DIRECTOR: DIRECTOR_MAIL})  # no address for 李强
    system = bootstrap(
        sqlite_url, settings_path=settings, clock=FixedClock(AT_REMIND_7), mailer=smtp.mailer()
    )
    try:
        case_id = apply_case(system)
        [failure] = system.reminders.tick()[1]

        assert failure.outcome == "failed"
        assert failure.detail is not None
        assert CASEWORKER in failure.detail and "[people]" in failure.detail
        assert smtp.attempts() == 0  # nothing to send it to
        recorded = events(system, case_id, "remind-7")
        assert names(recorded) == ["ReminderIssued", "DeliveryClaimed", "DeliveryFailed"]
        assert "[people]" in recorded[-1].error
        row = outbox(system, case_id)["remind-7"]
        assert row["delivery"] == "failed" and "[people]" in row["error"]
    finally:
        system.close_all()


def test_a_late_scan_mails_only_the_latest_reminder_of_a_deadline(
    park: Setup, smtp: SmtpServer
) -> None:
    """Reminders switched on (or the scheduler back) after 2024-03-04: remind-7 and remind-1
    are both recorded, but the caseworker gets one mail, the latest; the other is withdrawn."""
    system = park.open(smtp.mailer())
    case_id = apply_case(system)
    park.clock.at = AT_REMIND_1

    scanned, delivered = system.reminders.tick()

    assert [r["step"] for r in scanned] == ["remind-7", "remind-1"]
    assert sorted(outcomes(delivered)) == [("sent", CASEWORKER_MAIL), ("withdrawn", "")]
    assert [m.message_id for m in smtp.accepted] == [message_id(case_id, "remind-1")]
    withdrawn = events(system, case_id, "remind-7")
    assert names(withdrawn) == ["ReminderIssued", "DeliveryWithdrawn"]
    assert "remind-1" in withdrawn[-1].why
    park.clock.at = AT_REMIND_1 + timedelta(hours=1)
    assert system.reminders.tick() == ([], [])
    assert len(smtp.accepted) == 1


def test_escalations_recorded_while_mail_was_off_reach_the_director_once_as_the_latest(
    park: Setup, smtp: SmtpServer
) -> None:
    """The reminders went out by mail; then the park ran a week without INCUBATOR_SMTP_URL,
    in which two scans recorded escalate-1 (2024-03-06) and escalate-2 (2024-03-13). With mail
    back on, the director gets one mail, escalate-2; escalate-1 is withdrawn, naming it."""
    mailing = park.open(smtp.mailer())
    case_id = apply_case(mailing)
    for at in (AT_REMIND_7, AT_REMIND_1):
        park.clock.at = at
        assert outcomes(mailing.reminders.tick()[1]) == [("sent", CASEWORKER_MAIL)]
    mailing.close_all()
    park.opened.remove(mailing)

    without_mail = park.open(None)  # restarted without INCUBATOR_SMTP_URL
    for at, step in [(AT_ESCALATE_1, "escalate-1"), (AT_ESCALATE_2, "escalate-2")]:
        park.clock.at = at
        assert [r["step"] for r in without_mail.reminders.scan()] == [step]
        assert without_mail.reminders.deliver() == []  # no mailer: nothing goes out
    for step in ("escalate-1", "escalate-2"):
        assert names(events(without_mail, case_id, step)) == ["DeadlineEscalated"]
    without_mail.close_all()
    park.opened.remove(without_mail)
    assert len(smtp.accepted) == 2  # the two reminders, to the caseworker

    park.clock.at = AT_ESCALATE_2 + timedelta(hours=1)
    system = park.open(smtp.mailer())  # mail switched back on
    assert system.reminders.scan() == []
    delivered = system.reminders.deliver()

    assert sorted((d.reminder_id, d.outcome, d.to) for d in delivered) == sorted(
        [
            (str(reminder_id(case_id, "escalate-1")), "withdrawn", ""),
            (str(reminder_id(case_id, "escalate-2")), "sent", DIRECTOR_MAIL),
        ]
    )
    to_director = [m for m in smtp.accepted if m.to == [DIRECTOR_MAIL]]
    assert [m.message_id for m in to_director] == [message_id(case_id, "escalate-2")]
    assert "第2次督办" in to_director[0].subject
    assert smtp.refused == []
    withdrawn = events(system, case_id, "escalate-1")
    assert names(withdrawn) == ["DeadlineEscalated", "DeliveryWithdrawn"]
    assert "escalate-2" in withdrawn[-1].why
    assert names(events(system, case_id, "escalate-2")) == [
        "DeadlineEscalated",
        "DeliveryClaimed",
        "Delivered",
    ]
    rows = outbox(system, case_id)
    assert (rows["escalate-1"]["delivery"], rows["escalate-2"]["delivery"]) == ("withdrawn", "sent")
    # the reminders' mails stay as they were; nothing more goes out later
    assert names(events(system, case_id, "remind-1")) == [
        "ReminderIssued",
        "DeliveryClaimed",
        "Delivered",
    ]
    park.clock.at = AT_ESCALATE_2 + timedelta(days=1)
    assert system.reminders.tick() == ([], [])
    assert len(smtp.accepted) == 3


# ---- the SMTP URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.org:25?from=park@example.org", "must look like smtp://"),
        ("mail.example.org:25", "must look like smtp://"),
        ("smtp:///?from=park@example.org", "must look like smtp://"),
        (
            "smtp://mail.example.org:25?form=park@example.org",
            "unknown parameter(s) form; allowed: from, starttls, timeout",
        ),
        (
            "smtp://mail.example.org?from=park@example.org&tls=yes&port=2",
            "unknown parameter(s) port, tls; allowed: from, starttls, timeout",
        ),
        ("smtp://mail.example.org:twentyfive", "INCUBATOR_SMTP_URL"),
        ("smtp://mail.example.org?timeout=soon", "INCUBATOR_SMTP_URL"),
        ("smtp://mail.example.org?timeout=0", "timeout must be a number of seconds above 0"),
        ("smtp://mail.example.org?starttls=maybe", "starttls must be true or false"),
        ("smtp://mail.example.org?from=", "from must be a mail address"),
        (
            "smtps://mail.example.org?from=park@example.org&starttls=true",
            "smtps:// is TLS from the start; starttls is for smtp://",
        ),
        ("smtps://mail.example.org:465?starttls=YES", "smtps:// is TLS from the start"),
    ],
)
def test_a_bad_smtp_url_is_refused_with_a_clear_message(url: str, message: str) -> None:
    with pytest.raises(MailError) as refused:
        SmtpMailer.from_url(url)
    assert message in str(refused.value)
    assert SMTP_ENV in str(refused.value)


def test_a_refused_smtp_url_does_not_show_its_password() -> None:
    with pytest.raises(MailError) as refused:
        SmtpMailer.from_url("smtpx://park:s3cret@mail.example.org:587")
    assert "s3cret" not in str(refused.value)
    assert "park:***@mail.example.org" in str(refused.value)


def test_a_good_smtp_url_is_read_whole() -> None:
    mailer = SmtpMailer.from_url(
        "smtp://park%40example.org:p%40ss@mail.example.org:587?from=park@example.org"
        "&starttls=true&timeout=7.5"
    )
    assert mailer == SmtpMailer(
        host="mail.example.org",
        port=587,
        sender="park@example.org",
        tls=False,
        starttls=True,
        user="park@example.org",
        password="p@ss",
        timeout=7.5,
    )
    assert SmtpMailer.from_url("smtps://mail.example.org").port == 465
    plain_tls = SmtpMailer.from_url("smtps://mail.example.org?starttls=false")
    assert (plain_tls.tls, plain_tls.starttls, plain_tls.port) == (True, False, 465)
    assert SmtpMailer.from_url("smtp://mail.example.org").port == 25


def test_bootstrap_refuses_a_bad_smtp_url_from_the_environment(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SMTP_ENV, "smtp://mail.example.org?sender=park@example.org")
    with pytest.raises(MailError, match="unknown parameter"):
        bootstrap(sqlite_url, clock=FixedClock(AT_REMIND_7))


def test_a_sender_takes_the_ready_mails_a_page_at_a_time_and_mails_each_once(
    park: Setup, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("commands.reminders.MAIL_PAGE", 2)
    system = park.open(smtp.mailer())
    cases = [apply_case(system, name=f"{ORGANIZATION}{n}") for n in range(5)]

    scanned, delivered = system.reminders.tick()

    assert len(scanned) == 5
    assert sorted(outcomes(delivered)) == [("sent", CASEWORKER_MAIL)] * 5
    assert sorted(m.message_id for m in smtp.accepted) == sorted(
        message_id(case_id, "remind-7") for case_id in cases
    )
    assert system.reminders.deliver() == []
