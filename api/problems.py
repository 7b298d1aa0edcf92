"""Every error as `application/problem+json` (RFC 9457): type, title, status, detail, and the
field and what it allows where known. The detail is what the command line says.

Bad input never reaches the last handler: that one is for bugs, logged with their traceback
and answered with a 500 that carries none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from api.encoding import Json
from lifecycle.bounds import Invalid
from lifecycle.errors import Conflict, NotFound, Refused, said

log = logging.getLogger("incubator.api")
MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    422: "Refused",
    423: "Locked",
    429: "Too many attempts",
    500: "Internal error",
    503: "Database unavailable",
}


class ProblemBody(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="问题类型 — what kind of problem, as a URI reference")
    title: str = Field(description="简短标题 — a short summary of the kind")
    status: int = Field(description="HTTP 状态码 — the HTTP status")
    detail: str = Field(description="说明: 什么不对, 允许什么 — what is wrong and what is allowed")
    field: str | None = Field(None, description="涉及的字段 — the field it concerns")
    allowed: str | None = Field(None, description="允许的值 — what the field allows")


def problem_doc(description: str) -> dict[str, Any]:
    """An error answer as the OpenAPI description documents it."""
    schema = {"$ref": "#/components/schemas/ProblemBody"}
    return {
        "model": ProblemBody,
        "description": description,
        "content": {MEDIA_TYPE: {"schema": schema}},
    }


class Problem(Exception):
    """An answer that is not a success, raised where it is found (401, 403, 412, 429)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.field, self.headers = field, dict(headers or {})


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    field: str | None = None,
    allowed: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/api/problems/{kind}" if kind else "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if allowed is not None:
        body["allowed"] = allowed
    return Json(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def problem_of(error: Exception) -> JSONResponse:
    """The problem a domain refusal or conflict is, as the command line would say it."""
    if isinstance(error, Problem):
        return problem(
            error.status, error.detail, kind=error.kind, field=error.field, headers=error.headers
        )
    if isinstance(error, NotFound) and error.field is None:  # what the path names
        return problem(404, str(error), kind="not-found")
    if isinstance(error, Invalid):
        allowed = said("{allowed}", error.params)
        return problem(422, str(error), kind="invalid", field=error.field, allowed=allowed)
    if isinstance(error, Refused):
        return problem(422, str(error), kind="refused", field=error.field)
    if isinstance(error, Conflict):
        return problem(409, f"conflict: {error}", kind="conflict")
    raise TypeError(error)


def install(app: FastAPI) -> None:
    for kind in (Problem, Refused, Conflict):
        app.add_exception_handler(kind, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, http_problem)
    app.add_exception_handler(Exception, unexpected)


async def _domain(_request: Request, error: Exception) -> JSONResponse:
    return problem_of(error)


async def _validation(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    first = errors[0] if errors else {"loc": (), "msg": "malformed request"}
    where = [str(part) for part in first.get("loc", ()) if part not in ("body",)]
    field = ".".join(where) or None
    allowed = _allowed(first)
    detail = "; ".join(_line(e) for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return problem(422, detail, kind="invalid", field=field, allowed=allowed)


def _line(error: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "the request"
    given = error.get("input")
    shown = "" if given is None or isinstance(given, dict | list) else f"; got {_shown(given)}"
    return f"{where}: {error.get('msg', 'invalid')}{shown}"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


def _allowed(error: Mapping[str, Any]) -> str | None:
    ctx = error.get("ctx") or {}
    for key in ("expected", "pattern", "max_length", "min_length", "le", "ge", "lt", "gt"):
        if key in ctx:
            return f"{key.replace('_', ' ')}: {ctx[key]}" if key != "expected" else str(ctx[key])
    return None


async def http_problem(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else TITLES.get(error.status_code, "")
    return problem(error.status_code, detail, headers=error.headers)


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    from commands.bootstrap import unusable_database

    trouble = unusable_database(error)
    if trouble is not None:
        log.error("%s %s: %s", request.method, request.url.path, trouble)
        return problem(503, trouble, kind="database", headers={"Retry-After": "5"})
    from commands.bootstrap import AuditError

    if isinstance(error, AuditError):  # a write the log refused: it would not be signed
        log.error("%s %s: %s", request.method, request.url.path, error)
        return problem(503, f"{error}; nothing was recorded", kind="audit")
    log.exception("%s %s failed", request.method, request.url.path)
    return problem(
        500,
        "unexpected error; nothing more was recorded. This is a bug: the server's log has the "
        "details",
        kind="bug",
    )
