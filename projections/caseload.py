"""The caseload: one row per organization case, behind `incubator org list`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Date, Integer, String, Table, Text, func, literal, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")

projection = Projection("caseload", version=6)
projection.table(
    "caseload",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("name", Text, nullable=False),
        Column("track", Text, nullable=False),
        Column("field", Text, nullable=False),
        Column("legal_status", Text, nullable=False),
        Column("site", Text, nullable=False),
        Column("stage", Text, nullable=False),
        Column("workspace", Text),
        Column("caseworker", Text),
        Column("applied_on", Date, nullable=False),
        Column("entered_on", Date),
    ],
    by="id",
    # A page is read in order of application (list_cases): of every case, of a site, of a
    # stage, walking an index and stopping at the page's end. The stage after a site's order:
    # a site's counts per stage (stage_counts) are read from that index alone.
    indexes=(
        ("applied_on", "name", "id"),
        ("site", "applied_on", "name", "id", "stage"),
        ("stage", "applied_on", "name", "id"),
    ),
)


# How many cases each site has in each stage: the caseload page's counts when it is not
# filtered by more than the sites (stage_counts), without counting the cases one by one.
projection.table(
    "caseload_counts",
    lambda: [
        Column("site", Text, primary_key=True),
        Column("stage", Text, primary_key=True),
        Column("cases", Integer, nullable=False, server_default="0"),
    ],
)


def _staged(rows: Batch, case_id: str, stage: str) -> None:
    """The case moves to `stage`: its row, and the counts of its site."""
    row = rows.get("caseload", case_id)
    if row is None:
        return
    rows.add("caseload_counts", row["site"], row["stage"], cases=-1)
    rows.add("caseload_counts", row["site"], stage, cases=1)
    rows.update("caseload", case_id, stage=stage)


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put(
        "caseload",
        rows.key(e),
        name=e.name,
        track=e.track,
        field=e.field,
        legal_status=e.legal_status,
        site=e.site,
        stage="applied",
        applied_on=e.on,
    )
    if rows.get("caseload", rows.key(e)) is not None:  # stored (not an anomaly)
        rows.add("caseload_counts", e.site, "applied", cases=1)


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    """Where the case stood in the park's records (after its application, above)."""
    _staged(rows, rows.key(e), e.stage)
    rows.update(
        "caseload",
        rows.key(e),
        workspace=e.workspace if e.stage in ("incubating", "resident") else None,
        caseworker=e.caseworker,
        entered_on=e.entered_on,
    )


@projection.on(Case.Moved)
def _moved(rows: Batch, e: Case.Moved) -> None:
    _staged(rows, rows.key(e), e.stage)


@projection.on(Case.Ended, Case.ExitApproved)
def _released(rows: Batch, e: Case.Moved) -> None:
    rows.update("caseload", rows.key(e), workspace=None)


@projection.on(Case.CaseworkerAssigned)
def _assigned(rows: Batch, e: Case.CaseworkerAssigned) -> None:
    rows.update("caseload", rows.key(e), caseworker=e.caseworker)


@projection.on(Case.EntryApproved, Case.ResidentAdmitted)
def _entered(rows: Batch, e: Case.EntryApproved | Case.ResidentAdmitted) -> None:
    rows.update("caseload", rows.key(e), workspace=e.workspace, entered_on=e.on)


@projection.on(Case.FilingRecorded, Case.RegistrationRecorded)
def _status_moved(rows: Batch, e: Case.FilingRecorded | Case.RegistrationRecorded) -> None:
    status = "filed" if isinstance(e, Case.FilingRecorded) else "registered"
    rows.update("caseload", rows.key(e), legal_status=status)


@projection.on(Case.LegalStatusCorrected)
def _status_corrected(rows: Batch, e: Case.LegalStatusCorrected) -> None:
    rows.update("caseload", rows.key(e), legal_status=e.legal_status)


@projection.on(Case.EntryDateCorrected)
def _entry_corrected(rows: Batch, e: Case.EntryDateCorrected) -> None:
    rows.update("caseload", rows.key(e), entered_on=e.entered_on)


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
    conn: Connection,
    tables: dict[str, Table],
    *,
    stage: str | None = None,
    site: str | None = None,
    id_prefix: str | None = None,
    sites: Collection[str] | None = None,
    caseworker: str | None = None,
    field: str | None = None,
    track: str | None = None,
    q: str | None = None,
    name_contains: str | None = None,
    after: tuple[date, str, str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The cases that pass every filter given, in order of application. `sites` limits them
    to the sites a person works at (None: every site); `q` (or `name_contains`) is any part of
    the name; a page is `limit` rows from `offset`, or after the (applied_on, name, id) of the
    last row of the page before (`after`)."""
    caseload = tables["caseload"]
    query = select(*(caseload.c[name] for name in COLUMNS)).order_by(
        caseload.c.applied_on, caseload.c.name, caseload.c.id
    )
    query = query.where(*_filters(caseload, stage=stage, site=site, sites=sites))
    query = query.where(
        *_filters(caseload, caseworker=caseworker, field=field, track=track, q=q or name_contains)
    )
    if id_prefix:
        query = query.where(caseload.c.id.startswith(id_prefix, autoescape=True))
    if after is not None:
        query = query.where(
            tuple_(caseload.c.applied_on, caseload.c.name, caseload.c.id)
            > tuple_(*(literal(value) for value in after))
        )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [dict(row._mapping) for row in conn.execute(query)]


def stage_counts(conn: Connection, tables: dict[str, Table], **filters: Any) -> dict[str, int]:
    """How many cases are in each stage, among those that pass the filters (but the stage):
    from the counts of each site when only sites are given, else counted case by case."""
    caseload = tables["caseload"]
    filters.pop("stage", None)
    sites, site = filters.pop("sites", None), filters.pop("site", None)
    if not any(filters.values()):
        counts = tables["caseload_counts"]
        summed = select(counts.c.stage, func.sum(counts.c.cases)).group_by(counts.c.stage)
        if sites is not None:
            summed = summed.where(counts.c.site.in_(sorted(sites)))
        if site:
            summed = summed.where(counts.c.site == site)
        return {row[0]: int(row[1]) for row in conn.execute(summed) if row[1]}
    filters.update(sites=sites, site=site)
    query = (
        select(caseload.c.stage, func.count())
        .where(*_filters(caseload, **filters))
        .group_by(caseload.c.stage)
    )
    return {row[0]: row[1] for row in conn.execute(query)}


def _filters(caseload: Table, sites: Collection[str] | None = None, **given: Any) -> list[Any]:
    where: list[ColumnElement[bool]] = []
    if sites is not None:
        where.append(caseload.c.site.in_(sorted(sites)))
    for name in ("stage", "site", "caseworker", "field", "track"):
        if given.get(name):
            where.append(caseload.c[name] == given[name])
    if given.get("q"):
        where.append(caseload.c.name.contains(given["q"].strip(), autoescape=True))
    return where
