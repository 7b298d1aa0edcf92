"""Deadline reminders end to end through the real `incubator` executable: `reminders scan`,
`reminders preview`, `inbox`, `scheduler` and the reminders in `org history`.

The command line's clock is fixed at 2026-11-29 20:00 in Shanghai (INCUBATOR_NOW), so the cases
are created with past business dates: their inspection clocks (14 days from the
application) have reminders that are already due. The steps of each deadline, from
commands/defaults.toml (30/7/1 days before, from 08:00 Shanghai on working days, the day before
when it falls on a day off; escalations to 园区主任 1 day after the due date, then weekly, on the
working day after a day off, at most 4):

- 爱心志愿者协会, applied 2026-10-01 (王芳), inspection due 2026-10-15: remind-30 before the clock
  started (skipped); remind-7 2026-10-08, remind-1 10-14, escalate-1 10-16, escalate-2 10-23,
  escalate-3 10-30, escalate-4 11-06.
- 社区睦邻服务社, applied 2026-11-13 (王芳), due 2026-11-27: remind-7 11-20, remind-1 11-26,
  escalate-1 11-28 (Sat) → 11-30, escalate-2 12-07, escalate-3 12-14, escalate-4 12-21.
- 阳光助残服务队, applied 2026-11-20 (刘洋), due 2026-12-04: remind-7 11-27, remind-1 12-03,
  escalate-1 12-05 (Sat) → 12-07, escalate-2 12-14, escalate-3 12-21, escalate-4 12-28.
- 市民学堂, applied 2026-09-24 (王芳), due 2026-10-08: remind-7 (10-01) and remind-1 (10-07)
  fall in the National Day holiday and both go out on 2026-09-30; escalate-1 10-09, escalate-2
  10-16, escalate-3 10-23, escalate-4 10-30.
- 青年书法社, applied 2026-11-13, nobody assigned: the steps of 社区睦邻服务社, all to 园区主任.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from tests.test_cli import COMMAND, Shell

pytestmark = pytest.mark.slow

PARK = ZoneInfo("Asia/Shanghai")
DIRECTOR = "园区主任"
SMTP_ENV = "INCUBATOR_SMTP_URL"
AIXIN, SHEQU, YANGGUANG = "爱心志愿者协会", "社区睦邻服务社", "阳光助残服务队"
SHIMIN, SHUFA = "市民学堂", "青年书法社"
SCAN_LINE = re.compile(r"incubator\.scheduler scan: (\d+) recorded")


FROZEN = datetime(2026, 11, 29, 20, 0, tzinfo=PARK)  # INCUBATOR_NOW for every command here


def today() -> date:
    return FROZEN.date()


def shell(database_url: str, **env: str) -> Shell:
    sh = Shell(database_url, **{"INCUBATOR_NOW": FROZEN.isoformat(), **env})
    if SMTP_ENV not in env:
        sh.env.pop(SMTP_ENV, None)  # no mail unless a test asks for it
    return sh


def open_case(sh: Shell, name: str, on: str, caseworker: str) -> str:
    org = sh.run(
        "org",
        "apply",
        "--name",
        name,
        "--field",
        "社区服务",
        "--legal-status",
        "filed",
        "--track",
        "incubation",
        "--site",
        "main",
        "--on",
        on,
    ).stdout.strip()
    sh.run("org", "assign", org, "--caseworker", caseworker, "--on", on)
    return org


def three_cases(sh: Shell) -> dict[str, str]:
    return {
        AIXIN: open_case(sh, AIXIN, "2026-10-01", "王芳"),
        SHEQU: open_case(sh, SHEQU, "2026-11-13", "王芳"),
        YANGGUANG: open_case(sh, YANGGUANG, "2026-11-20", "刘洋"),
    }


def scan(sh: Shell, *args: str) -> list[dict[str, Any]]:
    result = sh.json("reminders", "scan", *args)
    assert result["mail"] == []  # no INCUBATOR_SMTP_URL: nothing is mailed
    return list(result["recorded"])


def steps(recorded: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(r["organization"], r["step"], r["to"], r["type"]) for r in recorded]


def reminders_in_history(sh: Shell, org: str) -> list[dict[str, Any]]:
    return [e for e in sh.events(org) if e["type"] in ("ReminderIssued", "DeadlineEscalated")]


# ---- scan, exactly once, catching up; the inboxes; the history -------------------------------


def test_scan_records_what_is_due_once_catches_up_and_fills_the_inboxes(database_url: str) -> None:
    sh = shell(database_url)
    orgs = three_cases(sh)
    assert sh.json("inbox") == []  # nothing went out yet

    # as of a moment in the past: only what was due then
    first = scan(sh, "--now", "2026-10-08T08:00")
    assert len(first) == 1
    assert UUID(first[0].pop("id"))
    assert first[0] == {
        "type": "ReminderIssued",
        "case_id": orgs[AIXIN],
        "organization": AIXIN,
        "kind": "inspection",
        "due_on": "2026-10-15",
        "step": "remind-7",
        "to": "王芳",
        "responsible": "王芳",
    }
    later = scan(sh, "--now", "2026-10-20T12:00")
    assert steps(later) == [
        (AIXIN, "remind-1", "王芳", "ReminderIssued"),
        (AIXIN, "escalate-1", DIRECTOR, "DeadlineEscalated"),
    ]
    assert later[1]["responsible"] == "王芳"
    assert scan(sh, "--now", "2026-10-20T12:00") == []  # exactly once

    # a plain scan catches up the rest: of the missed escalations only the latest
    result = sh.run("reminders", "scan")
    assert result.stdout.splitlines() == [
        f"escalated {AIXIN}  inspection due 2026-10-15  escalate-4  to {DIRECTOR}",
        f"reminded  {SHEQU}  inspection due 2026-11-27  remind-7  to 王芳",
        f"reminded  {SHEQU}  inspection due 2026-11-27  remind-1  to 王芳",
        f"reminded  {YANGGUANG}  inspection due 2026-12-04  remind-7  to 刘洋",
        "4 recorded, 0 mail outcome(s)",
    ]
    assert sh.json("reminders", "scan") == {"recorded": [], "mail": []}

    # the inboxes: what went out and is still pending, soonest first
    now = today()

    def days(due: str) -> int:
        return (date.fromisoformat(due) - now).days

    wang = sh.json("inbox", "--for", "王芳")
    assert [
        (i["for"], i["organization"], i["kind"], i["due_on"], i["status"], i["escalation"])
        for i in wang
    ] == [
        ("王芳", AIXIN, "inspection", "2026-10-15", "escalated", 4),
        ("王芳", SHEQU, "inspection", "2026-11-27", "overdue", 0),
    ]
    assert [(i["case_id"], i["days"], i["responsible"], i["reminded"]) for i in wang] == [
        (orgs[AIXIN], days("2026-10-15"), "王芳", "remind-1"),
        (orgs[SHEQU], days("2026-11-27"), "王芳", "remind-1"),
    ]
    assert [i["reminded_on"] for i in wang] == ["2026-10-20", now.isoformat()]
    liu = sh.json("inbox", "--for", "刘洋")
    assert [(i["organization"], i["due_on"], i["status"], i["days"]) for i in liu] == [
        (YANGGUANG, "2026-12-04", "due", days("2026-12-04"))
    ]
    director = sh.json("inbox", "--for", DIRECTOR)
    assert [
        (i["for"], i["organization"], i["status"], i["escalation"], i["responsible"])
        for i in director
    ] == [(DIRECTOR, AIXIN, "escalated", 4, "王芳")]

    everyone = sh.json("inbox")
    assert sorted(map(repr, everyone)) == sorted(map(repr, wang + liu + director))
    assert [i["due_on"] for i in everyone] == sorted(i["due_on"] for i in everyone)
    text = sh.run("inbox").stdout
    assert "inboxes: 4" in text
    for person in ("王芳", "刘洋", DIRECTOR):
        assert person in text
    assert "escalated (escalation 4)" in text and f"{-days('2026-10-15')} d late" in text
    assert f"in {days('2026-12-04')} d" in text

    # org history: the reminders among the case's events, by the system
    history = sh.events(orgs[AIXIN])
    assert [(e["type"], e["actor"], e["on"]) for e in history] == [
        ("ApplicationReceived", "李娜", "2026-10-01"),
        ("CaseworkerAssigned", "李娜", "2026-10-01"),
        ("ReminderIssued", "system", "2026-10-08"),
        ("ReminderIssued", "system", "2026-10-20"),
        ("DeadlineEscalated", "system", "2026-10-20"),
        ("DeadlineEscalated", "system", now.isoformat()),
    ]
    reminders = history[2:]
    assert [
        (e["data"]["step"], e["data"]["level"], e["data"]["recipient"], e["data"]["due_on"])
        for e in reminders
    ] == [
        ("remind-7", 0, "王芳", "2026-10-15"),
        ("remind-1", 0, "王芳", "2026-10-15"),
        ("escalate-1", 1, DIRECTOR, "2026-10-15"),
        ("escalate-4", 4, DIRECTOR, "2026-10-15"),
    ]
    assert all(e["of"]["aggregate"] == "reminder" and e["version"] == 1 for e in reminders)
    assert len({e["of"]["id"] for e in reminders}) == 4
    assert {e["data"]["case_id"] for e in reminders} == {orgs[AIXIN]}
    assert [(e["type"], e["data"].get("step")) for e in sh.events(orgs[YANGGUANG])] == [
        ("ApplicationReceived", None),
        ("CaseworkerAssigned", None),
        ("ReminderIssued", "remind-7"),
    ]
    text = sh.run("org", "history", orgs[AIXIN]).stdout
    assert "DeadlineEscalated" in text and "by system" in text and "escalate-4" in text


# ---- --now -----------------------------------------------------------------------------------


def test_now_is_a_past_local_time_and_holidays_move_reminders(sqlite_url: str) -> None:
    sh = shell(sqlite_url)
    shimin = open_case(sh, SHIMIN, "2026-09-24", "王芳")
    shufa = sh.run(
        "org",
        "apply",
        "--name",
        SHUFA,
        "--field",
        "文化体育",
        "--legal-status",
        "unregistered",
        "--track",
        "incubation",
        "--site",
        "main",
        "--on",
        "2026-11-13",
    ).stdout.strip()
    before = sh.events(shimin)

    for bad in ("yesterday", "2026-13-01T08:00"):
        error = sh.refused("reminders", "scan", "--now", bad, code=2)
        assert f"'{bad}' is not a local time like 2026-11-30T08:00" in error
    error = sh.refused("reminders", "scan", "--now", "2026-10-20T08:00+08:00", code=2)
    assert "without a zone" in error

    soon = (FROZEN + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    for future in ("2099-01-01T08:00", soon):
        error = sh.refused("reminders", "scan", "--now", future, code=1)
        assert f"--now {future} is in the future" in error
        assert "reminders preview" in error
    assert sh.events(shimin) == before  # nothing recorded
    assert sh.json("inbox") == []

    # remind-7 (10-01) and remind-1 (10-07) fall in the National Day holiday: both go out on
    # the working day before, 2026-09-30, from 08:00 Shanghai time (00:00 UTC)
    assert scan(sh, "--now", "2026-09-30T07:59") == []
    assert steps(scan(sh, "--now", "2026-09-30T08:00")) == [
        (SHIMIN, "remind-7", "王芳", "ReminderIssued"),
        (SHIMIN, "remind-1", "王芳", "ReminderIssued"),
    ]
    # escalate-1 on 10-09, the first day after due (10-08)
    assert steps(scan(sh, "--now", "2026-10-09T08:00")) == [
        (SHIMIN, "escalate-1", DIRECTOR, "DeadlineEscalated")
    ]
    # a plain scan (no --now) takes only the latest missed escalation; with nobody assigned
    # the reminders go to the director
    assert steps(scan(sh)) == [
        (SHIMIN, "escalate-4", DIRECTOR, "DeadlineEscalated"),
        (SHUFA, "remind-7", DIRECTOR, "ReminderIssued"),
        (SHUFA, "remind-1", DIRECTOR, "ReminderIssued"),
    ]
    assert scan(sh) == []
    history = reminders_in_history(sh, shimin)
    assert [(e["data"]["step"], e["data"]["scheduled_at"]) for e in history] == [
        ("remind-7", "2026-09-30 00:00:00+00:00"),
        ("remind-1", "2026-09-30 00:00:00+00:00"),
        ("escalate-1", "2026-10-09 00:00:00+00:00"),
        ("escalate-4", "2026-10-30 00:00:00+00:00"),
    ]
    unassigned = (DIRECTOR, SHUFA, "overdue", 0, None)
    assert [
        (i["for"], i["organization"], i["status"], i["escalation"], i["responsible"])
        for i in sh.json("inbox")
    ] == [
        ("王芳", SHIMIN, "escalated", 4, "王芳"),
        (DIRECTOR, SHIMIN, "escalated", 4, "王芳"),
        unassigned,
    ]
    assert [i["case_id"] for i in sh.json("inbox", "--for", DIRECTOR)] == [shimin, shufa]

    # the deadline met (late), it leaves the inboxes; its reminders stay in the history
    sh.run("org", "start-inspection", shimin, "--on", "2026-11-02")
    assert [
        (i["for"], i["organization"], i["status"], i["escalation"], i["responsible"])
        for i in sh.json("inbox")
    ] == [unassigned]
    assert scan(sh) == []
    assert reminders_in_history(sh, shimin) == history


# ---- preview ---------------------------------------------------------------------------------


def _is_due_now(item: dict[str, Any]) -> bool:
    return bool(item["due_now"])  # the next scan records it


FUTURE = [
    ("2026-11-30T08:00+08:00", SHEQU, "escalate-1", DIRECTOR),
    ("2026-12-03T08:00+08:00", YANGGUANG, "remind-1", "刘洋"),
    ("2026-12-07T08:00+08:00", SHEQU, "escalate-2", DIRECTOR),
    ("2026-12-07T08:00+08:00", YANGGUANG, "escalate-1", DIRECTOR),
    ("2026-12-14T08:00+08:00", SHEQU, "escalate-3", DIRECTOR),
    ("2026-12-14T08:00+08:00", YANGGUANG, "escalate-2", DIRECTOR),
    ("2026-12-21T08:00+08:00", SHEQU, "escalate-4", DIRECTOR),
    ("2026-12-21T08:00+08:00", YANGGUANG, "escalate-3", DIRECTOR),
    ("2026-12-28T08:00+08:00", YANGGUANG, "escalate-4", DIRECTOR),
]
DUE_NOW = [
    ("2026-10-08T08:00+08:00", AIXIN, "remind-7", "王芳"),
    ("2026-10-14T08:00+08:00", AIXIN, "remind-1", "王芳"),
    ("2026-11-06T08:00+08:00", AIXIN, "escalate-4", DIRECTOR),
    ("2026-11-20T08:00+08:00", SHEQU, "remind-7", "王芳"),
    ("2026-11-26T08:00+08:00", SHEQU, "remind-1", "王芳"),
    ("2026-11-27T08:00+08:00", YANGGUANG, "remind-7", "刘洋"),
]


def _preview(sh: Shell, *args: str) -> list[tuple[str, str, str, str]]:
    return [(c["at"], c["organization"], c["step"], c["to"]) for c in sh.json(*args)]


def test_preview_lists_coming_steps_and_records_nothing(sqlite_url: str) -> None:
    sh = shell(sqlite_url)
    orgs = three_cases(sh)
    history = sh.events(orgs[AIXIN])

    coming = sh.json("reminders", "preview", "--days", "40")
    assert [(c["at"], c["organization"], c["step"], c["to"]) for c in coming] == DUE_NOW + FUTURE
    assert [_is_due_now(c) for c in coming] == [True] * len(DUE_NOW) + [False] * len(FUTURE)
    assert {(c["organization"], c["case_id"], c["kind"], c["due_on"]) for c in coming} == {
        (AIXIN, orgs[AIXIN], "inspection", "2026-10-15"),
        (SHEQU, orgs[SHEQU], "inspection", "2026-11-27"),
        (YANGGUANG, orgs[YANGGUANG], "inspection", "2026-12-04"),
    }
    assert _preview(sh, "reminders", "preview", "--days", "0") == DUE_NOW
    text = sh.run("reminders", "preview", "--days", "40").stdout
    assert "reminders in the next 40 day(s)" in text and "escalate-4" in text
    # a preview from a past moment: what had come due by then, and what was coming
    assert _preview(sh, "reminders", "preview", "--days", "7", "--now", "2026-10-10T12:00") == [
        DUE_NOW[0],
        DUE_NOW[1],
        ("2026-10-16T08:00+08:00", AIXIN, "escalate-1", DIRECTOR),
    ]
    assert "--days" in sh.refused("reminders", "preview", "--days", "-1", code=2)
    assert "in the future" in sh.refused(
        "reminders", "preview", "--now", "2099-01-01T08:00", code=1
    )

    # nothing was recorded: the histories and the inboxes are unchanged, a scan still records
    assert sh.events(orgs[AIXIN]) == history
    assert sh.json("inbox") == []
    recorded = scan(sh)
    assert [(r["organization"], r["step"], r["to"]) for r in recorded] == [
        (org, step, to) for _, org, step, to in DUE_NOW
    ]
    # afterwards only what is still to come
    after = sh.json("reminders", "preview", "--days", "40")
    assert [(c["at"], c["organization"], c["step"], c["to"]) for c in after] == FUTURE
    assert not any(_is_due_now(c) for c in after)
    assert _preview(sh, "reminders", "preview", "--days", "0") == []


# ---- the scheduler ---------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


class Scheduler:
    """`incubator scheduler --interval 1` in the background, its log in a file."""

    def __init__(self, sh: Shell, log: Path) -> None:
        self.log = log
        self._out: IO[str] = log.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [*COMMAND, "scheduler", "--interval", "1"],
            env=sh.env,
            stdout=subprocess.DEVNULL,
            stderr=self._out,
            text=True,
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def scans(self) -> list[int]:
        return [int(n) for n in SCAN_LINE.findall(self.text())]

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and how long it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        finally:
            self._out.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._out.close()


@contextmanager
def schedulers(sh: Shell, tmp_path: Path, count: int) -> Iterator[list[Scheduler]]:
    running = [Scheduler(sh, tmp_path / f"scheduler-{n}.log") for n in range(count)]
    try:
        yield running
    finally:
        for s in running:
            s.kill()


def test_the_scheduler_records_due_reminders_and_stops_on_sigterm(
    sqlite_url: str, tmp_path: Path
) -> None:
    sh = shell(sqlite_url)
    orgs = three_cases(sh)
    assert "--interval" in sh.refused("scheduler", "--interval", "0.5", code=2)

    with schedulers(sh, tmp_path, 1) as [scheduler]:
        assert wait_until(lambda: len(scheduler.scans()) >= 2, 20), scheduler.text()
        assert sum(scheduler.scans()) == 6, scheduler.text()
        assert scheduler.scans()[0] == 6 and scheduler.scans()[1:] == [0] * (
            len(scheduler.scans()) - 1
        )
        assert "scanning sqlite:///" in scheduler.text() and "every 1 s" in scheduler.text()
        assert scan(sh) == []  # the scheduler recorded them all
        code, took = scheduler.stop()
    assert code == 0, scheduler.text()
    assert took < 10
    assert scheduler.text().rstrip().splitlines()[-1].endswith("incubator.scheduler stopped")
    assert "scan failed" not in scheduler.text()

    assert [(e["data"]["step"], e["actor"]) for e in reminders_in_history(sh, orgs[AIXIN])] == [
        ("remind-7", "system"),
        ("remind-1", "system"),
        ("escalate-4", "system"),
    ]
    assert [e["data"]["step"] for e in reminders_in_history(sh, orgs[SHEQU])] == [
        "remind-7",
        "remind-1",
    ]
    assert [e["data"]["step"] for e in reminders_in_history(sh, orgs[YANGGUANG])] == ["remind-7"]


def test_two_schedulers_on_one_database_record_each_reminder_once(
    database_url: str, tmp_path: Path
) -> None:
    sh = shell(database_url)
    orgs = three_cases(sh)

    with schedulers(sh, tmp_path, 2) as running:
        assert wait_until(lambda: all(len(s.scans()) >= 2 for s in running), 25), [
            s.text() for s in running
        ]
        stopped = [s.stop() for s in running]
    for (code, took), s in zip(stopped, running, strict=True):
        assert code == 0, s.text()
        assert took < 10
        assert s.text().rstrip().splitlines()[-1].endswith("incubator.scheduler stopped")
        assert "scan failed" not in s.text(), s.text()
    # between them they recorded the six due reminders, each once
    assert sum(sum(s.scans()) for s in running) == 6, [s.text() for s in running]
    recorded = Counter(
        (name, e["data"]["step"])
        for name, org in orgs.items()
        for e in reminders_in_history(sh, org)
    )
    assert recorded == Counter(
        {
            (AIXIN, "remind-7"): 1,
            (AIXIN, "remind-1"): 1,
            (AIXIN, "escalate-4"): 1,
            (SHEQU, "remind-7"): 1,
            (SHEQU, "remind-1"): 1,
            (YANGGUANG, "remind-7"): 1,
        }
    )
    assert scan(sh) == []
    assert [(i["for"], i["organization"]) for i in sh.json("inbox")] == [
        ("王芳", AIXIN),
        (DIRECTOR, AIXIN),
        ("王芳", SHEQU),
        ("刘洋", YANGGUANG),
    ]


# ---- a malformed SMTP URL ----------------------------------------------------------------------


def test_a_malformed_smtp_url_is_refused_before_anything_is_recorded(sqlite_url: str) -> None:
    sh = shell(sqlite_url)
    org = open_case(sh, AIXIN, "2026-10-01", "王芳")
    before = sh.events(org)

    commands = [("reminders", "scan"), ("inbox",), ("reminders", "preview"), ("org", "list")]
    cases = {
        "mail.example.org:25": "INCUBATOR_SMTP_URL must look like smtp://",
        "http://park:s3cret@mail.example.org": "got 'http://park:***@mail.example.org'",
        "smtp://": "INCUBATOR_SMTP_URL must look like smtp://",
        "smtp://mail.example.org?from=park@example.org&tls=yes": (
            "INCUBATOR_SMTP_URL: unknown parameter(s) tls; allowed: from, starttls, timeout"
        ),
        "smtp://park:s3cret@mail.example.org:twenty-five": "INCUBATOR_SMTP_URL: Port could not",
        "smtp://mail.example.org?timeout=soon": "INCUBATOR_SMTP_URL: could not convert",
    }
    for n, (url, message) in enumerate(cases.items()):
        command = commands[n % len(commands)]
        error = shell(sqlite_url, **{SMTP_ENV: url}).refused(*command, code=4)
        assert message in error, (url, command, error)
        assert error.startswith("incubator: ")
        assert "Traceback" not in error and "s3cret" not in error
    scheduler = shell(sqlite_url, **{SMTP_ENV: "mail.example.org:25"})
    error = scheduler.refused("scheduler", "--interval", "1", code=4)
    assert "INCUBATOR_SMTP_URL must look like smtp://" in error

    # nothing was recorded; without the variable the scan records the due reminders
    assert sh.events(org) == before
    assert steps(scan(sh)) == [
        (AIXIN, "remind-7", "王芳", "ReminderIssued"),
        (AIXIN, "remind-1", "王芳", "ReminderIssued"),
        (AIXIN, "escalate-4", DIRECTOR, "DeadlineEscalated"),
    ]


def test_an_smtp_url_that_cannot_be_split_exits_4_not_with_a_traceback(sqlite_url: str) -> None:
    # urlsplit itself refuses an unclosed "[" (ValueError: Invalid IPv6 URL)
    bad = shell(sqlite_url, **{SMTP_ENV: "smtp://park:s3cret@[mail.example.org:587"})
    error = bad.refused("inbox", code=4)
    assert error.startswith("incubator: INCUBATOR_SMTP_URL"), error
    assert "Traceback" not in error and "s3cret" not in error


def test_a_negative_smtp_timeout_is_refused(sqlite_url: str) -> None:
    # smtplib refuses it only when sending ("ValueError: Timeout value out of range"): accepted
    # here, every reminder's mail would fail, be retried and be given up
    bad = shell(sqlite_url, **{SMTP_ENV: "smtp://mail.example.org:587?timeout=-1"})
    error = bad.refused("reminders", "scan", code=4)
    assert "INCUBATOR_SMTP_URL" in error and "timeout" in error, error


@pytest.mark.parametrize("value", ["tomorrow", "2026-11-29T20:00"])
def test_a_fixed_clock_needs_a_moment_with_its_offset(sqlite_url: str, value: str) -> None:
    error = shell(sqlite_url, INCUBATOR_NOW=value).refused("inbox", code=4)
    assert "INCUBATOR_NOW" in error and "2026-11-29T20:00+08:00" in error, error


def test_a_moment_outside_the_years_2000_to_2100_is_refused_before_anything_is_recorded(
    sqlite_url: str,
) -> None:
    sh = shell(sqlite_url)
    org = open_case(sh, AIXIN, "2026-10-01", "王芳")
    before = sh.events(org)

    for bad in ("0001-01-01T00:00", "1999-12-31T23:59"):
        error = sh.refused("reminders", "scan", "--now", bad, code=2)
        assert f"'{bad}': the year must be from 2000 to 2100" in error, error
        assert "Traceback" not in error
    # the earliest year allowed is a scan as of then: nothing was due
    assert scan(sh, "--now", "2000-01-01T00:00") == []

    far = shell(sqlite_url, INCUBATOR_NOW="9999-12-31T23:59+08:00")
    error = far.refused("reminders", "scan", code=4)
    assert error.startswith("incubator: INCUBATOR_NOW='9999-12-31T23:59+08:00'"), error
    assert "2000–2100" in error and "2026-11-29T20:00+08:00" in error
    assert "Traceback" not in error
    assert sh.events(org) == before
