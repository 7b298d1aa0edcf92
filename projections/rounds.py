"""Venture-philanthropy rounds (公益创投): every round with its fund and what it awarded, every
project with its status, its scores (how many, their sum) and its money. Behind `round list`,
`round show`, `round rank`, `report awards` and the projects of `org show`.

Amounts are stored as decimal text, exact on every backend, and added up in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, Date, Integer, String, Table, Text, select
from sqlalchemy.engine import Connection

from lifecycle.scores import mean_of
from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.project import Project
    from lifecycle.round import Round
else:  # imported when an event is applied (projections/runner.py: Later)
    Project = Later("lifecycle.project:Project")
    Round = Later("lifecycle.round:Round")

ZERO = Decimal("0.00")
AWARDED = ("awarded", "stopped")  # a stopped project keeps its award
SCREENED_IN = ("screened_in", "awarded", "declined", "stopped")

projection = Projection("rounds", version=1)
projection.table(
    "rounds",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("name", Text, nullable=False),
        Column("fund", Text, nullable=False),
        Column("awarded_total", Text, nullable=False),
        Column("opens_on", Date, nullable=False),
        Column("closes_on", Date, nullable=False),
        Column("max_award", Text),
        Column("pass_mark", Text, nullable=False),
        Column("min_scores", Integer, nullable=False),
        Column("site", Text),
        Column("stage", Text, nullable=False),
        Column("announced_on", Date, nullable=False),
        Column("experts", Integer, nullable=False),
    ],
    by="id",
)
projection.table(
    "round_projects",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("round_id", String(36), nullable=False, index=True),
        Column("org_id", String(36), nullable=False, index=True),
        Column("org_name", Text, nullable=False),
        Column("org_site", Text, nullable=False),
        Column("title", Text, nullable=False),
        Column("category", Text),
        Column("amount", Text, nullable=False),
        Column("status", Text, nullable=False),
        Column("submitted_on", Date, nullable=False),
        Column("screened_in", Boolean, nullable=False),
        Column("score_count", Integer, nullable=False),
        Column("score_sum", Text, nullable=False),
        Column("awarded", Text),
        Column("awarded_on", Date),
        Column("disbursed", Text, nullable=False),
    ],
    by="id",
)


# ---- the rounds ------------------------------------------------------------------------------


@projection.on(Round.Announced)
def _announced(rows: Batch, e: Round.Announced) -> None:
    rows.put(
        "rounds",
        rows.key(e),
        name=e.name,
        fund=str(e.fund),
        awarded_total=str(ZERO),
        opens_on=e.opens_on,
        closes_on=e.closes_on,
        max_award=None if e.max_award is None else str(e.max_award),
        pass_mark=str(e.pass_mark),
        min_scores=e.min_scores,
        site=e.site,
        stage="open",
        announced_on=e.on,
        experts=0,
    )


@projection.on(Round.ExpertAdded)
def _expert(rows: Batch, e: Round.ExpertAdded) -> None:
    row = rows.get("rounds", rows.key(e))
    if row is not None:
        rows.update("rounds", rows.key(e), experts=row["experts"] + 1)


@projection.on(Round.AwardRecorded)
def _award_recorded(rows: Batch, e: Round.AwardRecorded) -> None:
    rows.update("rounds", rows.key(e), awarded_total=str(e.awarded_total))


@projection.on(Round.Closed)
def _closed(rows: Batch, e: Round.Closed) -> None:
    rows.update("rounds", rows.key(e), stage=e.stage)


# ---- the projects ----------------------------------------------------------------------------


@projection.on(Project.Submitted)
def _submitted(rows: Batch, e: Project.Submitted) -> None:
    rows.put(
        "round_projects",
        rows.key(e),
        round_id=str(e.round_id),
        org_id=str(e.org_id),
        org_name=e.org_name,
        org_site=e.org_site,
        title=e.title,
        category=e.category,
        amount=str(e.amount),
        status="submitted",
        submitted_on=e.on,
        screened_in=False,
        score_count=0,
        score_sum=str(ZERO),
        disbursed=str(ZERO),
    )


@projection.on(Project.Moved)
def _moved(rows: Batch, e: Project.Moved) -> None:
    rows.update("round_projects", rows.key(e), status=e.stage)


@projection.on(Project.ScreenedIn)
def _screened_in(rows: Batch, e: Project.ScreenedIn) -> None:
    rows.update("round_projects", rows.key(e), screened_in=True)


def _scores(rows: Batch, e: Any, count: int, change: Decimal) -> None:
    row = rows.get("round_projects", rows.key(e))
    if row is not None:
        rows.update(
            "round_projects",
            rows.key(e),
            score_count=row["score_count"] + count,
            score_sum=str(Decimal(row["score_sum"]) + change),
        )


@projection.on(Project.Scored)
def _scored(rows: Batch, e: Project.Scored) -> None:
    _scores(rows, e, 1, e.score)


@projection.on(Project.ScoreCorrected)
def _corrected(rows: Batch, e: Project.ScoreCorrected) -> None:
    _scores(rows, e, 0, e.score - e.previous)


@projection.on(Project.ConflictNoted)
def _conflict(rows: Batch, e: Project.ConflictNoted) -> None:
    if e.withdrawn is not None:
        _scores(rows, e, -1, -e.withdrawn)


@projection.on(Project.Awarded)
def _awarded(rows: Batch, e: Project.Awarded) -> None:
    rows.update("round_projects", rows.key(e), awarded=str(e.amount), awarded_on=e.on)


@projection.on(Project.Disbursed)
def _disbursed(rows: Batch, e: Project.Disbursed) -> None:
    rows.update("round_projects", rows.key(e), disbursed=str(e.disbursed))


# ---- queries ---------------------------------------------------------------------------------


def rounds(
    conn: Connection, tables: dict[str, Table], id_prefix: str | None = None
) -> list[dict[str, Any]]:
    """Every round (whose id starts with `id_prefix`), the latest first."""
    r = tables["rounds"]
    query = select(r).order_by(r.c.opens_on.desc(), r.c.name, r.c.id)
    if id_prefix:
        query = query.where(r.c.id.startswith(id_prefix, autoescape=True))
    found = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        fund, total = Decimal(item["fund"]), Decimal(item["awarded_total"])
        item |= {"fund": fund, "awarded_total": total, "remaining": fund - total}
        item["max_award"] = _money(item["max_award"])
        item["pass_mark"] = Decimal(item["pass_mark"])
        found.append(item)
    return found


def projects(
    conn: Connection,
    tables: dict[str, Table],
    *,
    round_id: str | None = None,
    org_id: str | None = None,
    id_prefix: str | None = None,
) -> list[dict[str, Any]]:
    """Projects, in the order they were submitted, each with its round's name and its mean."""
    p, r = tables["round_projects"], tables["rounds"]
    query = (
        select(p, r.c.name.label("round_name"))
        .join(r, r.c.id == p.c.round_id, isouter=True)
        .order_by(p.c.submitted_on, p.c.title, p.c.id)
    )
    if round_id:
        query = query.where(p.c.round_id == round_id)
    if org_id:
        query = query.where(p.c.org_id == org_id)
    if id_prefix:
        query = query.where(p.c.id.startswith(id_prefix, autoescape=True))
    return [_project(dict(row._mapping)) for row in conn.execute(query)]


