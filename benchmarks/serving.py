"""What the HTTP benchmarks share: a real `incubator serve` on a free loopback port, logging in
to it (a bearer token for the API, a session cookie for the pages), and a bounded asyncio
client that times each request.

The session cookie is Secure: a client keeps it only for https, so over loopback http it is
sent back by hand, in a Cookie header.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.cohorts import fill
from benchmarks.common import database, incubator, percentiles
from commands.bootstrap import Incubator, bootstrap
from commands.service import Who

PASSWORD = "benchmark password 1"
DIRECTOR = "园区主任"


@dataclass(frozen=True)
class Park:
    system: Incubator
    url: str
    ids: list[str]  # every case's id
    events: int
    fill_s: float  # seconds to write the log and catch the read models up

    def figures(self, backend: str) -> dict[str, Any]:
        return {
            "backend": backend,
            "cases": len(self.ids),
            "events": self.events,
            "fill_s": round(self.fill_s, 1),
        }


@contextmanager
def filled(backend: str, cases: int) -> Iterator[Park]:
    """A new database of `backend` holding `cases` lifecycles (benchmarks.cohorts), its read
    models caught up, and the director's account; dropped on leaving."""
    with tempfile.TemporaryDirectory() as folder:
        url, drop = database(backend, Path(folder))
        try:
            system = bootstrap(url)
            try:
                started = time.perf_counter()
                events = fill(system.log, cases)
                system.read_models.catch_up()
                seconds = time.perf_counter() - started
                system.accounts.add(
                    Who("benchmark"), name=DIRECTOR, role="director", sites=(), password=PASSWORD
                )
                ids = [row["id"] for row in system.read_models.caseload()]
                yield Park(system, url, ids, events, seconds)
            finally:
                system.close_all()
        finally:
            drop()


class Server:
    """`incubator serve` on a free loopback port with `workers` workers, stopped on leaving;
    `headers` log the director in (a bearer token for the API)."""

    def __init__(self, url: str, workers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url, self.workers, self.database = f"http://127.0.0.1:{self.port}", workers, url

    def __enter__(self) -> Server:
        env = {**os.environ, "INCUBATOR_DATABASE_URL": self.database}
        env.pop("INCUBATOR_NOW", None)
        self.process = subprocess.Popen(
            incubator("serve", "--port", str(self.port), "--workers", str(self.workers),
                      "--log-level", "warning"),
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/api/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        token = httpx.post(
            f"{self.url}/api/token", data={"username": DIRECTOR, "password": PASSWORD}
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)

    def cpu_seconds(self) -> float:
        """CPU time the server's processes (uvicorn's and its workers') have used so far: on
        a shared machine, what a request costs whatever else runs (Linux: /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total, pending = 0.0, [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue  # gone
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            pending += [int(c) for c in children]
        return total

    def page_session(self) -> dict[str, str]:
        """The director logged in through the login form (its CSRF token, the login cookie
        sent back), as the Cookie header that carries the session."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            form = client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            login = _cookie(form, "incubator_login")
            assert csrf and login, "the login page has no CSRF token"
            answer = client.post(
                "/login",
                data={"username": DIRECTOR, "password": PASSWORD, "csrf": csrf[1], "next": "/"},
                headers={"Cookie": f"incubator_login={login}"},
                follow_redirects=False,
            )
            session = _cookie(answer, "incubator_session")
            assert answer.status_code == 303 and session, answer.text
        return {"Cookie": f"incubator_session={session}"}


def _cookie(answer: httpx.Response, name: str) -> str | None:
    for header in answer.headers.get_list("set-cookie"):
        found = re.match(rf"{name}=([^;]*)", header)
        if found:
            return found[1]
    return None


def load(
    server: Server, paths: list[str], concurrency: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """GET every path, `concurrency` requests in flight; p50/p99 of each request's wall time
    and of its time to the first byte (the answer's headers), requests a second, and the
    server's CPU time per request."""
    return asyncio.run(_load(server, paths, concurrency, headers or server.headers))


async def _load(
    server: Server, paths: list[str], concurrency: int, headers: dict[str, str]
) -> dict[str, Any]:
    took: list[float] = []
    first_byte: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, timeout=60, limits=limits
    ) as client:

        async def one(path: str) -> None:
            async with gate:
                started = time.perf_counter()
                async with client.stream("GET", path) as answer:
                    first_byte.append((time.perf_counter() - started) * 1000)
                    await answer.aread()
                took.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, f"{path}: {answer.status_code}"

        for warm in paths[:concurrency]:
            await one(warm)
        took.clear()
        first_byte.clear()
        cpu, started = server.cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(one(p) for p in paths))
        elapsed, cpu = time.perf_counter() - started, server.cpu_seconds() - cpu
    return {
        **percentiles(took),
        "ttfb": percentiles(first_byte),
        "per_s": round(len(paths) / elapsed, 1),
        "server_cpu_ms_per_request": round(cpu / len(paths) * 1000, 2),
    }
