"""Who is looking at a page: the session cookie, its CSRF token, the page's language.

The session is the same kind as the API's bearer tokens (commands/accounts.py): a random token
whose hash the database keeps, so it holds across workers and a disabled account's session
ends at once. The cookie is Secure, HttpOnly and SameSite=Strict; every form carries the
session's CSRF token, and a POST without it is refused before anything is read.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import Response

from commands.roles import Principal, Right

if TYPE_CHECKING:
    from commands.accounts import Session
    from commands.bootstrap import Incubator

COOKIE = "incubator_session"
LANG_COOKIE = "incubator_lang"
LOGIN_CSRF = "incubator_login"  # before a session exists: a double-submitted random token
LANGUAGES = ("zh_CN", "en")


@dataclass(frozen=True)
class Viewer:
    session: Session | None
    language: str
    path: str = "/"  # the page asked for, to come back to after choosing a language

    @property
    def principal(self) -> Principal | None:
        return self.session.principal if self.session else None

    @property
    def name(self) -> str | None:
        return self.session.principal.name if self.session else None

    def may(self, right: Right, site: str | None = None) -> bool:
        return self.principal is not None and self.principal.may(right, site)

    def csrf(self) -> str:
        return self.session.csrf if self.session else ""


def viewer(system: Incubator, request: Request) -> Viewer:
    token = request.cookies.get(COOKIE)
    session = system.accounts.session(token) if token else None
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Viewer(session, language(request, session), path if request.method == "GET" else "/")


def language(request: Request, session: Session | None) -> str:
    """The account's language, then the one the person chose before logging in, then the
    browser's (Accept-Language), then Chinese."""
    if session is not None and session.language in LANGUAGES:
        return session.language
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return "zh_CN"


def csrf_ok(expected: str, given: object) -> bool:
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
    )