def _project(row: dict[str, Any]) -> dict[str, Any]:
    count, total = row.pop("score_count"), Decimal(row.pop("score_sum"))
    return row | {
        "amount": Decimal(row["amount"]),
        "awarded": _money(row["awarded"]),
        "disbursed": Decimal(row["disbursed"]),
        "scores": count,
        "mean": mean_of(total, count) if count else None,
    }


def ranking(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best mean of the current scores first; projects without a score last."""
    return sorted(
        rows,
        key=lambda p: (
            p["mean"] is None,
            -(p["mean"] or 0),
            -p["scores"],
            p["submitted_on"],
            p["title"],
            p["id"],
        ),
    )


def funnel(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many projects were submitted, passed screening or not, were awarded, declined."""
    counts = dict.fromkeys(("submitted", "screened_in", "screened_out", "awarded", "declined"), 0)
    for p in rows:
        counts["submitted"] += 1
        status = p["status"]
        counts["screened_in"] += status in SCREENED_IN
        counts["screened_out"] += status == "screened_out"
        counts["awarded"] += status in AWARDED
        counts["declined"] += status == "declined"
    return counts


def awards(
    conn: Connection, tables: dict[str, Table], round_id: str | None = None
) -> dict[str, Any]:
    """The awards (of one round, or all) per category and per site of the organizations."""
    p = tables["round_projects"]
    query = select(p.c.category, p.c.org_site, p.c.awarded, p.c.disbursed, p.c.status).where(
        p.c.status.in_(AWARDED)
    )
    if round_id:
        query = query.where(p.c.round_id == round_id)
    found = list(conn.execute(query))
    by: dict[str, dict[str, dict[str, Any]]] = {"category": {}, "site": {}}
    for row in found:
        for key, value in (("category", row.category or "—"), ("site", row.org_site)):
            group = by[key].setdefault(
                value, {key: value, "projects": 0, "awarded": ZERO, "disbursed": ZERO}
            )
            group["projects"] += 1
            group["awarded"] += Decimal(row.awarded)
            group["disbursed"] += Decimal(row.disbursed)
    return {
        "projects": len(found),
        "awarded": sum((Decimal(r.awarded) for r in found), ZERO),
        "by_category": _groups(by["category"], "category"),
        "by_site": _groups(by["site"], "site"),
    }


def _groups(groups: dict[str, dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Largest award total first."""
    rows = [
        {
            key: g[key],
            "projects": g["projects"],
            "awarded": g["awarded"],
            "disbursed": g["disbursed"],
        }
        for g in groups.values()
    ]
    return sorted(rows, key=lambda g: (-g["awarded"], g[key]))


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
