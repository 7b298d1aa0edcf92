"""The names the pages show for the domain's keys: stages, commands, tracks, legal statuses,
roles, deadlines, kinds of support and service, fields.

Every name goes through the catalog (web/locale), under a context that says what kind of key it
is (`case stage`, `party command`...): the same key can name two things ("closed" is 结案 for a
case and 结束 for a party track). `MSGIDS` declares them all, from the domain's own declarations
(the workflows of lifecycle/stages.py, the command catalogue, the role table), so the catalog
has an entry for each; a key the catalog does not translate shows as itself, words spaced.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from commands.messages import COMMANDS, Command, ImportCase, Param
from commands.roles import ROLE_NAMES
from lifecycle.deadlines import CLOCKS
from lifecycle.park import LEGAL_STATUSES
from lifecycle.party import SERVICE_KINDS, SUPPORT_KINDS
from lifecycle.project import REPORT_KINDS
from lifecycle.stages import (
    ACCOUNT,
    ACCOUNT_WORKFLOW,
    INCUBATION,
    INDEPENDENT,
    JOINT,
    PARTY,
    PARTY_WORKFLOW,
    PROJECT,
    PROJECT_WORKFLOW,
    RESIDENCY,
    ROUND,
    ROUND_WORKFLOW,
    TRACKS,
    WORKFLOWS,
    Workflow,
)

if TYPE_CHECKING:
    from lifecycle.park import Park
    from web.i18n import Lang

# The workflows whose stages and commands share names: both organization tracks are a case's.
CASE = "case"
FAMILIES = {
    INCUBATION: CASE,
    RESIDENCY: CASE,
    PARTY: PARTY,
    ROUND: ROUND,
    PROJECT: PROJECT,
    ACCOUNT: ACCOUNT,
}
ALL_WORKFLOWS: tuple[Workflow, ...] = (
    *WORKFLOWS.values(),
    PARTY_WORKFLOW,
    ROUND_WORKFLOW,
    PROJECT_WORKFLOW,
    ACCOUNT_WORKFLOW,
)
# The commands that are no step of a workflow, by their group on the command line.
_GROUP_FAMILIES = {
    "org": CASE,
    "party": PARTY,
    "party joint-branch": PARTY,
    "round": ROUND,
    "user": ACCOUNT,
    "privacy": CASE,
}
BRANCH_KINDS = (INDEPENDENT, JOINT, "none")

TRACK, LEGAL_STATUS, ROLE, DEADLINE = "track", "legal status", "role", "deadline"
STATUS, EVENT, AGGREGATE = "deadline status", "event", "aggregate"
# A deadline's status on a day (lifecycle/deadlines.py) and in a person's work (due_dates).
STATUSES = ("pending", "overdue", "done", "cancelled", "due", "soon", "escalated")
AGGREGATES = ("reminder", "project")
SUPPORT, SERVICE, BRANCH, REPORT, FIELD = (
    "support kind",
    "service kind",
    "branch kind",
    "report kind",
    "field",
)


def family(track: str) -> str:
    """The family of a workflow's track: `case` for both organization tracks."""
    return FAMILIES[track]


def family_of_subject(subject: str) -> str:
    """The family of the workflow whose refusals name `subject` ("the party track")."""
    for workflow in ALL_WORKFLOWS:
        if workflow.subject == subject:
            return family(workflow.track)
    return CASE


def label(lang: Lang, context: str, key: str) -> str:
    """The name of `key` in `context`, or the key itself with its words spaced."""
    text = lang.pgettext(context, key)
    return key.replace("_", " ") if text == key else text


def stage(lang: Lang, key: str, track: str = CASE) -> str:
    """A stage of a track (or of a family: `case`, `party`, `round`, `project`)."""
    return label(lang, f"{FAMILIES.get(track, track)} stage", key)


def command_name(lang: Lang, track: str, command: str) -> str:
    """A command of a track's workflow, by its trigger or as the command line spells it."""
    return label(lang, f"{FAMILIES.get(track, track)} command", command.replace("-", "_"))


def any_command(lang: Lang, command: str) -> str:
    """A command named without its workflow (a refusal's `{command}`): the name of the first
    workflow's command of that name (the organization's first)."""
    key = command.replace("-", "_")
    for kin in dict.fromkeys(FAMILIES.values()):
        context = f"{kin} command"
        name = lang.pgettext(context, key)
        if name != key:
            return name
    return key.replace("_", " ")


def command(lang: Lang, message: type[Command]) -> str:
    """The name of a command (`EvaluateEntry`: 入壳评估)."""
    context, key = _command_key(message)
    return label(lang, context, key)


def command_help(lang: Lang, message: type[Command]) -> str:
    """What a command does, in the language its declaration gives."""
    return message.zh if lang.chinese else message.en


def param_help(lang: Lang, spec: Param) -> str:
    return spec.zh if lang.chinese else spec.en


def track(lang: Lang, key: str) -> str:
    return label(lang, TRACK, key)


