"""Due dates: every pending deadline of every case, party track and venture-philanthropy
project (its reports), with the time its next reminder or escalation goes out (what reminder
scans read), and the inbox of what went out.

A deadline's row exists while it is pending; meeting it or ending the case deletes it, and a
corrected date moves it (its reminders start over: the moved date has reminders of its own). The
lengths, the reminder offsets and the calendar come from the settings file and the holiday
package: the read model's version carries a fingerprint of them, so a change of any of them
rebuilds it by itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    String,
    Table,
    Text,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.engine import Connection

from lifecycle.deadlines import (
    ALL_KINDS,
    BY_KIND,
    PARTY_KINDS,
    effects,
    handled,
    overdue,
    responsible,
)
from lifecycle.park import Park
from projections.runner import Batch, Later, Projection
from schedules.reminders import next_step, rank_of

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
    from lifecycle.party import PartyIncubation as Track
    from lifecycle.project import Project
    from lifecycle.reminder import Reminder
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")
    Project = Later("lifecycle.project:Project")
    Reminder = Later("lifecycle.reminder:Reminder")
    Track = Later("lifecycle.party:PartyIncubation")

# 6: the clocks from lifecycle/deadlines.py; 7: a round's project reports; 8: a period ends on
# a working day (民法典 第二百零三条), the settings' fingerprint in the version
CODE_VERSION = 8
projection = Projection("due_dates", version=CODE_VERSION)


def fingerprint(park: Park) -> str:
    """What the stored due dates and reminder times depend on besides the log: the lengths,
    the day-off rule, the calendar (the holiday package's release, the settings' years) and
    the reminder policy. Its change is a new version of this read model (runner.built_with)."""
    policy = park.reminders
    deadlines = sorted((kind, repr(p)) for kind, p in policy.deadlines.items())
    return (
        f"{park.rules.fingerprint()}|{policy.timezone}|{policy.send_at}|"
        f"{policy.days.fingerprint()}|{deadlines}"
    )


projection.fingerprint = fingerprint
projection.table(
    "due_dates",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("kind", Text, primary_key=True),
        Column("start_on", Date, nullable=False),
        Column("due_on", Date, nullable=False, index=True),
        Column("site", Text, nullable=False),
        # when the next reminder or escalation goes out (seconds since 1970, UTC); None: no more
        Column("next_at", BigInteger, index=True),
        Column("last_rank", Integer, nullable=False),  # of the last step recorded, 0: none
        Column("last_step", Text),  # the last step recorded ("escalate-2")
        Column("reminded", Text),  # the last reminder step recorded ("remind-7")
        Column("reminded_on", Date),
        Column("escalation", Integer, nullable=False),  # the last escalation level, 0: none
    ],
    by="case_id",
)
# Where each case is and who is in charge, to label and address its deadlines.
projection.table(
    "due_date_cases",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("site", Text, nullable=False),
        Column("track", Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("caseworker", Text),
        Column("instructor", Text),
    ],
    by="case_id",
)
projection.table(
    "due_date_tracks",
    lambda: [
        Column("track_id", String(36), primary_key=True),
        Column("case_id", String(36), nullable=False),
    ],
    by="track_id",
)


def _park(rows: Batch) -> Park:
    park: Park = rows.context
    return park


def _clock(rows: Batch, case_id: str, kind: str, start_on: date, due_on: date) -> None:
    """A deadline starts (or moves): its reminders from the first."""
    case = rows.get("due_date_cases", case_id)
    if case is None:
        return
    first = next_step(_park(rows).reminders.steps(kind, start_on, due_on), 0)
    rows.put(
        "due_dates",
        case_id,
        kind,
        start_on=start_on,
        due_on=due_on,
        site=case["site"],
        next_at=first.epoch if first else None,
        last_rank=0,
        last_step=None,
        reminded=None,
        reminded_on=None,
        escalation=0,
    )


def _move(rows: Batch, case_id: str, kind: str, start_on: date, due_on: date) -> None:
    """A corrected start: a deadline whose due date moves starts over; one whose due date stays
    (months clip to the month's end) keeps what went out for it."""
    row = rows.get("due_dates", case_id, kind)
    if row is None:
        return
    if row["due_on"] != due_on:
        _clock(rows, case_id, kind, start_on, due_on)
        return
    steps = _park(rows).reminders.steps(kind, start_on, due_on)
    rank = (rank_of(steps, row["last_step"]) or 0) if row["last_step"] else 0
    after = next_step(steps, rank)
    rows.update(
        "due_dates",
        case_id,
        kind,
        start_on=start_on,
        last_rank=rank,
        next_at=after.epoch if after else None,
    )


def _stop(rows: Batch, case_id: str, *kinds: str) -> None:
    for kind in kinds:
        rows.delete("due_dates", case_id, kind)


# ---- where each case is and who is in charge ------------------------------------------------


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put("due_date_cases", rows.key(e), site=e.site, track=e.track, name=e.name)


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    rows.update("due_date_cases", rows.key(e), caseworker=e.caseworker)


@projection.on(Case.CaseworkerAssigned)
def _assigned(rows: Batch, e: Case.CaseworkerAssigned) -> None:
    rows.update("due_date_cases", rows.key(e), caseworker=e.caseworker)


@projection.on(Project.Submitted)
def _project(rows: Batch, e: Project.Submitted) -> None:
    """A venture-philanthropy project: its reports are answered for by its organization's
    caseworker (the one assigned when it was submitted)."""
    from lifecycle.project import project_label  # imported with the event (Later)

    org = rows.get("due_date_cases", str(e.org_id))
    rows.put(
        "due_date_cases",
        rows.key(e),
        site=e.org_site,
        track="project",
        name=project_label(e.org_name, e.title),
        caseworker=org["caseworker"] if org else None,
    )


@projection.on(Track.Started)
def _track_started(rows: Batch, e: Track.Started) -> None:
    rows.put("due_date_tracks", rows.key(e), case_id=str(e.case_id))


@projection.on(Track.InstructorAssigned)
def _instructor(rows: Batch, e: Track.InstructorAssigned) -> None:
    if case_id := _case_of(rows, e):
        rows.update("due_date_cases", case_id, instructor=e.instructor)


def _case_of(rows: Batch, e: Any) -> str | None:
    if isinstance(e, Track.Event):
        track = rows.get("due_date_tracks", rows.key(e))
        return track["case_id"] if track else None
    return rows.key(e)


projection.case_of = _case_of  # an anomaly of a party track's event names its case


# ---- the clocks, as lifecycle/deadlines.py declares them -------------------------------------


@projection.on_each(handled)
def _clocks(rows: Batch, e: Any) -> None:
    """What the event does to the clocks: the same effects the aggregates fold."""
    case_id = _case_of(rows, e)
    if case_id is None:
        return
    rules = _park(rows).rules
    for effect in effects(e):
        if effect.what == "start":
            assert effect.kind is not None
            start = effect.day(e)
            _clock(rows, case_id, effect.kind, start, BY_KIND[effect.kind].due(rules, start))
        elif effect.what == "move":
            assert effect.kind is not None
            start = effect.day(e)
            _move(rows, case_id, effect.kind, start, BY_KIND[effect.kind].due(rules, start))
        elif effect.what == "meet":
            _stop(rows, case_id, effect.kind)  # type: ignore[arg-type]
        else:  # the end of the case stops every clock; of the party track, its own
            _stop(rows, case_id, *(PARTY_KINDS if isinstance(e, Track.Event) else ALL_KINDS))


# ---- what went out ---------------------------------------------------------------------------


@projection.on(Reminder.Issued)
def _issued(rows: Batch, e: Reminder.Issued) -> None:
    row = rows.get("due_dates", str(e.case_id), e.kind)
    if row is None or row["due_on"] != e.due_on:
        return  # a reminder of a deadline since met or moved
    steps = _park(rows).reminders.steps(e.kind, row["start_on"], row["due_on"])
    rank = rank_of(steps, e.step)
    if rank is None or rank <= row["last_rank"]:
        return
    after = next_step(steps, rank)
    changes: dict[str, Any] = {
        "last_rank": rank,
        "last_step": e.step,
        "next_at": after.epoch if after else None,
    }
    if e.level:
        changes["escalation"] = max(row["escalation"], e.level)
    else:
        changes |= {"reminded": e.step, "reminded_on": e.on}
    rows.update("due_dates", str(e.case_id), e.kind, **changes)


# ---- queries ---------------------------------------------------------------------------------


def pending(
    conn: Connection,
    tables: dict[str, Table],
    *,
    until: date | None = None,
    site: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The pending deadlines, soonest first: `limit` of them from `offset`, walking the index
    of the due day."""
    due = tables["due_dates"]
    query = (
        select(due.c.case_id, due.c.kind, due.c.start_on, due.c.due_on, due.c.site)
        .where(*_pending(due, until, site))
        .order_by(due.c.due_on, due.c.case_id, due.c.kind)
        .limit(limit)
        .offset(offset or None)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def pending_count(
    conn: Connection,
    tables: dict[str, Table],
    *,
    until: date | None = None,
    site: str | None = None,
) -> int:
    due = tables["due_dates"]
    query = select(func.count()).select_from(due).where(*_pending(due, until, site))
    return int(conn.execute(query).scalar_one())


def _pending(due: Table, until: date | None, site: str | None) -> list[Any]:
    return [
        *([due.c.due_on <= until] if until is not None else []),
        *([due.c.site == site] if site else []),
    ]


Page = tuple[int, str, str]  # where the previous page ended: next_at, case_id, kind


def coming(
    conn: Connection,
    tables: dict[str, Table],
    until: datetime,
    after: Page | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """A page of the deadlines whose next reminder or escalation goes out by `until`, soonest
    first. Pages keep the query on the index of `next_at` whatever the table's statistics say
    (without a limit PostgreSQL may read the whole table) and the memory of a big day bounded."""
    due, cases = tables["due_dates"], tables["due_date_cases"]
    query = (
        select(due, cases.c.name, cases.c.caseworker, cases.c.instructor)
        .join(cases, cases.c.case_id == due.c.case_id)
        .where(due.c.next_at <= int(until.astimezone(UTC).timestamp()))
        .order_by(due.c.next_at, due.c.case_id, due.c.kind)
        .limit(limit)
    )
    if after is not None:
        next_at, case_id, kind = after
        query = query.where(
            tuple_(due.c.next_at, due.c.case_id, due.c.kind)
            > tuple_(literal(next_at), literal(case_id), literal(kind))
        )
    return [dict(row._mapping) for row in conn.execute(query)]


def inbox(
    conn: Connection, tables: dict[str, Table], park: Park, today: date, person: str | None
) -> list[dict[str, Any]]:
    """What went out and is still pending, per person: due, overdue and escalated, soonest
    first. The responsible person is the caseworker (the instructor for party clocks, when one
    is assigned); escalated deadlines are in the director's inbox too."""
    due, cases = tables["due_dates"], tables["due_date_cases"]
    query = (
        select(due, cases.c.name, cases.c.caseworker, cases.c.instructor)
        .join(cases, cases.c.case_id == due.c.case_id)
        .where(due.c.last_rank > 0)
        .order_by(due.c.due_on, cases.c.name, due.c.kind)
    )
    director = park.reminders.director
    items = []
    for row in conn.execute(query):
        answers = responsible(row.kind, park.reminders, row.caseworker, row.instructor)
        status = (
            "escalated" if row.escalation else "overdue" if overdue(row.due_on, today) else "due"
        )
        people = [answers or director] + ([director] if row.escalation else [])
        for who in dict.fromkeys(people):
            if person is None or who == person:
                items.append(
                    {
                        "for": who,
                        "case_id": row.case_id,
                        "organization": row.name,
                        "site": row.site,
                        "kind": row.kind,
                        "due_on": row.due_on,
                        "status": status,
                        "days": (row.due_on - today).days,
                        "escalation": row.escalation,
                        "reminded": row.reminded,
                        "reminded_on": row.reminded_on,
                        "responsible": answers,
                    }
                )
    return items
