"""Legal status (登记/备案): per site, the organizations in the park by their status now, and how
many moved (unregistered → filed → registered) while the park incubated them: what a director
reports to the civil-affairs bureau."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, Integer, String, Table, Text, select
from sqlalchemy.engine import Connection

from lifecycle.park import LEGAL_STATUSES
from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")

projection = Projection("legal_status", version=1)
projection.table(
    "legal_statuses",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("site", Text, nullable=False, index=True),
        Column("status", Text, nullable=False),
        # the status the park took it in with (put right by a correction before any move)
        Column("since", Text, nullable=False),
        Column("moves", Integer, nullable=False),  # filings and registrations recorded
        Column("open", Boolean, nullable=False),
    ],
    by="case_id",
)


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put(
        "legal_statuses",
        rows.key(e),
        site=e.site,
        status=e.legal_status,
        since=e.legal_status,
        moves=0,
        open=True,
    )


@projection.on(Case.FilingRecorded, Case.RegistrationRecorded)
def _moved(rows: Batch, e: Case.FilingRecorded | Case.RegistrationRecorded) -> None:
    row = rows.get("legal_statuses", rows.key(e))
    if row is not None:
        status = "filed" if isinstance(e, Case.FilingRecorded) else "registered"
        rows.update("legal_statuses", rows.key(e), status=status, moves=row["moves"] + 1)


@projection.on(Case.LegalStatusCorrected)
def _corrected(rows: Batch, e: Case.LegalStatusCorrected) -> None:
    row = rows.get("legal_statuses", rows.key(e))
    if row is None:
        return
    changes: dict[str, Any] = {"status": e.legal_status}
    if row["moves"] == 0:  # the status it came with was wrong, not a move
        changes["since"] = e.legal_status
    rows.update("legal_statuses", rows.key(e), **changes)


@projection.on(Case.Ended)
def _ended(rows: Batch, e: Case.Ended) -> None:
    rows.update("legal_statuses", rows.key(e), open=False)


def moved(row: Any) -> bool:
    """Whether the status moved forward while the park had the case."""
    rank = LEGAL_STATUSES.index
    return bool(row.moves) and rank(row.status) > rank(row.since)


def by_site(
    conn: Connection, tables: dict[str, Table], site: str | None = None
) -> list[dict[str, Any]]:
    """Per site: the organizations in the park now (open cases) by legal status, and how many
    organizations, in the park now or no longer, moved to filed or registered while there."""
    statuses = tables["legal_statuses"]
    query = select(statuses).order_by(statuses.c.site)
    if site:
        query = query.where(statuses.c.site == site)
    sites: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query):
        figures = sites.setdefault(
            row.site,
            {"site": row.site, "organizations": 0}
            | dict.fromkeys(LEGAL_STATUSES, 0)
            | {"moved": 0, "moved_to_filed": 0, "moved_to_registered": 0},
        )
        if row.open:
            figures["organizations"] += 1
            figures[row.status] += 1
        if moved(row):
            figures["moved"] += 1
            figures[f"moved_to_{row.status}"] += 1
    return list(sites.values())
