"""One endpoint per command message (commands/messages.py `COMMANDS`), generated: its path
from the message's group and the id it is about, its body a pydantic model of the message's
parameters (types, choices, help in Chinese and English). Nothing here knows any one command.

POST /api/orgs                          Apply                → 201, Location, the case
POST /api/orgs/{id}/{verb}              a case's commands    → 200, the case
POST /api/orgs/{id}/party/{verb}        its party track's    → 200, the track
POST /api/orgs/{id}/privacy/erase       its contact person's personal data erased → 200, the case
POST /api/joint-branches                CreateJointBranch    → 201
POST /api/rounds, /api/rounds/{id}/{verb}, /api/projects/{id}/{verb}
POST /api/users, /api/users/{name}/{verb}   the accounts' commands

Who acts is the logged-in account, in the role the role table gives it for the command's right
at the site of what it acts on; neither is a field of the body (a body that names them is
refused). `If-Match` makes a command conditional on the version of what it acts on;
`Idempotency-Key` makes a retry return the first answer.
"""

import hashlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Body, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, Strict, create_model
from pydantic.config import JsonDict

from api import models
from api.auth import (
    UNAUTHORIZED,
    Grant,
    Where,
    allowed,
    case_id_site,
    project_id_site,
    round_id_site,
    x_right,
)
from api.encoding import dumps
from api.problems import Problem, problem, problem_doc, problem_of
from commands import messages
from commands.handlers import HANDLERS, Actor
from commands.messages import ACCOUNT, CASE, PROJECT, ROUND, SUBJECTS, Command, Kind
from commands.requests import Answer
from commands.roles import right_of
from lifecycle.account import Account
from lifecycle.errors import Conflict, NotFound, Refused
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.project import Project
from lifecycle.round import Round

# Where a message's subject lives, by the kind of id it is about: the collection, the path's
# parameter, and the site its rights are checked at (accounts have none).
ITEMS: Mapping[Kind, tuple[str, str, Where | None]] = {
    CASE: ("/orgs", "id", case_id_site),
    ROUND: ("/rounds", "id", round_id_site),
    PROJECT: ("/projects", "id", project_id_site),
    ACCOUNT: ("/users", "name", None),
}
NAMED: Mapping[Kind, type] = {
    CASE: OrganizationCase,
    ROUND: Round,
    PROJECT: Project,
    ACCOUNT: Account,
}
COLLECTIONS: Mapping[str, str] = {
    "org": "/orgs",
    "party": "/orgs",
    "party joint-branch": "/joint-branches",
    "round": "/rounds",
    "user": "/users",
}
# The commands of a group that acts on part of what the path names: its party track, or the
# personal data of its contact person.
GROUP_PATHS: Mapping[str, str] = {"party": "/party", "privacy": "/privacy"}
VIEWS: Mapping[type, type[BaseModel]] = {
    OrganizationCase: models.CaseView,
    PartyIncubation: models.PartyView,
    JointBranch: models.BranchView,
    Round: models.RoundView,
    Project: models.ProjectView,
    Account: models.AccountView,
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    403: problem_doc("the account's roles do not allow it here"),
    404: problem_doc("no such case, round or project"),
    409: problem_doc("a command recorded at the same moment won"),
    412: problem_doc("If-Match: it changed since that version"),
    422: problem_doc("refused by a rule, or invalid input"),
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="重试时返回第一次的结果 — a retry with the same key gets the first answer",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="版本不符时拒绝(412) — refused with 412 unless it is still at this ETag",
    ),
]


@dataclass(frozen=True)
class Route:
    """A command message as an endpoint."""

    message: type[Command]
    path: str
    subject: str | None  # the message's field for the id in the path
    param: str | None  # the path's name for it
    where: Where | None
    names: type | None = None  # what the path names

    @property
    def creates(self) -> bool:
        return self.subject is None


def routes() -> list[Route]:
    return [route_of(message) for message in messages.COMMANDS]


