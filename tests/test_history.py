"""A history says what each event changed: the fields before and after, replayed from the log."""

from __future__ import annotations

import csv
import io
from datetime import date
from uuid import UUID

from commands.bootstrap import Incubator
from commands.queries import history
from tests.builders import drive, new_case
from tests.conftest import who
from tests.test_cli import Shell


def test_each_event_says_which_fields_it_changed_from_what_to_what(incubator: Incubator) -> None:
    service = incubator.service
    case_id = new_case(service)
    drive(service, case_id, "incubating")  # entered 2014-02-10
    service.correct_entry_date(case_id, who("2014-03-01", reason="协议日期"), date(2014, 1, 31))

    events = {e["type"]: e for e in history(incubator.log, case_id)}

    created = events["ApplicationReceived"]["changed"]
    assert created["name"] == {"before": None, "after": "爱心志愿者协会"}
    assert created["stage"] == {"before": None, "after": "applied"}
    assert "caseworker" not in created  # a new case sets no caseworker: nothing to show
    assert events["InspectionStarted"]["changed"] == {
        "stage": {"before": "applied", "after": "inspecting"},
        "last_on": {"before": date(2014, 1, 2), "after": date(2014, 1, 8)},
        "inspected_on": {"before": None, "after": date(2014, 1, 8)},
    }
    corrected = events["EntryDateCorrected"]["changed"]
    assert corrected["entered_on"] == {"before": date(2014, 2, 10), "after": date(2014, 1, 31)}
    assert set(corrected) == {"entered_on", "last_on"}


def test_history_as_csv_is_one_utf8_row_per_event(sqlite_url: str) -> None:
    sh = Shell(sqlite_url)
    org = sh.run(
        "org",
        "apply",
        "--name",
        "心理疏导工作室",
        "--field",
        "疏导维权",
        "--legal-status",
        "filed",
        "--track",
        "incubation",
        "--site",
        "main",
        "--on",
        "2014-01-07",
    ).stdout.strip()
    UUID(org)
    sh.run("org", "assign", org, "--caseworker", "王芳", "--on", "2014-01-08")

    rows = list(csv.DictReader(io.StringIO(sh.run("org", "history", org, "--csv").stdout)))

    assert [r["type"] for r in rows] == ["ApplicationReceived", "CaseworkerAssigned"]
    assert rows[1]["changed"] == "last_on: 2014-01-07 → 2014-01-08; caseworker: — → 王芳"
    assert rows[0]["actor"] == "李娜" and "心理疏导工作室" in rows[0]["data"]
