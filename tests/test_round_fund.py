"""No sequence of awards and declines overspends a round's fund (hypothesis).

Random rounds (a fund to the cent), projects (an amount asked, three scores, some below the
pass mark) and a random sequence of awards of random amounts and declines, each decided by the
real dispatcher and, beside it, by a plain model of the rules: the two must agree on every
command, a refused one records nothing, and after every command the round's awards add up to
what its projects were awarded and never to more than its fund.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands import messages as m
from tests.given import AWARDED_ON, Scenario

CENT = Decimal("0.01")
cents = st.integers(min_value=1, max_value=5_000_000).map(lambda c: Decimal(c) * CENT)


@dataclass
class Model:
    """What the rules say, kept apart from the code that enforces them."""

    fund: Decimal
    asked: list[Decimal]
    passing: list[bool]
    status: list[str] = field(default_factory=list)
    awarded: Decimal = Decimal(0)

    def award_refused(self, i: int, amount: Decimal) -> str | None:
        """Why an award of `amount` to project `i` is refused (None: it is not)."""
        if self.status[i] != "screened_in":
            return f"cannot award: the project is in stage '{self.status[i]}'"
        if not self.passing[i]:
            return "is below the round's pass mark"
        if amount > self.asked[i]:
            return "is more than the project asked"
        if self.awarded + amount > self.fund:
            return "above its fund"
        return None


projects = st.lists(
    st.tuples(cents, st.lists(st.integers(40, 100), min_size=3, max_size=3)),
    min_size=1,
    max_size=5,
)
steps = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(["award", "decline"]), cents), max_size=12
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fund=cents, submitted=projects, commands=steps)
def test_no_sequence_of_awards_exceeds_the_fund(
    fund: Decimal,
    submitted: list[tuple[Decimal, list[int]]],
    commands: list[tuple[int, str, Decimal]],
) -> None:
    s = Scenario()
    s.round_with_panel(fund=fund)
    ids = []
    for n, (asked, scores) in enumerate(submitted):
        ids.append(s.scored_project(tuple(scores), name=f"机构{n}", amount=asked))
    model = Model(
        fund=fund,
        asked=[asked for asked, _ in submitted],
        passing=[sum(scores) >= 60 * len(scores) for _, scores in submitted],
        status=["screened_in"] * len(submitted),
    )
    for index, action, amount in commands:
        i = index % len(ids)
        project = ids[i]
        if action == "award":
            why = model.award_refused(i, amount)
            if why is None:
                s.given(m.AwardProject, project=project, amount=amount, on=AWARDED_ON)
                model.status[i], model.awarded = "awarded", model.awarded + amount
            else:
                s.refuses(m.AwardProject, why, project=project, amount=amount, on=AWARDED_ON)
        elif model.status[i] == "screened_in":
            s.given(m.DeclineProject, project=project, reason="评审未入选", on=AWARDED_ON)
            model.status[i] = "declined"
        else:
            s.refuses(
                m.DeclineProject, "cannot decline", project=project, reason="x", on=AWARDED_ON
            )
        r = s.the_round()
        paid_out = [s.the_project(p).awarded for p in ids]
        assert r.awarded_total == model.awarded == sum((a for a in paid_out if a), Decimal(0))
        assert r.awarded_total <= r.fund and r.remaining >= 0
