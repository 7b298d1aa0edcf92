"""The network generator (benchmarks/generate.py): a small network driven day by day through the
real services records every stage without a refusal, is the same again from the same seed (on
either backend), rebuilds its read models and verifies as an untouched log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from benchmarks.generate import Summary, generate, main
from commands.bootstrap import Incubator, bootstrap
from commands.settings import load_settings
from schedules.clock import FixedClock
from store import audit
from store.log import event_data
from tests.conftest import NOW
from tests.test_projections import snapshot

# The default "1+1+6" park, applications over three months, a scan every other week: a few
# seconds. This seed's 40 lives pass through every stage, and some wait for a workspace.
SEED, ORGANIZATIONS, YEARS, SCAN_EVERY = 9, 40, 0.25, 10
SHANGHAI = ZoneInfo("Asia/Shanghai")
Lives = dict[str, list[tuple[str, dict[str, Any]]]]


@dataclass
class Generated:
    system: Incubator
    summary: Summary


def generated(url: str, seed: int = SEED) -> Generated:
    system = bootstrap(url, clock=FixedClock(NOW))
    return Generated(
        system, generate(system, ORGANIZATIONS, seed, years=YEARS, scan_every=SCAN_EVERY)
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    generated_once = generated(f"sqlite:///{tmp_path_factory.mktemp('network') / 'p.sqlite3'}")
    yield generated_once
    generated_once.system.close_all()


def events(system: Incubator) -> Iterator[Any]:
    """Every event of the log, in order."""
    recorder, mapper, position = system.log.recorder, system.log.mapper, 0
    while batch := recorder.select_notifications(
        start=position, limit=1000, inclusive_of_start=False
    ):
        yield from (mapper.to_domain_event(n) for n in batch)
        position = batch[-1].id


def kind(event: Any) -> str:
    return type(event).__qualname__


def owner(first: Any) -> str:
    """Whose an aggregate is, from its first event: an organization's (its case, party track and
    reminders), a workspace's or a joint branch's."""
    data = event_data(first)
    match kind(first):
        case "OrganizationCase.ApplicationReceived":
            return str(data["name"])
        case "PartyIncubation.Started":
            return str(data["org_name"])
        case "Workspace.Registered":
            return f"{data['site']}/{data['code']}"
        case "JointBranch.Created":
            return f"{data['site']}/{data['name']}"
    return str(data["organization"])  # a reminder or an escalation


def lives(system: Incubator) -> Lives:
    """Everyone's events in order, without the ids the library draws."""
    owners: dict[UUID, str] = {}
    found: Lives = {}
    for e in events(system):
        if e.originator_id not in owners:
            owners[e.originator_id] = owner(e)
        name = owners[e.originator_id]
        fields = {k: v for k, v in event_data(e).items() if not isinstance(v, UUID)}
        found.setdefault(name, []).append((kind(e), {**fields, "at": e.timestamp}))
    return found


def test_a_small_network_goes_through_every_stage_without_a_refusal(network: Generated) -> None:
    summary = network.summary
    assert summary.refusals == []
    assert summary.commands > 30 * ORGANIZATIONS
    assert summary.workspace_waits > 0  # some passed cases waited for a free workspace
    kinds = {kind(e).rsplit(".", 1)[-1] for e in events(network.system)}
    assert {
        # the case: inspected, declined and coached again, entered, its entry date corrected
        "SiteVisitRecorded",
        "EntryDeclined",
        "CoachingResumed",
        "EntryApproved",
        "EntryDateCorrected",
        "GrowthReviewRecorded",
        # and its ends: exit evaluations both ways, closed, early ends, residents
        "ExitApproved",
        "ExitFailed",
        "FollowUpServiceRecorded",
        "CaseClosed",
        "ApplicationRejected",
        "Withdrawn",
        "Terminated",
        "ResidentAdmitted",
        "ServiceEvaluationRecorded",
        "Departed",
        # the party track: members developed, branches joined, founded, constituted
        "MembersCounted",
        "InstructorAssigned",
        "DevelopmentRecorded",
        "JointBranchJoined",
        "BranchFounded",
        "Constituted",
        "ServiceRecorded",
        "Rated",
        "Closed",
        # deadlines reminded and missed
        "ReminderIssued",
        "DeadlineEscalated",
    } <= kinds
    assert summary.stages["closed"] > ORGANIZATIONS // 3


def test_every_event_is_written_on_its_business_day_in_office_hours(network: Generated) -> None:
    """The clock moved with the simulated days: no command was dated before or after it."""
    dated = 0
    for e in events(network.system):
        on = getattr(e, "on", None)
        if on is None:
            continue
        local = e.timestamp.astimezone(SHANGHAI)
        assert local.date() == on, (kind(e), on, local)
        assert 8 <= local.hour <= 18, (kind(e), local)
        dated += 1
    assert dated > network.summary.events * 0.9


def test_the_same_seed_gives_the_same_lives_in_another_database(
    network: Generated, database_url: str
) -> None:
    again = generated(database_url)
    try:
        assert again.summary.commands == network.summary.commands
        assert again.summary.events == network.summary.events
        assert lives(again.system) == lives(network.system)
    finally:
        again.system.close_all()


def test_another_seed_gives_other_lives(network: Generated, sqlite_url: str) -> None:
    other = generated(sqlite_url, seed=SEED + 1)
    try:
        assert other.summary.refusals == []
        assert lives(other.system) != lives(network.system)
    finally:
        other.system.close_all()


def test_the_generated_log_rebuilds_its_read_models_and_verifies(network: Generated) -> None:
    system = network.system
    incremental = snapshot(system)
    assert len(incremental["caseload"]) == ORGANIZATIONS
    system.read_models.rebuild()
    assert snapshot(system) == incremental
    verdict = audit.verify(system.read_models.engine, system.trust())
    assert verdict.ok, verdict.problem
    assert verdict.events == verdict.sealed == network.summary.events


def test_the_command_line_writes_the_province_and_a_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'park.sqlite3'}"
    settings = tmp_path / "province.toml"
    arguments = ["--organizations", "6", "--years", "0.1", "--scan-every", "20"]
    arguments += ["--database-url", url, "--settings-out", str(settings), "--json", "--quiet"]

    main(arguments)

    summary = json.loads(capsys.readouterr().out)
    assert summary["organizations"] == 6
    assert summary["refusals"] == []
    assert summary["events"] > 6 * 10
    assert summary["settings"] == str(settings)
    park = load_settings(settings)
    assert len(park.sites) == 13 * 4
    assert park.sites["nanjing-main"].name == "南京市社会组织孵化园"
    with pytest.raises(SystemExit):  # the log is no longer new
        main(arguments)
    assert "already holds events" in capsys.readouterr().err
