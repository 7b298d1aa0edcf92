"""`incubator serve`: the HTTP API (api/) under uvicorn, in one or several worker processes."""

from __future__ import annotations

import os
import re

import click

from cli.common import open_incubator, say
from lifecycle.bounds import shown

FACTORY = "web.app:app_from_env"
HOST = re.compile(r"[A-Za-z0-9.:\-]{1,253}")


def _host(value: str) -> str:
    if not HOST.fullmatch(value):
        raise click.BadParameter(
            f"{shown(value)} is not an IP address or a host name (letters, digits, . : -)"
        )
    return value


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=lambda _ctx, _param, value: _host(value),
    help="the address to listen on (an IP address or a host name)",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="the port (0: any free one)",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="worker processes. PostgreSQL serves several (each opens at most 12 connections); "
    "so does SQLite, one writer at a time: the log and the read models take turns on the file",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.pass_context
def serve_cmd(ctx: click.Context, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the HTTP API (OpenAPI at /api/openapi.json) until SIGTERM or Ctrl-C.

    Log in with POST /api/token (an account made by `incubator user add`), then send
    Authorization: Bearer TOKEN. Settings and database as for every command (--database,
    INCUBATOR_DATABASE_URL, INCUBATOR_SETTINGS)."""
    import uvicorn

    system = open_incubator(ctx)  # the tables exist, the settings hold: before any worker starts
    say(f"serving {system.database.url} on http://{host}:{port} with {workers} worker(s)")
    for option, env in (("database", "INCUBATOR_DATABASE_URL"), ("settings", "INCUBATOR_SETTINGS")):
        if ctx.obj.get(option):  # the workers open the system from the environment
            os.environ[env] = ctx.obj[option]
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
    )


__all__ = ["serve_cmd"]
