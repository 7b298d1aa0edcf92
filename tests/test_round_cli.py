"""The first Yijinhuoluo venture-philanthropy round (March 2014: 52 projects submitted, 12
funded, sharing 440,000 yuan), end to end through the real `incubator` executable, on a SQLite
file and on PostgreSQL.

The 52 organizations are known to the park beforehand (applied through the service); everything
of the round goes through the executable. Commands on different projects run a few at a time,
as several caseworkers and experts would; the ones that change the round (submissions, awards)
one after another.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from commands.bootstrap import bootstrap
from commands.service import Who
from tests.test_cli import Shell

pytestmark = pytest.mark.slow

SITES = ("main", "branch", "community-1", "community-2", "community-3", "community-4")
CATEGORIES = ("为老服务", "助残服务", "青少年服务", "社区服务")
EXPERTS = ("王建国", "刘慧", "赵志强", "陈静")
FUNDED = 12
SCREENED_IN = 14  # the 12 funded, one whose mean falls short, one the fund no longer covers
# 8 × 40,000 + 4 × 30,000 = 440,000
AWARDS = [40_000] * 8 + [30_000] * 4


def at_once(sh: Shell, commands: Sequence[Sequence[str]], workers: int = 4) -> list[str]:
    """Each command's output; several run at the same moment."""
    with ThreadPoolExecutor(workers) as pool:
        return [r.stdout.strip() for r in pool.map(lambda c: sh.run(*c), commands)]


def yuan(value: Any) -> Decimal:
    """JSON gives yuan as a number or a decimal string: either is exact here."""
    return Decimal(str(value))


def organizations(url: str, count: int) -> list[str]:
    """The organizations the park knows, applied through the service itself: they are the
    round's precondition, and 52 more processes would only make the test slower."""
    system = bootstrap(url)
    try:
        return [
            str(
                system.service.apply(
                    Who("李娜", date(2014, 1, 6)),
                    name=f"伊金霍洛旗社会组织{n:02d}",
                    field="公益慈善",
                    legal_status="filed",
                    track="incubation",
                    site=SITES[n % len(SITES)],
                ).id
            )
            for n in range(count)
        ]
    finally:
        system.close_all()


