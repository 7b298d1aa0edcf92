"""What HTTP costs: commands through the API against the same commands through the service, in
one run; and how long a case and a page of the caseload take to read under concurrent load.

    .venv/bin/python -m benchmarks.api --quick       # both backends, a few minutes

The log is filled with benchmarks.cohorts (20,000 cases in the full run) and the read models
caught up before the server starts. Commands: `apply` and `assign`, alternating blocks of the
service's dispatcher in this process and of POST requests to a real `incubator serve` (one
worker) on loopback, one at a time; the ratio is HTTP's time per command over the service's, the
median of the blocks' (and the CPU each way: the server's per command, the service's).
Reads: a bounded asyncio client (httpx, `concurrency` requests in flight) sends GET
/api/orgs/{id} for random cases and GET /api/orgs?limit=50 (of a site) to a server of 1 and of
2 workers; p50 and p99 of each request's wall time (benchmarks/serving.py).
"""

from __future__ import annotations

import random
import statistics
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
    commands: int = 600,
    reads: int = 2000,
    concurrency: int = 4,
    blocks: int = 15,
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
    """Each way, an apply and then an assign of that case, in short alternating blocks after
    one block each way that warms up (not counted). The ratio is the median of the blocks'
    ratios (each pair of blocks ran a second apart, so a burst of other work on a shared
    machine moves one pair, not the figure); the totals' ratio beside it. And what the commands
    cost in CPU: the server's processes per command over HTTP, this process's per command
    through the service."""
    body = {"field": "charity", "legal_status": "filed", "track": "incubation", "site": "main"}
    per_block = max(1, count // blocks // 2)
    ratios: list[float] = []
    service_s = http_s = service_cpu = http_cpu = 0.0
    done = 0
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        for block in range(-1, blocks):
            started, cpu = time.perf_counter(), time.process_time()
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
            service, cpu = time.perf_counter() - started, time.process_time() - cpu
            started, server_cpu = time.perf_counter(), server.cpu_seconds()
            for n in range(per_block):
                made = client.post("/api/orgs", json=body | {"name": f"接口{block}-{n}"})
                assert made.status_code == 201, made.text
                assigned = client.post(
                    f"/api/orgs/{made.json()['id']}/assign", json={"caseworker": "王芳"}
                )
                assert assigned.status_code == 200, assigned.text
            http, server_cpu = time.perf_counter() - started, server.cpu_seconds() - server_cpu
            if block >= 0:
                ratios.append(http / service)
                service_s, http_s = service_s + service, http_s + http
                service_cpu, http_cpu = service_cpu + cpu, http_cpu + server_cpu
                done += per_block * 2
    return {
        "commands_each_way": done,
        "blocks": blocks,
        "service_ms_per_command": round(service_s / done * 1000, 3),
        "http_ms_per_command": round(http_s / done * 1000, 3),
        "http_ratio_to_service": round(statistics.median(ratios), 3),
        "http_ratio_to_service_of_totals": round(http_s / service_s, 3),
        "service_cpu_ms_per_command": round(service_cpu / done * 1000, 3),
        "server_cpu_ms_per_http_command": round(http_cpu / done * 1000, 3),
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
