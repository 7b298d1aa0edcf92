"""What HTTP costs: commands through the API against the same commands through the service, in
one run; and how long a case and a page of the caseload take to read under concurrent load.

    .venv/bin/python -m benchmarks.api --quick       # both backends, a few minutes

The log is filled with benchmarks.cohorts (20,000 cases in the full run) and the read models
caught up before the server starts. Commands: `apply` and `assign`, alternating blocks of the
service's dispatcher in this process and of POST requests to a real `incubator serve` (one
worker) on loopback, one at a time; the ratio is HTTP's time per command over the service's.
Reads: a bounded asyncio client (httpx, `concurrency` requests in flight) sends GET
/api/orgs/{id} for random cases and GET /api/orgs?limit=50 (of a site) to a server of 1 and of
2 workers; p50 and p99 of each request's wall time (benchmarks/serving.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks.common import run_backends, section_arguments
from benchmarks.serving import DIRECTOR, Server, filled, load
from commands import messages as m
from commands.handlers import Actor, Dispatcher, Services


def run(
    backend: str,
    cases: int = 20_000,
    commands: int = 300,
    reads: int = 2000,
    concurrency: int = 4,
    blocks: int = 3,
) -> dict[str, Any]:
    with filled(backend, cases) as park:
        system = park.system
        dispatcher = Dispatcher(
            Services(system.service, system.party, system.rounds, system.accounts)
        )
        actor = Actor(DIRECTOR, "director")
        results = park.figures(backend)
        with Server(park.url, workers=1) as server:
            results["commands"] = _commands(server, dispatcher, actor, commands, blocks)
            results["reads_1_worker"] = _reads(server, park.ids, reads, concurrency)
        with Server(park.url, workers=2) as server:
            results["reads_2_workers"] = _reads(server, park.ids, reads, concurrency)
        return results


def _commands(
    server: Server, dispatcher: Dispatcher, actor: Actor, count: int, blocks: int
) -> dict[str, Any]:
    """Seconds per command (an apply, then an assign of that case) each way, in alternating
    blocks after one block each way that warms up (not counted); the ratio of their totals."""
    body = {"field": "charity", "legal_status": "filed", "track": "incubation", "site": "main"}
    per_block = max(1, count // blocks // 2)
    service_s = http_s = 0.0
    done = 0
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        for block in range(-1, blocks):
            counted = block >= 0
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
            service_s += (time.perf_counter() - started) * counted
            started = time.perf_counter()
            for n in range(per_block):
                made = client.post("/api/orgs", json=body | {"name": f"接口{block}-{n}"})
                assert made.status_code == 201, made.text
                assigned = client.post(
                    f"/api/orgs/{made.json()['id']}/assign", json={"caseworker": "王芳"}
                )
                assert assigned.status_code == 200, assigned.text
            http_s += (time.perf_counter() - started) * counted
            done += per_block * 2 * counted
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
        "case": load(server, one, concurrency),
        "page_of_50": load(server, pages, concurrency),
    }


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
