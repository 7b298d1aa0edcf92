"""Logging in, and the one check of rights: who the bearer token says, and whether the role
table (commands/roles.py) lets them do what the route does, at the site of what it names.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the checks made
# inside `allowed`, which name its local variables.
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.problems import Problem, problem_doc
from commands.accounts import LockedOut, LoginRefused
from commands.roles import ROLES, Principal, Right
from lifecycle.errors import Refused

BEARER = {"WWW-Authenticate": "Bearer"}


class Session(Protocol):
    @property
    def token(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def principal(self) -> Principal: ...


class Accounts(Protocol):
    """What the API needs of the accounts (commands/accounts.py)."""

    def log_in(self, name: str, password: str) -> Session: ...
    def session(self, token: str) -> Session | None: ...
    def log_out(self, token: str) -> None: ...
    def principal(self, name: str) -> Principal | None: ...


class Token(BaseModel):
    access_token: str = Field(description="访问令牌 — the bearer token for Authorization")
    token_type: str = Field(description="always bearer")
    expires_in: int = Field(description="令牌的有效秒数 — seconds until the token expires")


bearer = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False)
router = APIRouter(prefix="/api")
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: problem_doc("not logged in, or the token expired")
}


@router.post(
    "/token",
    response_model=Token,
    responses={
        401: problem_doc("wrong name or password"),
        422: problem_doc("the form is incomplete"),
        429: problem_doc("too many failed logins: locked for a while"),
    },
    summary="登录 — log in: a bearer token for name and password",
    tags=["accounts"],
)
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Any:
    accounts: Accounts = request.app.state.accounts
    try:
        session = accounts.log_in(form.username, form.password)
    except Refused as refusal:
        locked, wait = _retry_after(refusal)
        later = {"Retry-After": str(wait)} if wait else {}
        if locked:
            raise Problem(429, str(refusal), kind="locked-out", headers=later) from None
        raise Problem(401, str(refusal), kind="login-refused", headers=BEARER | later) from None
    now = request.app.state.system.clock.now()
    seconds = max(0, math.floor((session.expires_at - now).total_seconds()))
    return {"access_token": session.token, "token_type": "bearer", "expires_in": seconds}


def _retry_after(refusal: Refused) -> tuple[bool, int]:
    """Whether the name is locked out, and the seconds to wait before another try (failed
    logins are slowed down, then locked for a while: commands/accounts.py)."""
    if not isinstance(refusal, LoginRefused):
        return False, 0
    wait = refusal.retry_after
    seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
    return isinstance(refusal, LockedOut), max(0, math.ceil(seconds))


def authenticated(
    request: Request, token: Annotated[str | None, Depends(bearer)] = None
) -> Principal:
    """The principal of the bearer token; 401 without one, or with one that no longer holds
    (expired, logged out, its account disabled)."""
    if not token:
        raise Problem(
            401,
            "log in first: POST /api/token, then send Authorization: Bearer TOKEN",
            kind="not-logged-in",
            headers=BEARER,
        )
    accounts: Accounts = request.app.state.accounts
    session = accounts.session(token)
    if session is None:
        raise Problem(
            401,
            "the token is unknown, expired or logged out, or its account was disabled: log in "
            "again (POST /api/token)",
            kind="not-logged-in",
            headers=BEARER,
        )
    return session.principal


@dataclass(frozen=True)
class Grant:
    """What the check found: who acts, by which right, and the role that allows it where the
    route's subject is (None until a site is known: a create names its site in the body);
    `subject`: what the path names, if it was loaded to find its site (None: it was not), so
    that the route does not load it again."""

    principal: Principal
    right: Right
    role: str | None
    subject: Any = None

    def at(self, site: str | None) -> str:
        """The role that allows the right at `site`; 403 if none does."""
        role = self.principal.role_for(self.right, site)
        if role is None:
            raise Problem(403, refusal(self.principal, self.right, site), kind="forbidden")
        return role

    @property
    def sites(self) -> frozenset[str] | None:
        """Where the right holds: None for every site."""
        return self.principal.sites_for(self.right)


def refusal(principal: Principal, right: Right, site: str | None) -> str:
    roles = ", ".join(
        f"{role} ({', '.join(sorted(sites)) or 'every site'})"
        for role, sites in principal.grants.items()
    )
    may = ", ".join(role for role, rights in ROLES.items() if right in rights) or "no role"
    where = f" at site '{site}'" if site else ""
    return (
        f"{principal.name} may not {right.value}{where}: their roles are {roles or 'none'}; "
        f"it takes one of: {may}" + (" with that site" if site else "")
    )


@dataclass(frozen=True)
class Located:
    """Where what the route's path names is, and what was loaded to find out (None: nothing)."""

    site: str | None
    subject: Any = None


Where = Callable[..., Located]  # a dependency: where what the route's path names is


def allowed(right: Right, where: Where | None = None) -> Any:
    """The one check of rights, a dependency of every route but the token's: the principal
    must hold `right` somewhere (else 403 before anything is loaded), and at the site of what
    the path names when `where` finds one (404 when it names nothing).

    The checks that only compare (not `authenticated`, not `where`, which read the database)
    are coroutines: FastAPI runs them on the event loop instead of handing each to a thread."""

    async def anywhere(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if principal.sites_for(right) == frozenset():
            raise Problem(403, refusal(principal, right, None), kind="forbidden")
        return principal

    if where is None:

        async def check(principal: Annotated[Principal, Depends(anywhere)]) -> Grant:
            return Grant(principal, right, principal.role_for(right))

        return Depends(check)

    async def check_at(
        principal: Annotated[Principal, Depends(anywhere)],
        located: Annotated[Located, Depends(where)],
    ) -> Grant:
        grant = Grant(principal, right, None)
        return Grant(principal, right, grant.at(located.site), located.subject)

    return Depends(check_at)


def x_right(of: Right) -> dict[str, Any]:
    """The route's right in its OpenAPI operation (`x-right`): documented, and what the role
    matrix test reads off each route."""
    return {"x-right": of.value}


def case_id_site(request: Request, id: UUID) -> Located:
    site, case = request.app.state.reads.case_site(id)
    return Located(site, case)


def round_id_site(request: Request, id: UUID) -> Located:
    found = request.app.state.reads.round_of(id)
    return Located(found.site, found)


def project_id_site(request: Request, id: UUID) -> Located:
    found = request.app.state.reads.project_of(id)
    return Located(found.org_site, found)


def branch_id_site(request: Request, id: UUID) -> Located:
    found = request.app.state.reads.branch_of(id)
    return Located(found.site, found)


__all__ = ["UUID", "Accounts", "Grant", "Located", "allowed", "authenticated", "router"]
