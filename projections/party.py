"""Party coverage (入驻一家, 覆盖一家): which organizations in the park have a party track, their
members and branches. Built from the organization cases, the party tracks and the joint branches."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection

from lifecycle.stages import INDEPENDENT
from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.joint_branch import JointBranch
    from lifecycle.organization import OrganizationCase as Case
    from lifecycle.party import PartyIncubation as Track
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")
    JointBranch = Later("lifecycle.joint_branch:JointBranch")
    Track = Later("lifecycle.party:PartyIncubation")

IN_THE_PARK = ("incubating", "follow_up", "resident")

projection = Projection("party", version=4)
projection.table(
    "party_orgs",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("name", Text),
        Column("site", Text, nullable=False),
        Column("stage", Text, nullable=False, index=True),
    ],
    by="id",
)
projection.table(
    "party_tracks",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("case_id", String(36), nullable=False, unique=True),
        Column("site", Text, nullable=False),
        Column("stage", Text, nullable=False),
        Column("formal", Integer),
        Column("instructor", Text),
        Column("branch_kind", Text),
        Column("branch_id", String(36)),
        Column("branch_name", Text),
        Column("stars", Integer),
        Column("rated_on", Date),
    ],
    by="id",
)
projection.table(
    "joint_branches",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("site", Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("constituted", Boolean, nullable=False),
    ],
    by="id",
)
projection.table(
    "joint_members",
    lambda: [
        Column("branch_id", String(36), primary_key=True),
        Column("case_id", String(36), primary_key=True),
        Column("formal", Integer, nullable=False),
    ],
    by="branch_id",
)


def _case_of(rows: Batch, e: Any) -> str | None:
    track = rows.get("party_tracks", rows.key(e))
    return track["case_id"] if track else None


projection.case_of = _case_of


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put("party_orgs", rows.key(e), name=e.name, site=e.site, stage="applied")


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    rows.update("party_orgs", rows.key(e), stage=e.stage)


@projection.on(Case.Moved)
def _org_moved(rows: Batch, e: Case.Moved) -> None:
    rows.update("party_orgs", rows.key(e), stage=e.stage)


@projection.on(Track.Started)
def _started(rows: Batch, e: Track.Started) -> None:
    rows.put(
        "party_tracks",
        rows.key(e),
        case_id=str(e.case_id),
        site=e.site,
        stage="entry_inspection",
    )


@projection.on(Track.Moved)
def _moved(rows: Batch, e: Track.Moved) -> None:
    rows.update("party_tracks", rows.key(e), stage=e.stage)


@projection.on(Track.MembersCounted)
def _counted(rows: Batch, e: Track.MembersCounted) -> None:
    rows.update("party_tracks", rows.key(e), formal=e.formal)


@projection.on(Track.InstructorAssigned)
def _instructor(rows: Batch, e: Track.InstructorAssigned) -> None:
    rows.update("party_tracks", rows.key(e), instructor=e.instructor)


@projection.on(Track.BranchFounded)
def _founded(rows: Batch, e: Track.BranchFounded) -> None:
    rows.update(
        "party_tracks",
        rows.key(e),
        branch_kind=INDEPENDENT,
        branch_id=str(e.branch_id),
        branch_name=e.name,
    )


@projection.on(Track.JointBranchJoined)
def _joined(rows: Batch, e: Track.JointBranchJoined) -> None:
    rows.update(
        "party_tracks",
        rows.key(e),
        branch_kind="joint",
        branch_id=str(e.branch_id),
        branch_name=e.name,
    )


@projection.on(Track.Rated)
def _rated(rows: Batch, e: Track.Rated) -> None:
    rows.update("party_tracks", rows.key(e), stars=e.stars, rated_on=e.on)


@projection.on(JointBranch.Created)
def _branch_created(rows: Batch, e: JointBranch.Created) -> None:
    rows.put("joint_branches", rows.key(e), site=e.site, name=e.name, constituted=False)


@projection.on(JointBranch.MemberJoined, JointBranch.MemberRecounted)
def _member(rows: Batch, e: JointBranch.MemberJoined | JointBranch.MemberRecounted) -> None:
    rows.put("joint_members", rows.key(e), str(e.case_id), formal=e.formal)


@projection.on(JointBranch.MemberLeft)
def _member_left(rows: Batch, e: JointBranch.MemberLeft) -> None:
    rows.delete("joint_members", rows.key(e), str(e.case_id))


@projection.on(JointBranch.Constituted)
def _constituted(rows: Batch, e: JointBranch.Constituted) -> None:
    rows.update("joint_branches", rows.key(e), constituted=True)


@projection.on(JointBranch.FellBelowMinimum)
def _below_minimum(rows: Batch, e: JointBranch.FellBelowMinimum) -> None:
    rows.update("joint_branches", rows.key(e), constituted=False)


def coverage(conn: Connection, tables: dict[str, Table], site: str | None = None) -> dict[str, Any]:
    """Organizations in the park (entered and still open), how many have a party track, their
    formal members, and the branches they form: independent ones, and the joint branches of the
    site(s) that are constituted (their members together have at least 3 formal members)."""
    orgs, tracks, branches = tables["party_orgs"], tables["party_tracks"], tables["joint_branches"]
    in_park = and_(orgs.c.stage.in_(IN_THE_PARK), *([orgs.c.site == site] if site else []))
    organizations = conn.execute(select(func.count()).where(in_park)).scalar_one()
    covered, formal, independent = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(tracks.c.formal), 0),
            func.count().filter(tracks.c.branch_kind == INDEPENDENT),
        )
        .select_from(orgs.join(tracks, tracks.c.case_id == orgs.c.id))
        .where(in_park)
    ).one()
    joint_query = select(func.count()).where(branches.c.constituted.is_(True))
    if site:
        joint_query = joint_query.where(branches.c.site == site)
    joint = conn.execute(joint_query).scalar_one()
    return {
        "organizations": organizations,
        "covered": covered,
        "formal_members": int(formal),
        "branches": {"independent": independent, "joint": joint},
        "ratio": round(covered / organizations, 4) if organizations else None,
    }


def branches(
    conn: Connection,
    tables: dict[str, Table],
    site: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Every party branch of organizations in the park: the independent ones, and the joint ones
    (with or without members yet), each with its member organizations and formal members; by
    site, kind, name and id, `limit` of them from `offset` (the database sorts and cuts)."""
    every = _branches(tables, site)
    order = [every.c.site, every.c.kind, every.c.name, every.c.id]
    if conn.dialect.name == "postgresql":  # in code point order, as SQLite and Python sort
        order = [c.collate("C") for c in order]
    query = select(every).order_by(*order).limit(limit).offset(offset or None)
    return [
        _branch_row(
            row.id, row.site, row.name, row.kind, row.organizations, int(row.formal), bool(row.ok)
        )
        for row in conn.execute(query)
    ]


