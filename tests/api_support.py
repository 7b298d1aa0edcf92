"""What the API tests share: a park's people with their roles, logged in through POST /api/token,
and a client that speaks for one of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from commands.bootstrap import Incubator
from commands.roles import Principal, principal
from lifecycle.errors import Refused

PASSWORD = "correct horse battery staple"
# Who works in the test park, and their grants: role → sites (none: every site).
PEOPLE: dict[str, dict[str, list[str]]] = {
    "王芳": {"caseworker": ["main"]},
    "张红": {"instructor": ["main"]},
    "园区主任": {"director": []},
    "李审计": {"auditor": []},
    "管理员": {"admin": []},
}
ROLE_OF = {name: next(iter(grants)) for name, grants in PEOPLE.items()}
PERSON = {role: name for name, role in ROLE_OF.items()}
APPLY = {
    "name": "爱心志愿者协会",
    "field": "公益慈善",
    "legal_status": "registered",
    "track": "incubation",
    "site": "main",
    "on": "2014-01-06",
}


class FakeAccounts:
    """Stands in for commands/accounts.py until it lands: PEOPLE with PASSWORD, hour-long tokens."""

    def __init__(self, system: Incubator) -> None:
        self.clock = system.clock
        self.sessions: dict[str, Any] = {}

    def log_in(self, name: str, password: str) -> Any:
        from datetime import timedelta
        from types import SimpleNamespace

        if name not in PEOPLE or password != PASSWORD:
            raise Refused("wrong name or password, or the account cannot log in")
        found = self.principal(name)
        token = f"token-{len(self.sessions)}-{name.encode().hex()}"
        self.sessions[token] = SimpleNamespace(
            token=token, expires_at=self.clock.now() + timedelta(hours=1), principal=found
        )
        return self.sessions[token]

    def session(self, token: str) -> Any:
        return self.sessions.get(token)

    def log_out(self, token: str) -> None:
        self.sessions.pop(token, None)

    def principal(self, name: str) -> Principal | None:
        grants = PEOPLE.get(name)
        return None if grants is None else principal(name, grants.items())


def add_people(system: Incubator) -> Any:
    """Each person of PEOPLE as an account."""
    return FakeAccounts(system)


class Api:
    """A test client of the app, and the bearer headers of each person."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.client = TestClient(app, raise_server_exceptions=False)
        self.tokens: dict[str, str] = {}

    def token(self, name: str, password: str = PASSWORD) -> str:
        if name not in self.tokens:
            answer = self.client.post("/api/token", data={"username": name, "password": password})
            assert answer.status_code == 200, answer.text
            self.tokens[name] = answer.json()["access_token"]
        return self.tokens[name]

    def as_(self, role: str | None) -> dict[str, str]:
        """The headers of the person in `role` (None: nobody logged in)."""
        if role is None:
            return {}
        return {"Authorization": f"Bearer {self.token(PERSON[role])}"}

    def post(self, role: str | None, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(path, json=body or {}, headers=self.as_(role) | headers)

    def get(self, role: str | None, path: str, **headers: str) -> Any:
        return self.client.get(path, headers=self.as_(role) | headers)


@contextmanager
def api_on(system: Incubator) -> Iterator[Api]:
    api = Api(create_app(system, accounts=add_people(system)))
    with api.client:
        yield api
