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


def add_people(system: Incubator) -> None:
    """Each person of PEOPLE as an account (as `incubator user add` makes them)."""
    from commands.service import Who

    for name, grants in PEOPLE.items():
        (role, sites), *more = grants.items()
        system.accounts.add(Who("setup"), name=name, role=role, sites=sites, password=PASSWORD)
        for role, sites in more:
            system.accounts.grant(name, Who("setup"), role, sites)


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
    add_people(system)
    api = Api(create_app(system))
    with api.client:
        yield api
