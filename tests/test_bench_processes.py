"""The several-processes benchmark's contended workload, short: two writer processes racing on
the same cases lose no update, and every command they issued is either recorded or a conflict."""

from __future__ import annotations

import pytest

from benchmarks.processes import contended

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_writers_on_the_same_cases_lose_no_update(postgres_url: str) -> None:
    figures = contended(postgres_url, processes=2, seconds=2.0)

    assert figures["accepted"] > 0
    assert figures["lost_races"] > 0, "the writers never raced: the test proves nothing"
    assert figures["accepted"] + figures["conflicts"] == figures["attempted"]
    # the log holds every accepted visit exactly once, and nothing else
    assert figures["lost_updates"] == 0
    assert figures["duplicates"] == 0
    assert figures["unexpected"] == 0
    assert figures["rejected_but_recorded"] == 0
