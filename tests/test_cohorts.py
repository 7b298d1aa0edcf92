"""The read models behind the pictures (issue #15): the cohort funnel, the in-shell periods,
occupancy and party coverage per site, each compared with what the cases' own events say."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle.deadlines import EXIT_EVALUATION, deadlines_of
from tests.cohort import TODAY, Known, in_shell_of_the_log, known_cohort


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Known]:
    cohort = known_cohort(tmp_path_factory.mktemp("cohort"))
    yield cohort
    cohort.system.close_all()


def test_the_funnel_counts_each_years_cohort_as_the_cases_say(known: Known) -> None:
    cases = [known.system.service.case(i) for i in known.ids.values()]
    incubation = [c for c in cases if c.track == "incubation"]
    by_year = {row["year"]: row for row in known.system.read_models.cohort_funnel()}
    assert sorted(by_year) == [2014, 2015]
    for year, row in by_year.items():
        cohort = [c for c in incubation if c.applied_on.year == year]
        assert row["applied"] == len(cohort)
        assert row["entered"] == sum(c.entered_on is not None for c in cohort)
        assert row["exited"] == sum(c.stage in ("follow_up", "closed") for c in cohort)
        assert row["closed"] == sum(c.stage == "closed" for c in cohort)
    assert by_year[2014] == {"year": 2014, "applied": 6, "entered": 4, "exited": 1, "closed": 1}


def test_the_funnel_by_entry_year_counts_the_cases_that_entered_then(known: Known) -> None:
    rows = known.system.read_models.cohort_funnel(by="entered")
    assert [(r["year"], r["applied"], r["entered"]) for r in rows] == [(2014, 4, 4), (2015, 1, 1)]
    residents = known.system.read_models.cohort_funnel(by="entered", track="residency")
    assert [(r["year"], r["entered"], r["exited"]) for r in residents] == [(2014, 1, 0)]
    main = known.system.read_models.cohort_funnel(site="main")
    assert [(r["year"], r["applied"], r["entered"]) for r in main] == [(2014, 3, 3)]


def test_the_in_shell_periods_are_the_entry_and_exit_dates_of_the_events(known: Known) -> None:
    rows = known.system.read_models.in_shell()
    park, service = known.system.park, known.system.service
    assert [r["name"] for r in rows] == [
        "爱心志愿者协会",
        "心理疏导工作室",  # the same entry date: by name
        "阳光助残服务队",
        "伊金霍洛读书会",
        "青少年科学社",
    ]
    for row in rows:
        case_id = known.ids[row["name"]]
        assert (row["entered_on"], row["left_on"]) == in_shell_of_the_log(service, case_id)
        case = service.case(case_id)
        due = {d.kind: d for d in deadlines_of(case, park.rules, TODAY)}[EXIT_EVALUATION]
        assert row["exit_due"] == due.due_on
    left = {r["name"]: r["left_to"] for r in rows}
    assert left["爱心志愿者协会"] == "follow_up"
    assert left["心理疏导工作室"] == "terminated"
    assert left["阳光助残服务队"] is None


def test_the_in_shell_periods_of_a_year_a_site_a_track(known: Known) -> None:
    models = known.system.read_models
    assert [r["name"] for r in models.in_shell(year=2015)] == ["青少年科学社"]
    assert {r["name"] for r in models.in_shell(site="branch", track=None)} == {
        "阳光助残服务队",
        "青年创业服务中心",
    }
    resident = models.in_shell(track="residency")
    assert [(r["name"], r["exit_due"]) for r in resident] == [("青年创业服务中心", None)]


def test_occupancy_per_site_counts_the_workspaces_the_cases_hold(known: Known) -> None:
    service = known.system.service
    held = Counter(
        c.site for i in known.ids.values() if (c := service.case(i)).workspace is not None
    )
    rows = known.system.read_models.occupancy_by_site()
    assert [r["site"] for r in rows] == list(known.system.park.sites)
    for row in rows:
        assert row["held"] == held[row["site"]]
        assert row["total"] == len(known.system.park.sites[row["site"]].workspaces)
    assert held == {"main": 1, "branch": 2, "community-3": 1}


def test_party_coverage_per_site_is_the_cases_in_the_park_with_a_party_track(
    known: Known,
) -> None:
    service = known.system.service
    in_park = [
        c
        for i in known.ids.values()
        if (c := service.case(i)).stage in ("incubating", "follow_up", "resident")
    ]
    rows = {r["site"]: r for r in known.system.read_models.party_coverage_by_site()}
    for site in known.system.park.sites:
        here = [c for c in in_park if c.site == site]
        assert rows[site]["organizations"] == len(here)
        assert rows[site]["covered"] == sum(service.party_track(c) is not None for c in here)
    assert (rows["main"]["organizations"], rows["main"]["covered"]) == (1, 0)  # imported
    assert (rows["branch"]["organizations"], rows["branch"]["covered"]) == (2, 2)
    # the per-site figures add up to the park's
    whole = known.system.read_models.party_coverage()
    assert sum(r["covered"] for r in rows.values()) == whole["covered"]
    assert sum(r["organizations"] for r in rows.values()) == whole["organizations"]


def test_the_cohorts_rebuilt_equal_the_incremental(known: Known) -> None:
    models = known.system.read_models
    before = (models.cohort_funnel(), models.in_shell(track=None))
    models.rebuild(["cohorts"])
    assert (models.cohort_funnel(), models.in_shell(track=None)) == before


def test_the_read_models_behind_the_pictures_on_every_backend(
    database_url: str, tmp_path: Path
) -> None:
    """The same answers on PostgreSQL as on SQLite (a year is a number on both)."""
    cohort = known_cohort(tmp_path, database_url)
    try:
        models, service = cohort.system.read_models, cohort.system.service
        assert models.cohort_funnel() == [
            {"year": 2014, "applied": 6, "entered": 4, "exited": 1, "closed": 1},
            {"year": 2015, "applied": 1, "entered": 1, "exited": 0, "closed": 0},
        ]
        for row in models.in_shell(track=None):
            entered, left = in_shell_of_the_log(service, cohort.ids[row["name"]])
            assert (row["entered_on"], row["left_on"]) == (entered, left)
        held = {r["site"]: r["held"] for r in models.occupancy_by_site() if r["held"]}
        assert held == {"main": 1, "branch": 2, "community-3": 1}
        covered = {
            r["site"]: (r["covered"], r["organizations"])
            for r in models.party_coverage_by_site()
            if r["organizations"]
        }
        assert covered == {"main": (0, 1), "branch": (2, 2), "community-3": (1, 1)}
    finally:
        cohort.system.close_all()
