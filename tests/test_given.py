"""The given/when/then helper (tests/given.py) catches what it is there to catch."""

from __future__ import annotations

import pytest

from commands import handlers
from commands import messages as m
from commands.handlers import Result, Services
from commands.service import Who
from lifecycle.errors import Refused
from lifecycle.organization import OrganizationCase
from tests.given import Scenario, refused_alone, step


def test_a_refusal_expected_of_a_message_that_is_recorded_fails() -> None:
    s = Scenario()
    s.applied()
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        s.refuses(m.StartInspection, "cannot", on="2014-01-08")


def test_a_refusal_after_something_was_recorded_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Scenario()
    s.applied()
    recorded = handlers.HANDLERS[m.StartInspection]

    def leaky(services: Services, message: m.StartInspection, who: Who) -> Result:
        recorded(services, message, who)
        raise Refused("refused after saving")

    monkeypatch.setitem(handlers.HANDLERS, m.StartInspection, leaky)
    with pytest.raises(AssertionError, match="a refused command recorded something"):
        s.refuses(m.StartInspection, "after saving", on="2014-01-08")


def test_a_refusal_of_one_aggregate_that_leaves_an_event_pending_fails() -> None:
    s = Scenario()
    s.applied()

    def leaky(case: OrganizationCase) -> None:
        case.start_inspection(step("2014-01-08"))
        raise Refused("refused after deciding")

    with pytest.raises(AssertionError, match="left an event pending"):
        refused_alone(s.case(), leaky, "after deciding")


def test_later_messages_are_about_the_case_applied_last() -> None:
    s = Scenario()
    first, second = s.applied(), s.applied("社区服务中心")
    s.given(m.StartInspection, on="2014-01-08")
    assert (s.case(first).stage, s.case(second).stage) == ("applied", "inspecting")
