"""The web application: the pages (web/pages.py) and their static files, on the HTTP API's
FastAPI application, so one server, one login and one role table serve both.

`incubator serve` runs `app_from_env` in each worker."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from api import app as api
from api.problems import http_problem, unexpected
from commands.bootstrap import Incubator
from web import pages

STATIC = Path(__file__).parent / "static"


def create_app(system: Incubator, **options: Any) -> FastAPI:
    """The API and the pages on `system` (options as for `api.app.create_app`)."""
    app = api.create_app(system, routers=[pages.router(system)], **options)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def answer(request: Request, error: Exception) -> Response:
        """A page that is not there, in the page's language; the API's as a problem."""
        if request.url.path.startswith("/api/") or not isinstance(error, HTTPException):
            return await http_problem(request, error)
        return pages.not_found(request, system, error.status_code)

    async def failed(request: Request, error: Exception) -> Response:
        """A bug or an unusable database, logged and classed as the API does; a page says
        so in the page's language, without the details."""
        problem = await unexpected(request, error)
        if request.url.path.startswith("/api/"):
            return problem
        return pages.failed(request, system, problem.status_code)

    app.add_exception_handler(HTTPException, answer)
    app.add_exception_handler(Exception, failed)
    return app


def app_from_env() -> FastAPI:
    """For uvicorn (`--factory`): the system as the command line opens it."""
    from commands.bootstrap import bootstrap

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return create_app(bootstrap(), close=True)