def branches_count(conn: Connection, tables: dict[str, Table], site: str | None = None) -> int:
    return int(conn.execute(select(func.count()).select_from(_branches(tables, site))).scalar_one())


def _branches(tables: dict[str, Table], site: str | None) -> Any:
    """The independent branches and the joint ones, as one list of rows (a subquery)."""
    orgs, tracks = tables["party_orgs"], tables["party_tracks"]
    joint, members = tables["joint_branches"], tables["joint_members"]
    independent = (
        select(
            tracks.c.branch_id.label("id"),
            tracks.c.site.label("site"),
            tracks.c.branch_name.label("name"),
            literal(INDEPENDENT).label("kind"),
            literal(1).label("organizations"),
            func.coalesce(tracks.c.formal, 0).label("formal"),
            literal(True).label("ok"),
        )
        .select_from(tracks.join(orgs, orgs.c.id == tracks.c.case_id))
        .where(tracks.c.branch_kind == INDEPENDENT, orgs.c.stage.in_(IN_THE_PARK))
    )
    joint_query = (
        select(
            joint.c.id.label("id"),
            joint.c.site.label("site"),
            joint.c.name.label("name"),
            literal("joint").label("kind"),
            func.count(members.c.case_id).label("organizations"),
            func.coalesce(func.sum(members.c.formal), 0).label("formal"),
            joint.c.constituted.label("ok"),
        )
        .select_from(joint.outerjoin(members, members.c.branch_id == joint.c.id))
        .group_by(joint.c.id, joint.c.site, joint.c.name, joint.c.constituted)
    )
    if site:
        independent = independent.where(tracks.c.site == site)
        joint_query = joint_query.where(joint.c.site == site)
    return union_all(independent, joint_query).subquery()


def _branch_row(
    branch_id: str, site: str, name: str, kind: str, organizations: int, formal: int, ok: bool
) -> dict[str, Any]:
    return {
        "id": branch_id,
        "site": site,
        "name": name,
        "kind": kind,
        "organizations": organizations,
        "formal_members": formal,
        "constituted": ok,
    }


def unbranched(
    conn: Connection, tables: dict[str, Table], sites: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Organizations in the park whose party track has no branch yet, by site and name."""
    orgs, tracks = tables["party_orgs"], tables["party_tracks"]
    query = (
        select(
            orgs.c.id.label("case_id"),
            orgs.c.name,
            orgs.c.site,
            tracks.c.stage,
            tracks.c.formal,
            tracks.c.instructor,
        )
        .select_from(orgs.join(tracks, tracks.c.case_id == orgs.c.id))
        .where(
            orgs.c.stage.in_(IN_THE_PARK),
            or_(tracks.c.branch_kind.is_(None), tracks.c.branch_kind == "none"),
        )
        .order_by(orgs.c.site, orgs.c.name, orgs.c.id)
    )
    if sites is not None:
        query = query.where(orgs.c.site.in_(sorted(sites)))
    return [dict(row._mapping) for row in conn.execute(query)]


def joint_members(conn: Connection, tables: dict[str, Table]) -> dict[str, list[dict[str, Any]]]:
    """The member organizations of every joint branch, with their formal members."""
    orgs, members = tables["party_orgs"], tables["joint_members"]
    query = (
        select(members.c.branch_id, members.c.case_id, orgs.c.name, members.c.formal)
        .select_from(members.outerjoin(orgs, orgs.c.id == members.c.case_id))
        .order_by(members.c.branch_id, orgs.c.name)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for branch_id, case_id, name, formal in conn.execute(query):
        found.setdefault(branch_id, []).append(
            {"case_id": case_id, "organization": name, "formal_members": formal}
        )
    return found


def coverage_by_site(conn: Connection, tables: dict[str, Table]) -> dict[str, dict[str, int]]:
    """Per site with organizations in the park: how many there are, and how many of them have a
    party track (the `coverage` of each site, in one query)."""
    orgs, tracks = tables["party_orgs"], tables["party_tracks"]
    query = (
        select(orgs.c.site, func.count(), func.count(tracks.c.id))
        .select_from(orgs.outerjoin(tracks, tracks.c.case_id == orgs.c.id))
        .where(orgs.c.stage.in_(IN_THE_PARK))
        .group_by(orgs.c.site)
    )
    return {
        site: {"organizations": organizations, "covered": covered}
        for site, organizations, covered in conn.execute(query)
    }
