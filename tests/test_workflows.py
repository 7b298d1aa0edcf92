"""The workflows as declared: every stage reachable, ends final, names shared with the CLI."""

from __future__ import annotations

import pytest

from lifecycle.stages import STAGE_NAMES_ZH, WORKFLOWS, Workflow


def reachable(workflow: Workflow, dest_of: dict[tuple[str, str], list[str]]) -> set[str]:
    seen, todo = {"applied"}, ["applied"]
    while todo:
        stage = todo.pop()
        for command in workflow.allowed(stage):
            for dest in dest_of.get((stage, command), []):
                if dest not in seen:
                    seen.add(dest)
                    todo.append(dest)
    return seen


@pytest.mark.parametrize("track", ["incubation", "residency"])
def test_every_stage_is_reachable_and_ends_are_final(track: str) -> None:
    workflow = WORKFLOWS[track]
    dest_of: dict[tuple[str, str], list[str]] = {}
    for stage in workflow.stages:
        for command in workflow.allowed(stage):
            trigger = command.replace("-", "_")
            dests = {workflow.advance(stage, trigger, passed=p) for p in (True, False)}
            dest_of[(stage, command)] = sorted(dests)
    assert reachable(workflow, dest_of) == set(workflow.stages)
    ends = {s for s in workflow.stages if workflow.is_final(s)}
    expected = (
        {"closed", "rejected", "withdrawn", "exited", "terminated"}
        if track == "incubation"
        else {"departed", "rejected", "withdrawn"}
    )
    assert ends == expected
    assert set(workflow.stages) <= set(STAGE_NAMES_ZH)


def test_evaluations_branch_on_the_outcome() -> None:
    incubation = WORKFLOWS["incubation"]
    assert incubation.advance("entry_review", "evaluate_entry", passed=True) == "incubating"
    assert incubation.advance("entry_review", "evaluate_entry", passed=False) == "declined"
    assert incubation.advance("incubating", "evaluate_exit", passed=True) == "follow_up"
    assert incubation.advance("incubating", "evaluate_exit", passed=False) == "exited"
