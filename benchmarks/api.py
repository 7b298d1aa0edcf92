"""What HTTP costs: commands through the API against the same commands through the service, in
one run; and how long a case and a page of the caseload take to read under concurrent load.

    .venv/bin/python -m benchmarks.api --quick       # both backends, a few minutes

The log is filled with benchmarks.cohorts (20,000 cases in the full run) and the read models
caught up before the server starts. Commands: `apply` and `assign`, alternating blocks of the
service's dispatcher in this process and of POST requests to a real `incubator serve` (one
worker) on loopback, one at a time; the ratio is HTTP's time per command over the service's.
Reads: a bounded asyncio client (httpx, `concurrency` requests in flight) sends GET
/api/orgs/{id} for random cases and GET /api/orgs?limit=50 to a server of 1 and of 2 workers;
p50 and p99 of each request's wall time.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.cohorts import fill
from benchmarks.common import database, incubator, percentiles, run_backends, section_arguments
from commands import messages as m
from commands.bootstrap import bootstrap
from commands.handlers import Actor, Dispatcher, Services
from commands.service import Who

PASSWORD = "benchmark password 1"
DIRECTOR = "园区主任"


def run(
    backend: str,
    cases: int = 20_000,
    commands: int = 300,
    reads: int = 2000,
    concurrency: int = 8,
    blocks: int = 3,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url, drop = database(backend, Path(folder))
        try:
            return _run(backend, url, cases, commands, reads, concurrency, blocks)
        finally:
            drop()


def _run(
    backend: str, url: str, cases: int, commands: int, reads: int, concurrency: int, blocks: int
) -> dict[str, Any]:
    system = bootstrap(url)
    try:
        started = time.perf_counter()
        events = fill(system.log, cases)
        system.read_models.catch_up()
        filled = time.perf_counter() - started
        system.accounts.add(
            Who("benchmark"), name=DIRECTOR, role="director", sites=(), password=PASSWORD
        )
        ids = [row["id"] for row in system.read_models.caseload()]
        dispatcher = Dispatcher(
            Services(system.service, system.party, system.rounds, system.accounts)
        )
        actor = Actor(DIRECTOR, "director")
        results: dict[str, Any] = {
            "backend": backend,
            "cases": len(ids),
            "events": events,
            "fill_s": round(filled, 1),
        }
        with Server(url, workers=1) as server:
            results["commands"] = _commands(server, dispatcher, actor, commands, blocks)
            results["reads_1_worker"] = _reads(server, ids, reads, concurrency)
        with Server(url, workers=2) as server:
            results["reads_2_workers"] = _reads(server, ids, reads, concurrency)
        return results
    finally:
        system.close_all()


class Server:
    """`incubator serve` on a free loopback port, stopped on leaving."""

    def __init__(self, url: str, workers: int) -> None:
        import socket

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


def _commands(
    server: Server, dispatcher: Dispatcher, actor: Actor, count: int, blocks: int
) -> dict[str, Any]:
    """Seconds per command (an apply, then an assign of that case) each way, in alternating
    blocks; the ratio of their totals."""
    body = {"field": "charity", "legal_status": "filed", "track": "incubation", "site": "main"}
    per_block = max(1, count // blocks // 2)
    service_s = http_s = 0.0
    done = 0
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        for block in range(blocks):
            started = time.perf_counter()
            for n in range(per_block):
                apply = m.Apply(
                    name=f"服务{block}-{n}",
                    field="charity",
                    legal_status="filed",
                    track="incubation",
                    site="main",
                )
                case = dispatcher.handle(apply, actor)
                dispatcher.handle(m.Assign(org=case.id, caseworker="王芳"), actor)
            service_s += time.perf_counter() - started
            started = time.perf_counter()
            for n in range(per_block):
                made = client.post("/api/orgs", json=body | {"name": f"接口{block}-{n}"})
                assert made.status_code == 201, made.text
                assigned = client.post(
                    f"/api/orgs/{made.json()['id']}/assign", json={"caseworker": "王芳"}
                )
                assert assigned.status_code == 200, assigned.text
            http_s += time.perf_counter() - started
            done += per_block * 2
    return {
        "commands_each_way": done,
        "service_ms_per_command": round(service_s / done * 1000, 3),
        "http_ms_per_command": round(http_s / done * 1000, 3),
        "http_ratio_to_service": round(http_s / service_s, 3),
    }


def _reads(server: Server, ids: list[str], count: int, concurrency: int) -> dict[str, Any]:
    rng = random.Random(2014)
    one = [f"/api/orgs/{rng.choice(ids)}" for _ in range(count)]
    pages = [f"/api/orgs?limit=50&site={rng.choice(['main', 'branch'])}" for _ in range(count // 4)]
    return {
        "concurrency": concurrency,
        "workers": server.workers,
        "case": asyncio.run(_load(server, one, concurrency)),
        "page_of_50": asyncio.run(_load(server, pages, concurrency)),
    }


async def _load(server: Server, paths: list[str], concurrency: int) -> dict[str, float]:
    took: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=server.url, headers=server.headers, timeout=60, limits=limits
    ) as client:

        async def one(path: str) -> None:
            async with gate:
                started = time.perf_counter()
                answer = await client.get(path)
                took.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text

        for warm in paths[:concurrency]:
            await one(warm)
        took.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in paths))
        elapsed = time.perf_counter() - started
    return {**percentiles(took), "per_s": round(len(paths) / elapsed, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = section_arguments(__doc__ or "")
    parser.add_argument("--quick", action="store_true", help="2,000 cases, fewer requests")
    args = parser.parse_args(argv)
    sizes: Callable[[str], Any] = (lambda b: run(b, 2000, 120, 600)) if args.quick else run
    import json

    for result in run_backends(args, sizes):
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
