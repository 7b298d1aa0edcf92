"""An expert panel's scores and what they decide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from lifecycle.bounds import NAME, Invalid, score
from lifecycle.errors import Refused

MAX_SCORE = Decimal(100)
PANEL_MAX = 50  # experts on one evaluation's panel: far above any real one


@dataclass(frozen=True)
class Panel:
    """Each expert's score, 0 to 100, one score per expert."""

    scores: dict[str, Decimal]

    def __post_init__(self) -> None:
        # Also for panels built in code: every score is one a person could have typed.
        for expert, value in self.scores.items():
            NAME.check(expert, "--score (the expert's name)")
            if not _plain_score(value):
                raise Invalid("--score", value, "{expert}'s score must be 0 to 100", expert=expert)

    @classmethod
    def read(cls, scores: Mapping[str, Decimal] | Sequence[str]) -> Panel:
        """From each expert's score, or from EXPERT=N pairs as typed."""
        if isinstance(scores, Mapping):
            return cls(dict(scores))
        return cls.parse(list(scores))

    @classmethod
    def parse(cls, items: list[str] | tuple[str, ...]) -> Panel:
        """From EXPERT=N pairs, as typed on the command line."""
        if len(items) > PANEL_MAX:
            raise Invalid(
                "--score",
                f"{len(items)} scores",
                "must be the scores of at most {most} experts",
                most=PANEL_MAX,
            )
        scores: dict[str, Decimal] = {}
        for item in items:
            expert, sep, value = item.partition("=")
            if not sep or not expert.strip():
                raise Invalid("--score", item, "must be EXPERT=N (for example 王芳=78)")
            expert = NAME.check(expert, "--score (the expert's name)")
            if expert in scores:
                raise Refused(
                    "expert '{expert}' is scored twice; one score per expert",
                    field="scores",
                    expert=expert,
                )
            scores[expert] = _score(expert, value)
        return cls(scores)

    @property
    def mean(self) -> Decimal:
        return mean_of(sum(self.scores.values(), Decimal(0)), len(self.scores))

    @property
    def exact_mean(self) -> Decimal:
        return sum(self.scores.values(), Decimal(0)) / len(self.scores)

    def check_size(self, minimum: int, what: str) -> None:
        if len(self.scores) < minimum:
            raise Refused(
                "{what} needs scores from at least {minimum} expert(s), got {got}",
                field="scores",
                what=what,
                minimum=minimum,
                got=len(self.scores),
            )

    def passes(self, pass_mark: Decimal) -> bool:
        # Exact: the rounded mean shown to people (59.997 -> 60.00) must not decide.
        return sum(self.scores.values(), Decimal(0)) >= pass_mark * len(self.scores)

    def as_data(self) -> dict[str, str]:
        return {expert: str(score) for expert, score in self.scores.items()}


def mean_of(total: Decimal, count: int) -> Decimal:
    """The mean of `count` scores adding up to `total`, rounded to two places for people."""
    return (total / count).quantize(Decimal("0.01"))


def _score(expert: str, value: str) -> Decimal:
    return score(value, f"the score of '{expert}'")


def _plain_score(value: object) -> bool:
    return (
        isinstance(value, Decimal)
        and value.is_finite()
        and not value.is_signed()
        and value <= MAX_SCORE
        and -2 <= int(value.as_tuple().exponent) <= 0
    )
