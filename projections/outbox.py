"""The reminders that went out, per case, and where each one's mail stands (what senders read).

A reminder's mail is ready to be sent when it is waiting, when its retry time has come after a
failure, or when a sender claimed it and said nothing for the claim's length (it died).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    Select,
    String,
    Table,
    Text,
    bindparam,
    select,
)
from sqlalchemy.engine import Connection

from lifecycle.delivery import CLAIMED, FAILED, GIVEN_UP, SENT, WAITING, WITHDRAWN
from lifecycle.park import Park
from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.reminder import Reminder
else:  # imported when an event is applied (projections/runner.py: Later)
    Reminder = Later("lifecycle.reminder:Reminder")

projection = Projection("outbox", version=1)
projection.table(
    "outbox",
    lambda: [
        Column("reminder_id", String(36), primary_key=True),
        Column("case_id", String(36), nullable=False, index=True),
        Column("kind", Text, nullable=False),
        Column("due_on", Date, nullable=False),
        Column("step", Text, nullable=False),
        Column("recipient", Text, nullable=False),
        Column("delivery", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        # when a sender may next try (seconds since 1970, UTC); None: nothing more to do
        Column("ready_at", BigInteger, index=True),
        Column("error", Text),
    ],
    by="reminder_id",
)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _claim_length(rows: Batch) -> timedelta:
    park: Park = rows.context
    return timedelta(minutes=park.reminders.claim_minutes)


@projection.on(Reminder.Issued)
def _issued(rows: Batch, e: Reminder.Issued) -> None:
    rows.put(
        "outbox",
        rows.key(e),
        case_id=str(e.case_id),
        kind=e.kind,
        due_on=e.due_on,
        step=e.step,
        recipient=e.recipient,
        delivery=WAITING,
        attempts=0,
        ready_at=_epoch(e.timestamp),
    )


@projection.on(Reminder.DeliveryClaimed)
def _claimed(rows: Batch, e: Reminder.DeliveryClaimed) -> None:
    ready = _epoch(e.timestamp + _claim_length(rows))
    rows.update("outbox", rows.key(e), delivery=CLAIMED, attempts=e.attempt, ready_at=ready)


@projection.on(Reminder.Delivered)
def _delivered(rows: Batch, e: Reminder.Delivered) -> None:
    rows.update("outbox", rows.key(e), delivery=SENT, ready_at=None, error=None)


@projection.on(Reminder.DeliveryFailed)
def _failed(rows: Batch, e: Reminder.DeliveryFailed) -> None:
    ready = _epoch(e.retry_at) if e.retry_at else None
    state = FAILED if e.retry_at else GIVEN_UP
    rows.update("outbox", rows.key(e), delivery=state, ready_at=ready, error=e.error)


@projection.on(Reminder.DeliveryWithdrawn)
def _withdrawn(rows: Batch, e: Reminder.DeliveryWithdrawn) -> None:
    rows.update("outbox", rows.key(e), delivery=WITHDRAWN, ready_at=None, error=None)


def ready(conn: Connection, tables: dict[str, Table], now: datetime, limit: int) -> list[str]:
    """The first `limit` reminders whose mail a sender may try now, oldest first (the limit
    keeps the query on the index of `ready_at`)."""
    outbox = tables["outbox"]
    query = (
        select(outbox.c.reminder_id)
        .where(outbox.c.ready_at <= _epoch(now.astimezone(UTC)))
        .order_by(outbox.c.ready_at, outbox.c.reminder_id)
        .limit(limit)
    )
    return [row.reminder_id for row in conn.execute(query)]


def of_case(tables: dict[str, Table]) -> Select[Any]:
    """A case's reminders (`case_id`, bound when run), by id."""
    outbox = tables["outbox"]
    query = select(outbox).where(outbox.c.case_id == bindparam("case_id"))
    return query.order_by(outbox.c.reminder_id)
