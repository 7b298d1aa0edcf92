"""The application factory: the API on a system (commands/bootstrap.py), and the factory uvicorn
calls in each worker (`incubator serve`), which opens the system the way the command line does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from api import auth, commands, problems, reads
from commands.handlers import Dispatcher, Services
from commands.reads import Reads
from commands.requests import Requests

if TYPE_CHECKING:
    from api.auth import Accounts
    from commands.bootstrap import Incubator

DESCRIPTION = """社会组织孵化园的 HTTP 接口 — the HTTP API of the incubation park.

Log in with `POST /api/token` (name and password as an OAuth2 password form), then send
`Authorization: Bearer TOKEN`. Every command of the command line is a `POST`; who acts is the
logged-in account, in the role its grants give it where the case is. Errors are
`application/problem+json` (RFC 9457) and say what is wrong and what is allowed.
"""


def create_app(
    system: Incubator,
    *,
    routers: Sequence[APIRouter] = (),
    accounts: Accounts | None = None,
    close: bool = False,
) -> FastAPI:
    """The API on `system`; `routers` (the web pages) are added after the API's reads, before
    its commands.
    `accounts` defaults to the system's; `close`: the app closes the system when it stops."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close:
                system.close_all()

    app = FastAPI(
        title="incubator",
        version="1",
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,  # the docs pages load their scripts from a CDN: none is served
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.system = system
    app.state.accounts = accounts if accounts is not None else system.accounts
    app.state.reads = Reads(system)
    app.state.requests = Requests(system)
    app.state.dispatcher = Dispatcher(
        Services(system.service, system.party, system.rounds, system.accounts)
    )
    problems.install(app)
    # The reads, then the pages, then the commands: a GET is matched after fewer routes (a
    # request is matched against each route in turn). No two routes share a path and a method,
    # so the order decides nothing else.
    app.state.routers = [auth.router, reads.router, *routers, commands.router()]
    for router in app.state.routers:
        app.include_router(router)
    return app


def routes_of(app: FastAPI) -> list[APIRoute]:
    """Every route of the app's routers (FastAPI keeps an included router's routes inside it)."""
    return [r for router in app.state.routers for r in router.routes if isinstance(r, APIRoute)]


def app_from_env() -> FastAPI:
    """For uvicorn (`--factory`): the system on INCUBATOR_DATABASE_URL, INCUBATOR_SETTINGS
    (and INCUBATOR_NOW on a rehearsal's database), as the command line opens it."""
    from commands.bootstrap import bootstrap

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return create_app(bootstrap(), close=True)
