"""The deadline declaration (lifecycle/deadlines.py): every clock can start, every ending ends
them, and a case's clocks come from its events alone."""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import Aggregate

from commands import messages as m
from lifecycle import deadlines
from lifecycle.deadlines import ALL_KINDS, END, Effect, effects
from lifecycle.organization import OrganizationCase as Case
from lifecycle.party import PartyIncubation as Track
from lifecycle.project import Project
from tests.given import Scenario


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set(cls.__subclasses__())
    return found | {s for c in found for s in _subclasses(c)}


def _effects_of(event_type: type) -> tuple[Effect, ...]:
    return deadlines._table().get(event_type, ())


def test_every_clock_is_started_by_some_event() -> None:
    started = {e.kind for found in deadlines._table().values() for e in found if e.what == "start"}
    assert started == set(ALL_KINDS)


def test_every_event_that_ends_a_case_or_a_track_ends_its_clocks() -> None:
    """A new way for a case to end cannot leave its deadlines pending: every subclass of
    `Ended` (and the track's `Closed`) is declared to end them."""
    for ending in [*_subclasses(Case.Ended), Track.Closed]:
        assert END in _effects_of(ending), ending.__name__


def test_only_the_events_of_cases_tracks_and_projects_touch_the_clocks() -> None:
    for event_type in deadlines.handled():
        assert issubclass(event_type, Case.Event | Track.Event | Project.Event), event_type
        assert issubclass(event_type, Aggregate.Event)


def test_a_residency_application_starts_no_clock() -> None:
    s = Scenario()
    s.applied(track="residency")
    assert s.case().deadlines(s.park.rules, date(2014, 1, 2)) == []
    [received] = s.history(s.case().id)
    assert effects(received) == ()


def test_a_case_s_clocks_are_what_its_events_say() -> None:
    """Entry starts growth and exit; correcting the entry date moves both; the first review
    meets growth; the exit meets its own and starts the follow-up year."""
    s = Scenario()
    s.case_at("incubating")
    entered = s.case().entered_on
    assert entered is not None
    due = {d.kind: d for d in s.case().deadlines(s.park.rules, entered)}
    assert due["growth_review"].due_on == s.park.rules.growth_review_due(entered)
    assert due["growth_review"].status == "pending"
    s.when(m.CorrectEntryDate, to="2014-02-12", reason="录入错误", on="2014-02-20")
    moved = {d.kind: d for d in s.case().deadlines(s.park.rules, date(2014, 2, 20))}
    assert moved["exit_evaluation"].start_on == date(2014, 2, 12)
    assert moved["exit_evaluation"].due_on == s.park.rules.exit_due(date(2014, 2, 12))
    assert moved["inspection"].status == moved["entry_evaluation"].status == "done"
    s.when(m.RecordGrowthReview, scores={"王芳": 75}, on="2014-07-10")
    s.when(m.RecordGrowthReview, scores={"王芳": 80}, on="2014-08-10")
    reviewed = {d.kind: d for d in s.case().deadlines(s.park.rules, date(2014, 8, 10))}
    assert (reviewed["growth_review"].status, reviewed["growth_review"].met_on) == (
        "done",
        date(2014, 7, 10),  # the first review met it; the second changes nothing
    )