def test_the_first_yijinhuoluo_round_of_2014(database_url: str) -> None:
    sh = Shell(database_url)
    orgs = organizations(database_url, 52)
    assert len(set(orgs)) == 52

    rnd = sh.run(
        "round", "create", "--name", "伊金霍洛旗首届公益创投", "--fund", "440000",
        "--opens", "2014-03-01", "--closes", "2014-03-31", "--max-award", "50000",
        "--site", "main", "--on", "2014-02-20",
    ).stdout.strip()  # fmt: skip
    # 王建国 is linked to the first organization from the start, 陈静 to the second later on
    sh.run("round", "add-expert", rnd[:8], "--expert", "王建国", "--conflict", orgs[0][:8],
           "--on", "2014-02-21")  # fmt: skip
    for expert in EXPERTS[1:]:
        sh.run("round", "add-expert", rnd, "--expert", expert, "--on", "2014-02-21")
    early = sh.refused("round", "submit", rnd, "--org", orgs[0], "--title", "太早",
                       "--amount", "1000", "--on", "2014-02-28")  # fmt: skip
    assert "takes projects from 2014-03-01 to 2014-03-31; 2014-02-28 is outside" in early

    projects = [
        sh.run(
            "round", "submit", rnd, "--org", org, "--title", f"公益项目{n:02d}",
            "--amount", "40000" if n < SCREENED_IN else "36500.50",
            "--category", CATEGORIES[n % 4], "--on", f"2014-03-{1 + n % 31:02d}",
        ).stdout.strip()
        for n, org in enumerate(orgs)
    ]  # fmt: skip
    again = sh.refused("round", "submit", rnd, "--org", orgs[5], "--title", "第二个",
                       "--amount", "1000", "--on", "2014-03-31")  # fmt: skip
    assert "one project per organization per round" in again
    sh.run("round", "declare-conflict", rnd, "--expert", "陈静", "--org", orgs[1][:8],
           "--on", "2014-03-31")  # fmt: skip

    # 初审: 14 in, 38 out with a reason
    screened = [["round", "screen", p, "--pass", "--on", "2014-04-02"] for p in projects[:14]]
    screened += [
        ["round", "screen", p, "--fail", "--reason", "不符合资助方向", "--on", "2014-04-02"]
        for p in projects[14:]
    ]
    at_once(sh, screened)
    conflicted = sh.refused("round", "score", projects[0], "--expert", "王建国", "--score", "90")
    assert "王建国 has declared a conflict with 伊金霍洛旗社会组织00 (关联回避)" in conflicted

    # Every expert scores every project screened in, but for the two conflicts: the funded
    # twelve 90 down to 79, the 13th (55) below the pass mark, the 14th 78.
    marks = [90 - n for n in range(FUNDED)] + [55, 78]
    at_once(
        sh,
        [
            ["round", "score", project, "--expert", expert, "--score", str(mark),
             "--on", "2014-04-10"]
            for project, mark, n in zip(projects, marks, range(SCREENED_IN), strict=False)
            for expert in EXPERTS
            if (n, expert) not in ((0, "王建国"), (1, "陈静"))
        ],
    )  # fmt: skip
    corrected = sh.json("round", "score", projects[2], "--expert", "刘慧", "--score", "95",
                        "--reason", "录入有误, 核对原始评分表", "--on", "2014-04-11")  # fmt: skip
    assert corrected["score_by_expert"]["刘慧"] == 95 and corrected["scores"] == 4

    rank = sh.json("round", "rank", rnd)
    assert len(rank) == 52
    assert {"id", "org", "title", "amount", "mean", "scores", "status"} <= set(rank[0])
    best = [projects[0], projects[2], projects[1], *projects[3:FUNDED], projects[13], projects[12]]
    assert [r["id"] for r in rank[:SCREENED_IN]] == best
    assert [yuan(r["mean"]) for r in rank[:3]] == [90, Decimal("89.75"), 89]  # 88, 95, 88, 88
    assert [r["scores"] for r in rank[:3]] == [3, 4, 3]  # the conflicted experts' left out
    assert (rank[0]["org"], yuan(rank[0]["amount"])) == (orgs[0], Decimal(40_000))
    assert {(r["status"], r["scores"], r["mean"]) for r in rank[SCREENED_IN:]} == {
        ("screened_out", 0, None)
    }

    below = sh.refused("round", "award", projects[12], "--amount", "10000", "--on", "2014-04-20")
    assert "below the round's pass mark 60" in below
    for project, amount in zip(projects, AWARDS, strict=False):
        sh.run("round", "award", project, "--amount", str(amount), "--on", "2014-04-20")
    over = sh.refused("round", "award", projects[13], "--amount", "10000", "--on", "2014-04-20")
    assert "above its fund of 440,000.00 yuan: 0.00 yuan remain" in over
    sh.run("round", "decline", projects[12], "--reason", "平均分未达及格线", "--on", "2014-04-21")
    sh.run("round", "decline", projects[13], "--reason", "资金已分配完", "--on", "2014-04-21")

    shown = sh.json("round", "show", rnd)
    assert (shown["id"], shown["name"]) == (rnd, "伊金霍洛旗首届公益创投")
    assert [yuan(shown[k]) for k in ("fund", "awarded_total", "remaining")] == [440_000, 440_000, 0]
    assert shown["projects"] == {
        "submitted": 52,
        "screened_in": SCREENED_IN,
        "screened_out": 52 - SCREENED_IN,
        "awarded": FUNDED,
        "declined": 2,
    }
    statuses = [r["status"] for r in sh.json("round", "rank", rnd)]
    assert statuses.count("awarded") == FUNDED and statuses.count("declined") == 2

    # Tracking: two tranches, the mid-term report, and a mid-term check that stops one project
    sh.run("round", "disburse", projects[0], "--amount", "20000", "--on", "2014-05-01")
    report = sh.json("round", "report", projects[0], "--kind", "midterm", "--note", "中期检查合格",
                     "--on", "2014-10-15")  # fmt: skip
    assert report["milestones"][0] == {
        "kind": "midterm",
        "due_on": "2014-10-20",
        "status": "done",
        "reported_on": "2014-10-15",
    }
    sh.run("round", "disburse", projects[0], "--amount", "20000", "--on", "2014-11-01")
    beyond = sh.refused("round", "disburse", projects[0], "--amount", "0.01", "--on", "2014-11-02")
    assert "above the award of 40,000.00 yuan: 0.00 yuan remain" in beyond
    sh.run("round", "disburse", projects[11], "--amount", "15000", "--on", "2014-05-01")
    sh.run(
        "round", "stop", projects[11], "--reason", "中期检查: 未按计划实施", "--on", "2014-10-21"
    )
    stopped = sh.refused("round", "disburse", projects[11], "--amount", "100", "--on", "2014-11-01")
    assert "cannot disburse: the project is in stage 'stopped'" in stopped
    assert sh.json("round", "rank", rnd)[FUNDED - 1]["status"] == "stopped"

    awards = sh.json("report", "awards", "--round", rnd[:8])
    assert (awards["projects"], yuan(awards["awarded"])) == (FUNDED, Decimal(440_000))
    per_category = {c["category"]: yuan(c["awarded"]) for c in awards["by_category"]}
    assert per_category == {"为老服务": 110_000, "助残服务": 110_000, "青少年服务": 110_000,
                            "社区服务": 110_000}  # fmt: skip
    assert sum(yuan(g["awarded"]) for g in awards["by_site"]) == 440_000
    assert {g["site"] for g in awards["by_site"]} == set(SITES)

    page = sh.json("org", "show", orgs[0][:8])
    assert [(p["id"], p["status"], yuan(p["awarded"])) for p in page["projects"]] == [
        (projects[0], "awarded", Decimal(40_000))
    ]
    assert page["projects"][0]["round_name"] == "伊金霍洛旗首届公益创投"

    sh.run("round", "close", rnd, "--on", "2014-05-01")
    listed = sh.json("round", "list")
    assert [(r["id"], r["stage"], yuan(r["remaining"])) for r in listed] == [
        (rnd, "closed", Decimal(0))
    ]
    history = sh.json("round", "history", rnd)
    types = [e["type"] for e in history]
    assert types.count("ProjectSubmitted") == 52 and types.count("AwardRecorded") == FUNDED
    assert types.count("Submitted") == 52 and types.count("ScoreCorrected") == 1
    assert types[0] == "Announced" and types[-1] == "Closed"
    text = sh.run("round", "show", rnd).stdout
    assert "440,000.00" in text and "52 submitted" in text and "12 awarded" in text