def legal_status(lang: Lang, key: str) -> str:
    return label(lang, LEGAL_STATUS, key)


def role(lang: Lang, key: str) -> str:
    return label(lang, ROLE, key)


def deadline(lang: Lang, kind: str) -> str:
    return label(lang, DEADLINE, kind)


def support_kind(lang: Lang, key: str) -> str:
    return label(lang, SUPPORT, key)


def service_kind(lang: Lang, key: str) -> str:
    return label(lang, SERVICE, key)


def branch_kind(lang: Lang, key: str) -> str:
    return label(lang, BRANCH, key)


def report_kind(lang: Lang, key: str) -> str:
    return label(lang, REPORT, key)


def field(lang: Lang, key: str, park: Park | None = None) -> str:
    """A field of work: in Chinese, the name the park's settings give it (the list is the
    park's to configure); else the catalog's."""
    if park is not None and lang.chinese and key in park.fields:
        return park.fields[key]
    return label(lang, FIELD, key)


def site(park: Park, key: str) -> str:
    """A site by the name the park's settings give it (主园区); a site they no longer list by
    its key."""
    found = park.sites.get(key)
    return found.name if found is not None else key


# ---- what the catalog holds -------------------------------------------------------------------


def _command_key(message: type[Command]) -> tuple[str, str]:
    if message.trigger is not None:
        return f"{family(message.workflows()[0].track)} command", message.trigger
    return f"{_GROUP_FAMILIES[message.group]} command", _snake(message.__name__)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def msgids() -> Iterator[tuple[str, str]]:
    """Every (context, key) a page may name, from the domain's declarations."""
    for workflow in ALL_WORKFLOWS:
        kin = family(workflow.track)
        for key in workflow.stages:
            yield f"{kin} stage", key
        for trigger in workflow.triggers():
            yield f"{kin} command", trigger
    for message in (*COMMANDS, ImportCase):
        yield _command_key(message)
    yield from ((TRACK, t) for t in TRACKS)
    yield from ((LEGAL_STATUS, s) for s in LEGAL_STATUSES)
    yield from ((ROLE, r) for r in ROLE_NAMES)
    yield from ((DEADLINE, c.kind) for c in CLOCKS)
    yield from ((SUPPORT, k) for k in SUPPORT_KINDS)
    yield from ((SERVICE, k) for k in SERVICE_KINDS)
    yield from ((BRANCH, k) for k in BRANCH_KINDS)
    yield from ((REPORT, k) for k in REPORT_KINDS)
    yield from ((FIELD, k) for k in _default_fields())
    yield from ((STATUS, k) for k in STATUSES)
    yield from ((EVENT, k) for k in event_names())
    yield from ((AGGREGATE, k) for k in AGGREGATES)


def event_names() -> list[str]:
    """The name of every kind of event a timeline shows: the aggregates' own event classes."""
    from eventsourcing.domain import DomainEvent

    from lifecycle.account import Account
    from lifecycle.joint_branch import JointBranch
    from lifecycle.organization import OrganizationCase
    from lifecycle.party import PartyIncubation
    from lifecycle.project import Project
    from lifecycle.reminder import Reminder
    from lifecycle.round import Round

    found: dict[str, None] = {}
    for aggregate in (OrganizationCase, PartyIncubation, JointBranch, Reminder, Account, Round):
        for name, value in vars(aggregate).items():
            if isinstance(value, type) and issubclass(value, DomainEvent):
                found[name] = None
    for name, value in vars(Project).items():
        if isinstance(value, type) and issubclass(value, DomainEvent):
            found[name] = None
    return sorted(set(found) - {"Event", "CaseEvent", "PartyEvent", "AccountEvent"})


def _default_fields() -> Mapping[str, str]:
    from commands.settings import load_settings

    return load_settings().fields


def seeds() -> dict[tuple[str, str], str]:
    """The Chinese names the domain already declares (for exports and the command line): the
    catalog starts from them, and a test keeps the two the same."""
    from commands.importing import LEGAL_STATUS_NAMES_ZH, TRACK_NAMES_ZH
    from commands.roles import ZH as ROLE_NAMES_ZH
    from lifecycle.stages import PARTY_STAGE_NAMES_ZH, PROJECT_STAGE_NAMES_ZH, STAGE_NAMES_ZH

    found: dict[tuple[str, str], str] = {}
    for context, names in (
        (f"{CASE} stage", STAGE_NAMES_ZH),
        (f"{PARTY} stage", PARTY_STAGE_NAMES_ZH),
        (f"{PROJECT} stage", PROJECT_STAGE_NAMES_ZH),
        (TRACK, TRACK_NAMES_ZH),
        (LEGAL_STATUS, LEGAL_STATUS_NAMES_ZH),
        (ROLE, ROLE_NAMES_ZH),
        (DEADLINE, {c.kind: c.zh for c in CLOCKS}),
        (FIELD, _default_fields()),
    ):
        found |= {(context, key): name for key, name in names.items()}
    return found
