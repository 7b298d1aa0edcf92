"""How soon the pages answer, and how much a case page weighs (issue #15's figures).

    .venv/bin/python -m benchmarks.web --quick       # SQLite, 2,000 cases, a minute or two

The log is filled with benchmarks.cohorts (20,000 cases in the full run), the read models
caught up, and a real `incubator serve` started with 1 and then 2 workers. The director logs
in through /login (the form's CSRF token, the session cookie sent back by hand: it is Secure,
and this is loopback http). A bounded asyncio client (`concurrency` requests in flight) then
asks for case pages (/orgs/{id}) of random cases and caseload pages (/orgs: the first page,
the first page of a site, of a stage, or one of the first ten pages); time to first byte (the
answer's headers) and whole answer, p50 and p99 (benchmarks/serving.py).

Page weight: a case page's HTML with the style sheets and scripts it links to (the pictures
are inline SVG, part of the HTML), as served (no compression), for a sample of cases: the
median and the heaviest, and the heaviest case's events.
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks.common import run_backends, section_arguments
from benchmarks.serving import Server, filled, load

STAGES = ("closed", "exited", "resident", "rejected")  # those the cohorts leave their cases in
SITES = ("main", "branch", "community-1")


def run(
    backend: str = "sqlite",
    cases: int = 20_000,
    reads: int = 1000,
    concurrency: int = 4,
    weighed: int = 40,
) -> dict[str, Any]:
    with filled(backend, cases) as park:
        results = park.figures(backend)
        for workers in (1, 2):
            with Server(park.url, workers=workers) as server:
                cookie = server.page_session()
                label = f"{workers}_worker{'s' if workers > 1 else ''}"
                results[f"pages_{label}"] = _pages(server, cookie, park.ids, reads, concurrency)
                if workers == 1:
                    results["case_page_weight"] = _weight(server, cookie, park.ids, weighed)
        return results


def _pages(
    server: Server, cookie: dict[str, str], ids: list[str], count: int, concurrency: int
) -> dict[str, Any]:
    rng = random.Random(2015)
    cases = [f"/orgs/{rng.choice(ids)}" for _ in range(count)]
    choices: list[Callable[[], str]] = [
        lambda: "/orgs",
        lambda: f"/orgs?site={rng.choice(SITES)}",
        lambda: f"/orgs?stage={rng.choice(STAGES)}",
        lambda: f"/orgs?page={rng.randint(1, 10)}",
    ]
    caseload = [rng.choice(choices)() for _ in range(count // 2)]
    return {
        "concurrency": concurrency,
        "workers": server.workers,
        "case_page": load(server, cases, concurrency, cookie),
        "caseload_page": load(server, caseload, concurrency, cookie),
    }


def _weight(server: Server, cookie: dict[str, str], ids: list[str], sample: int) -> dict[str, Any]:
    """Bytes of a case page with what it links to, for `sample` cases (one at a time)."""
    rng = random.Random(2016)
    weights: list[tuple[int, int, int, str]] = []  # total, html, events, case
    linked: dict[str, int] = {}
    with httpx.Client(base_url=server.url, headers=cookie, timeout=60) as client:
        for case in rng.sample(ids, min(sample, len(ids))):
            page = client.get(f"/orgs/{case}")
            assert page.status_code == 200, page.text
            assets = re.findall(r'<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+)"', page.text)
            for asset in assets:
                if asset not in linked:
                    fetched = client.get(asset)
                    assert fetched.status_code == 200, asset
                    linked[asset] = len(fetched.content)
            html = len(page.content)
            timeline = page.text.partition('<table class="timeline">')[2]
            events = max(0, timeline.partition("</table>")[0].count("<tr") - 1)  # but its head
            weights.append((html + sum(linked[a] for a in assets), html, events, case))
    heaviest = max(weights)
    return {
        "cases_weighed": len(weights),
        "median_kb": round(statistics.median(w[0] for w in weights) / 1024, 1),
        "heaviest_kb": round(heaviest[0] / 1024, 1),
        "heaviest_html_kb": round(heaviest[1] / 1024, 1),
        "heaviest_events": heaviest[2],
        "linked_kb": {asset: round(size / 1024, 1) for asset, size in sorted(linked.items())},
    }


def main(argv: list[str] | None = None) -> None:
    parser = section_arguments(__doc__ or "")
    parser.add_argument("--quick", action="store_true", help="2,000 cases, fewer requests")
    parser.set_defaults(backend="sqlite")
    args = parser.parse_args(argv)
    sizes: Callable[[str], Any] = (lambda b: run(b, 2000, 300, weighed=20)) if args.quick else run
    import json

    for result in run_backends(args, sizes):
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