def route_of(message: type[Command]) -> Route:
    subject = next(
        ((name, spec) for name, spec in messages.params(message) if spec.kind in SUBJECTS),
        None,
    )
    if subject is None:
        return Route(message, COLLECTIONS[message.group], None, None, None)
    name, spec = subject
    base, param, where = ITEMS[spec.kind]
    within = GROUP_PATHS.get(message.group, "")
    path = f"{base}/{{{param}}}{within}/{message.verb}"
    return Route(message, path, name, param, where, NAMED[spec.kind])


def body_model(message: type[Command]) -> type[BaseModel]:
    """The message's parameters but the id in the path, with their types and help."""
    hints = typing.get_type_hints(message)
    fields: dict[str, Any] = {}
    for name, spec in messages.params(message):
        if spec.kind in SUBJECTS:
            continue
        annotation = _without_none(hints[name])
        if annotation in (int, bool):  # a count is a JSON number: true is not 1 member, nor "2"
            annotation = Annotated[annotation, Strict()]
        if spec.kind.choices:
            annotation = Literal[spec.kind.choices]
        secret: JsonDict | None = (
            {"format": "password", "writeOnly": True} if spec.kind.secret else None
        )
        described = Field(description=f"{spec.zh} — {spec.en}", json_schema_extra=secret)
        if messages.required(message, name):
            fields[name] = (annotation, described)
        else:
            fields[name] = (
                annotation | None,
                Field(None, description=described.description, json_schema_extra=secret),
            )
    return create_model(
        f"{message.__name__}Body",
        __config__=ConfigDict(extra="forbid", title=f"{message.__name__}Body"),
        __doc__=f"{message.zh}\n\n{message.en}",
        **fields,
    )


def _without_none(hint: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return hint


def result_type(message: type[Command]) -> type:
    returned = typing.get_type_hints(HANDLERS[message])["return"]
    return typing.cast(type, returned)


def router() -> APIRouter:
    commands = APIRouter(prefix="/api", tags=["commands"])
    for route in routes():
        message = route.message
        model = VIEWS.get(result_type(message), models.View)
        stages = message.stages()
        commands.add_api_route(
            route.path,
            endpoint(route),
            methods=["POST"],
            status_code=201 if route.creates else 200,
            response_model=model,
            responses={
                **PROBLEMS,
                200: {"model": model, "description": "recorded; what it acts on now"},
                201: {"model": model, "description": "created (Location names it)"},
            },
            summary=f"{message.zh} — {message.en}",
            description=(
                f"{message.zh}\n\n{message.en}"
                + (f"\n\n阶段 stages: {', '.join(stages)}" if stages else "")
            ),
            operation_id=f"{message.group.replace(' ', '-')}-{message.verb}",
            openapi_extra=x_right(right_of(message)),
        )
    return commands


def endpoint(route: Route) -> Callable[..., Response]:
    """The endpoint of one message, its signature built for FastAPI to read."""
    model = body_model(route.message)

    def run(request: Request, grant: Grant, body: BaseModel, **more: Any) -> Response:
        subject = more.get(route.param) if route.param else None
        return execute(request, route, grant, body, subject, more.get("if_match"), more.get("key"))

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter(
            "grant",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Grant,
            default=allowed(right_of(route.message), route.where),
        ),
        inspect.Parameter(
            "body", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[model, Body()]
        ),
    ]
    if route.param is not None:
        kind = UUID if route.param == "id" else str
        parameters.append(
            inspect.Parameter(
                route.param,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[kind, Path(description="它的编号 — what it acts on")],
            )
        )
        parameters.append(
            inspect.Parameter(
                "if_match", inspect.Parameter.KEYWORD_ONLY, annotation=IfMatch, default=None
            )
        )
    parameters.append(
        inspect.Parameter(
            "key", inspect.Parameter.KEYWORD_ONLY, annotation=IdempotencyKey, default=None
        )
    )

    def call(**values: Any) -> Response:
        return run(values.pop("request"), values.pop("grant"), values.pop("body"), **values)

    call.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    call.__name__ = f"{route.message.__name__}_endpoint"
    return call


