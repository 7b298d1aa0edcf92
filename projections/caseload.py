"""The caseload: one row per organization case, behind `incubator org list`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, select, update
from sqlalchemy.engine import Connection, Engine

from lifecycle.organization import OrganizationCase as Case
from projections.runner import Projection

VERSION = 1
metadata = MetaData()
caseload = Table(
    f"caseload_v{VERSION}",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("track", String(20), nullable=False),
    Column("field", String(40), nullable=False),
    Column("legal_status", String(20), nullable=False),
    Column("site", String(40), nullable=False, index=True),
    Column("stage", String(20), nullable=False, index=True),
    Column("workspace", String(40)),
    Column("caseworker", String(100)),
    Column("applied_on", Date, nullable=False),
    Column("entered_on", Date),
    Column("last_step_on", Date, nullable=False),
    Column("version", Integer, nullable=False),
)

projection = Projection("caseload", VERSION, metadata)


def _set(conn: Connection, event: Any, **values: Any) -> None:
    # Guarded by version: replaying an event already applied changes nothing.
    conn.execute(
        update(caseload)
        .where(
            caseload.c.id == str(event.originator_id),
            caseload.c.version <= event.originator_version,
        )
        .values(version=event.originator_version, **values)
    )


@projection.on(Case.ApplicationReceived)
def _received(conn: Connection, e: Case.ApplicationReceived) -> None:
    row = conn.execute(select(caseload.c.id).where(caseload.c.id == str(e.originator_id)))
    if row.first() is None:
        conn.execute(
            caseload.insert().values(
                id=str(e.originator_id),
                name=e.name,
                track=e.track,
                field=e.field,
                legal_status=e.legal_status,
                site=e.site,
                stage="applied",
                applied_on=e.on,
                last_step_on=e.on,
                version=e.originator_version,
            )
        )


@projection.on(Case.CaseEvent)
def _stepped(conn: Connection, e: Case.CaseEvent) -> None:
    _set(conn, e, last_step_on=e.on)


@projection.on(Case.Moved)
def _moved(conn: Connection, e: Case.Moved) -> None:
    _set(conn, e, stage=e.stage)


@projection.on(Case.Ended, Case.ExitApproved)
def _released(conn: Connection, e: Case.Moved) -> None:
    _set(conn, e, workspace=None)


@projection.on(Case.CaseworkerAssigned)
def _assigned(conn: Connection, e: Case.CaseworkerAssigned) -> None:
    _set(conn, e, caseworker=e.caseworker)


@projection.on(Case.EntryApproved, Case.ResidentAdmitted)
def _entered(conn: Connection, e: Case.EntryApproved | Case.ResidentAdmitted) -> None:
    _set(conn, e, workspace=e.workspace, entered_on=e.on)


@projection.on(Case.EntryDateCorrected)
def _entry_corrected(conn: Connection, e: Case.EntryDateCorrected) -> None:
    _set(conn, e, entered_on=e.entered_on)


COLUMNS = (
    "id",
    "name",
    "track",
    "field",
    "legal_status",
    "site",
    "stage",
    "workspace",
    "caseworker",
    "applied_on",
    "entered_on",
)


def list_cases(
    engine: Engine,
    *,
    stage: str | None = None,
    site: str | None = None,
    id_prefix: str | None = None,
) -> list[dict[str, Any]]:
    query = select(*(caseload.c[name] for name in COLUMNS)).order_by(
        caseload.c.applied_on, caseload.c.name, caseload.c.id
    )
    if stage:
        query = query.where(caseload.c.stage == stage)
    if site:
        query = query.where(caseload.c.site == site)
    if id_prefix:
        query = query.where(caseload.c.id.startswith(id_prefix, autoescape=True))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
