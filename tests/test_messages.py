"""The command catalogue (commands/messages.py): every message has its command on the command
line, its handler, its help in Chinese and English, and the stages it applies to."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import click
import pytest

from cli.main import cli
from commands import messages
from commands.handlers import HANDLERS
from lifecycle.bounds import Invalid


def _command(message: type[messages.Command]) -> click.Command:
    group: click.Command = cli
    for name in [*message.group.split(), message.verb]:
        assert isinstance(group, click.Group), (message, name)
        found = group.commands.get(name)
        assert found is not None, f"{message.__name__}: no `incubator {message.group} {name}`"
        group = found
    return group


def test_the_catalogue_is_not_empty() -> None:
    assert len(messages.COMMANDS) >= 29
    assert len(set(messages.COMMANDS)) == len(messages.COMMANDS)


@pytest.mark.parametrize("message", messages.COMMANDS, ids=lambda m: m.__name__)
def test_every_message_has_its_command_and_its_handler(message: type[messages.Command]) -> None:
    command = _command(message)
    assert message in HANDLERS, f"{message.__name__} has no handler"
    assert message.zh in (command.help or "") and message.en in (command.help or "")
    names = {p.name for p in command.params}
    for field, spec in messages.params(message):
        assert field in names, f"{message.__name__}.{field} is not a parameter of the command"
        assert spec.zh.strip() and spec.en.strip(), f"{message.__name__}.{field} has no help"
        option = next(p for p in command.params if p.name == field)
        assert option.required == messages.required(message, field), field
        if isinstance(option, click.Option):
            assert spec.zh in (option.help or "") and spec.en in (option.help or "")
    assert {"actor", "as_json"} <= names


@pytest.mark.parametrize("message", messages.COMMANDS, ids=lambda m: m.__name__)
def test_every_step_of_a_case_names_the_stages_it_applies_to(
    message: type[messages.Command],
) -> None:
    """A step of a case, a track, a round, a project or an account (named first) names them."""
    takes_one = any(spec.kind in messages.SUBJECTS for _, spec in messages.params(message))
    assert bool(message.stages()) == takes_one, message.stages()
    if takes_one:
        assert f"stages: {', '.join(message.stages())}" in (_command(message).help or "")


def test_no_command_of_a_case_or_track_is_left_out_of_the_catalogue() -> None:
    """Every trigger a person may give (not the system's own) has its message."""
    from lifecycle.stages import (
        ACCOUNT_WORKFLOW,
        PARTY_WORKFLOW,
        PROJECT_WORKFLOW,
        ROUND_WORKFLOW,
        WORKFLOWS,
    )

    declared = {(m.group, m.trigger) for m in messages.COMMANDS}
    for workflow in WORKFLOWS.values():
        for stage in workflow.stages:
            for verb in workflow.allowed(stage):
                assert ("org", verb.replace("-", "_")) in declared, verb
    for stage in PARTY_WORKFLOW.stages:
        for verb in PARTY_WORKFLOW.allowed(stage):
            assert ("party", verb.replace("-", "_")) in declared, verb
    for workflow in (ROUND_WORKFLOW, PROJECT_WORKFLOW):
        for stage in workflow.stages:
            for verb in workflow.allowed(stage):
                assert ("round", verb.replace("-", "_")) in declared, verb
    for stage in ACCOUNT_WORKFLOW.stages:
        for verb in ACCOUNT_WORKFLOW.allowed(stage):
            assert ("user", verb.replace("-", "_")) in declared, verb


def test_a_message_checks_its_bounds_when_it_is_made() -> None:
    org = uuid4()
    made = messages.EvaluateEntry(org=org, scores={"王芳": Decimal("80.50")}, workspace=" M-01 ")
    assert made.scores == {"王芳": Decimal("80.5")} and made.workspace == "M-01"
    award = messages.AwardProject(project=org, amount=Decimal("3500.5"))
    assert str(award.amount) == "3500.50"  # yuan, two places
    for bad in (
        lambda: messages.EvaluateEntry(org=org, scores={"王芳": Decimal(101)}),
        lambda: messages.EvaluateEntry(org=org, scores={"\x1b[2J": Decimal(80)}),
        lambda: messages.CountMembers(org=org, formal=10**25),
        lambda: messages.CountMembers(org=org, formal=True),
        lambda: messages.Rate(org=org, stars=6, note="x"),
        lambda: messages.RecordVisit(org=org, note="\u200b"),
        lambda: messages.RecordSupport(org=org, kind="money", note="x"),
        lambda: messages.StartInspection(org="5e14e9f0"),  # type: ignore[arg-type]
        lambda: messages.AwardProject(project=org, amount=3.5),  # type: ignore[arg-type]
        lambda: messages.AwardProject(project=org, amount=Decimal("0.001")),
        lambda: messages.AwardProject(project=org, amount=Decimal(0)),
        lambda: messages.ScoreProject(project=org, expert="王芳", score=Decimal("100.5")),
        lambda: messages.ScreenProject(project=org, passed=None),  # type: ignore[arg-type]
        lambda: messages.AddExpert(round=org, expert="王芳", conflicts=("5e14e9f0",)),  # type: ignore[arg-type]
    ):
        with pytest.raises(Invalid):
            bad()