def execute(
    request: Request,
    route: Route,
    grant: Grant,
    body: BaseModel,
    subject: Any,
    if_match: str | None,
    key: str | None,
) -> Response:
    """Check, decide, record, answer; with a key, the first answer is kept and given again."""
    state = request.app.state
    given = body.model_dump(exclude_none=True)
    # a create is checked at the site its body names (by key or name), the others where their
    # subject is
    if route.subject is not None and grant.role:
        role = grant.role
    else:
        site = given.get("site")
        role = grant.at(None if site is None else state.system.park.site_key(site))
    account = grant.principal.name
    if key is not None:
        fingerprint = hashlib.sha256(
            f"POST {request.url.path}\n{dumps(body.model_dump(mode='json'))}".encode()
        ).hexdigest()
        first = state.requests.first_answer(account, key, fingerprint)
        if first is not None:
            return _replayed(first)
    try:
        answer = _decide(request, route, role, account, given, subject, if_match)
    except BaseException:
        if key is not None:
            state.requests.forget(account, key)
        raise
    if key is not None:
        state.requests.remember(account, key, answer)
    return Response(
        answer.body, answer.status, headers=answer.headers, media_type=_media(answer.status)
    )


def _decide(
    request: Request,
    route: Route,
    role: str,
    account: str,
    given: dict[str, Any],
    subject: Any,
    if_match: str | None,
) -> Answer:
    state = request.app.state
    try:
        if subject is not None:
            given[route.subject or "id"] = subject
            if if_match is not None:
                _check_version(state.reads, route, subject, if_match)
        message = route.message(**given)
        result = state.dispatcher.handle(message, Actor(account, role))
    except (Problem, Refused, Conflict) as refused:
        named = isinstance(refused, NotFound) and refused.field == route.subject
        shown = problem(404, str(refused), kind="not-found") if named else problem_of(refused)
        return Answer(shown.status_code, bytes(shown.body).decode(), _kept(shown.headers))
    view = state.reads.result(result)
    headers = {"ETag": f'"{result.version}"'}
    status = 200
    # created: by a message about nothing yet, or a new thing beside what the path names
    if route.names is None or (not isinstance(result, route.names) and result.version == 1):
        status = 201
        headers["Location"] = location(result)
    return Answer(status, dumps(view), headers)


def location(result: Any) -> str:
    if isinstance(result, PartyIncubation):
        return f"/api/orgs/{result.case_id}/party"
    if isinstance(result, Account):
        return f"/api/users/{quote(result.name)}"
    found = {
        OrganizationCase: "orgs",
        Round: "rounds",
        Project: "projects",
        JointBranch: "joint-branches",
    }
    return f"/api/{found[type(result)]}/{result.id}"


def _check_version(reads: Any, route: Route, subject: Any, if_match: str) -> None:
    """412 unless what the command acts on is still at a version If-Match names."""
    now = current_version(reads, route, subject)
    if now is None:
        return
    tags = {t.strip().removeprefix("W/").strip('"') for t in if_match.split(",")}
    if "*" in tags or str(now) in tags:
        return
    raise Problem(
        412,
        f"it is at version {now} now, not {if_match.strip()}: it changed since it was read; "
        f"read it again (its ETag) and decide on what it is now",
        kind="changed",
        field="If-Match",
        headers={"ETag": f'"{now}"'},
    )


def current_version(reads: Any, route: Route, subject: Any) -> int | None:
    if route.where is case_id_site:
        if route.message.group == "party":
            return int(reads.party_version(subject))
        return int(reads.case_version(subject))
    if route.where is round_id_site:
        return int(reads.system.rounds.round(subject).version)
    if route.where is project_id_site:
        return int(reads.system.rounds.project(subject).version)
    if route.param == "name":
        return int(reads.system.accounts.account(subject).version)
    return None


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    wanted = ("location", "etag", "retry-after")
    return {k: v for k, v in headers.items() if k.lower() in wanted}


def _media(status: int) -> str:
    return "application/json" if status < 400 else "application/problem+json"


def _replayed(first: Answer) -> Response:
    headers = {**first.headers, "Idempotent-Replayed": "true"}
    return Response(first.body, first.status, headers=headers, media_type=_media(first.status))
