"""The API end to end: a real `incubator serve` process on a free loopback port, driven over
HTTP by the people of the park, on SQLite and PostgreSQL; two workers racing on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.api_support import PASSWORD
from tests.test_cli import COMMAND

GOOD = {"王建国": 82, "刘慧": 78, "赵志强": 85}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, database_url: str, workers: int = 1) -> None:
        self.env = {**os.environ, "INCUBATOR_DATABASE_URL": database_url}
        for name in ("INCUBATOR_NOW", "INCUBATOR_SETTINGS", "INCUBATOR_SMTP_URL"):
            self.env.pop(name, None)
        self.port, self.workers = free_port(), workers
        self.url = f"http://127.0.0.1:{self.port}"

    def user(self, name: str, role: str, *sites: str) -> None:
        places = [arg for site in sites for arg in ("--site", site)]
        made = subprocess.run(
            [*COMMAND, "user", "add", name, "--role", role, *places, "--password-stdin",
             "--actor", "setup"],
            input=PASSWORD, env=self.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr

    @contextmanager
    def running(self) -> Iterator[Server]:
        process = subprocess.Popen(
            [*COMMAND, "serve", "--port", str(self.port), "--workers", str(self.workers),
             "--log-level", "warning"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{self.url}/api/openapi.json", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    time.sleep(0.2)
            else:
                raise AssertionError("the server did not answer within 60 s")
            yield self
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
            assert b"Traceback" not in err, err.decode()

    def client(self, name: str) -> httpx.Client:
        token = httpx.post(
            f"{self.url}/api/token", data={"username": name, "password": PASSWORD}, timeout=30
        )
        assert token.status_code == 200, token.text
        assert token.json()["token_type"] == "bearer" and token.json()["expires_in"] > 0
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


@pytest.mark.slow
def test_the_readme_cohort_over_http(database_url: str) -> None:
    server = Server(database_url)
    server.user("李娜", "caseworker", "main")
    server.user("张红", "instructor", "main")
    server.user("园区主任", "director")
    with server.running():
        li, zhang, director = (
            server.client("李娜"),
            server.client("张红"),
            server.client("园区主任"),
        )
        apply = {"name": "爱心志愿者协会", "field": "公益慈善", "legal_status": "registered"}
        apply |= {"track": "incubation", "site": "main", "contact": "张伟", "on": "2014-01-06"}
        created = li.post("/api/orgs", json=apply)
        org = ok(created, 201)["id"]
        assert created.headers["Location"] == f"/api/orgs/{org}"
        steps = [
            ("start-inspection", {"on": "2014-01-08"}),
            ("assign", {"caseworker": "王芳", "on": "2014-01-08"}),
            ("record-visit", {"note": "走访: 团队 12 人", "on": "2014-01-15"}),
            ("submit-for-entry", {"on": "2014-02-20"}),
            ("evaluate-entry", {"scores": GOOD, "workspace": "M-01", "on": "2014-03-03"}),
        ]
        for verb, body in steps:
            ok(li.post(f"/api/orgs/{org}/{verb}", json=body))
        entered = ok(li.get(f"/api/orgs/{org}"))
        assert (entered["stage"], entered["workspace"]) == ("incubating", "M-01")
        # the party track started with the entry: the instructor's commands
        ok(zhang.post(f"/api/orgs/{org}/party/record-inspection", json={"on": "2014-03-05"}))
        counted = {"formal": 3, "transferred": 3, "on": "2014-03-10"}
        party = ok(zhang.post(f"/api/orgs/{org}/party/count-members", json=counted))
        assert party["stage"] == "support"
        refused = zhang.post(f"/api/orgs/{org}/record-visit", json={"note": "x"})
        assert refused.status_code == 403  # an instructor gives no lifecycle command
        for verb, body in [
            ("record-growth-review", {"scores": {"王建国": 75}, "on": "2014-08-05"}),
            ("evaluate-exit", {"scores": GOOD, "on": "2014-12-20"}),
            ("record-follow-up", {"service": "协助竞标政府购买服务", "on": "2015-03-10"}),
            ("close", {"on": "2016-01-05"}),
        ]:
            ok(li.post(f"/api/orgs/{org}/{verb}", json=body))
        closed = ok(director.get(f"/api/orgs/{org}"))
        assert (closed["stage"], closed["workspace"]) == ("closed", None)
        history = ok(director.get(f"/api/orgs/{org}/history"))
        mine = [(e["actor"], e["role"]) for e in history if e["type"] != "PartyTrackStarted"]
        assert set(mine) == {("李娜", "caseworker")}, mine
        listed = ok(li.get("/api/orgs?stage=closed"))["items"]
        assert [row["id"] for row in listed] == [org]
        verdict = server.client("园区主任").get("/api/audit/verify")
        assert verdict.status_code == 403  # a director is no auditor


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_one_workspace_two_cases(postgres_url: str) -> None:
    """Two cases take workspace M-01 at the same moment through two worker processes: one is
    recorded, the other refused (a conflict when it lost the race), and nothing is lost."""
    server = Server(postgres_url, workers=2)
    server.user("王芳", "caseworker", "main")
    server.user("李娜", "caseworker", "main")
    apply = {"field": "公益慈善", "legal_status": "filed", "track": "incubation", "site": "main",
             "on": "2014-01-06"}  # fmt: skip
    statuses: list[tuple[int, int]] = []
    with server.running():
        wang, li = server.client("王芳"), server.client("李娜")
        for attempt in range(8):
            cases = []
            for n in range(2):
                case = ok(wang.post("/api/orgs", json=apply | {"name": f"机构{attempt}-{n}"}), 201)
                for verb in ("start-inspection", "submit-for-entry"):
                    ok(wang.post(f"/api/orgs/{case['id']}/{verb}", json={"on": "2014-02-01"}))
                cases.append(case["id"])
            workspace = f"M-{attempt + 1:02d}"
            barrier = threading.Barrier(2)
            answers: dict[str, httpx.Response] = {}

            body = {"scores": GOOD, "workspace": workspace, "on": "2014-03-03"}

            def take(
                client: httpx.Client,
                case: str,
                barrier: threading.Barrier = barrier,
                answers: dict[str, httpx.Response] = answers,
                body: dict[str, Any] = body,
            ) -> None:
                barrier.wait()
                answers[case] = client.post(f"/api/orgs/{case}/evaluate-entry", json=body)

            threads = [threading.Thread(target=take, args=(c, case))
                       for c, case in zip((wang, li), cases, strict=True)]  # fmt: skip
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            pair = sorted(a.status_code for a in answers.values())
            statuses.append((pair[0], pair[1]))
            assert pair[0] == 200 and pair[1] in (409, 422), [a.text for a in answers.values()]
            holders = [c for c in cases if ok(wang.get(f"/api/orgs/{c}"))["workspace"] == workspace]
            assert len(holders) == 1
            winner = next(c for c, a in answers.items() if a.status_code == 200)
            assert holders == [winner]
            loser = next(c for c in cases if c != winner)
            assert ok(wang.get(f"/api/orgs/{loser}"))["stage"] == "entry_review"
            if pair[1] == 409:
                assert "conflict" in answers[loser].json()["detail"]
                break
    assert (200, 409) in statuses, statuses


def _start_adapter(url: str, start: Any, errors: Any) -> None:
    from commands.bootstrap import bootstrap
    from commands.requests import Requests

    system = bootstrap(url)
    try:
        start.wait()
        Requests(system)
    except Exception as e:  # reported to the test
        errors.put(f"{type(e).__name__}: {e}")
    finally:
        system.close_all()


@pytest.mark.postgres
def test_adapters_starting_together_on_a_new_database_create_their_tables_once(
    postgres_url: str,
) -> None:
    """Workers that start at the same moment on a new PostgreSQL schema each create the tables
    of requests; outside the schema's lock two of them raced to create the same table types
    (a unique violation in pg_type) and a worker died at start-up."""
    import multiprocessing

    from commands.bootstrap import bootstrap

    bootstrap(postgres_url).close_all()  # the log and read models exist; the requests' not yet
    context = multiprocessing.get_context("spawn")
    start, errors = context.Event(), context.Queue()
    workers = [
        context.Process(target=_start_adapter, args=(postgres_url, start, errors)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3.0)  # each has opened the system and waits
    start.set()
    for worker in workers:
        worker.join(60)
    failed = [errors.get() for _ in range(errors.qsize())]
    assert not failed, failed
    assert [w.exitcode for w in workers] == [0] * 4
