"""A refusal keeps its template, its values and the field it concerns, so that every adapter
can say it in its own language; the command line's English is the template filled in."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from commands import messages as m
from lifecycle.bounds import Invalid, field_of
from lifecycle.errors import Refused, Term, WrongStage
from tests.given import Scenario


def test_a_refusal_is_its_template_filled_in_and_names_its_field() -> None:
    s = Scenario()
    s.case_at("inspecting")
    refusal = s.refuses(m.SubmitForEntry, "before this case's last recorded step", on="2014-01-05")
    assert refusal.template == (
        "the date {on} is before this case's last recorded step on {last_on}; "
        "steps are recorded in date order"
    )
    assert refusal.params == {"on": date(2014, 1, 5), "last_on": date(2014, 1, 8)}
    assert refusal.field == "on"
    assert str(refusal) == refusal.template.format(**refusal.params)


def test_a_wrong_stage_keeps_the_stage_and_what_is_allowed() -> None:
    s = Scenario()
    s.applied()
    refusal = s.refuses(m.SubmitForEntry, "cannot submit-for-entry", WrongStage, on="2014-01-05")
    assert refusal.params["stage"] == "applied"
    assert "{allowed}" in refusal.template and "start-inspection" in refusal.params["allowed"]


def test_words_of_the_domain_are_terms_to_translate() -> None:
    s = Scenario()
    s.case_at("entry_review")
    refusal = s.refuses(m.EvaluateEntry, "needs scores from at least 3", scores={"王芳": 80})
    assert refusal.params["what"] == "the entry evaluation"
    assert isinstance(refusal.params["what"], Term)
    assert refusal.field == "scores"


def test_a_value_out_of_bounds_names_the_message_field() -> None:
    with pytest.raises(Invalid) as refused:
        m.CountMembers(org=uuid4(), formal=10**25)
    assert refused.value.field == "formal"
    assert refused.value.params["low"] == 0 and refused.value.params["high"] == 10_000
    assert str(refused.value).startswith("--formal must be a whole number from 0 to 10000")
    assert [field_of(p) for p in ("ORG", "--party-members", "--score (the expert's name)")] == [
        "org",
        "party_members",
        "score",
    ]


def test_a_refusal_without_values_is_its_template() -> None:
    assert str(Refused("plain")) == "plain"
