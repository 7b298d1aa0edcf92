"""The signing recorder on PostgreSQL (store/signing.py), in a module of its own so that
psycopg is imported only by a process that uses PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry

from store.personal import new_keys
from store.signing import LinkWriter, Signer


class PostgresLinkWriter(LinkWriter):
    """On PostgreSQL each statement costs the client about as much as the server's work, so
    the transaction's new keys go in the head's read, and the links, their signature and the
    head's move in one statement (one row as values; several as arrays, which cost more to
    send)."""

    MAKE_KEY = "INSERT INTO {s}subject_keys (subject, key, created_at) "
    KEYS_AND_HEAD: ClassVar[dict[bool, str]] = {
        True: f"WITH made AS ({MAKE_KEY}VALUES (?, ?, ?)) {LinkWriter.HEAD}",
        False: (
            f"WITH made AS ({MAKE_KEY}SELECT * FROM "
            f"unnest(?::varchar[], ?::bytea[], ?::bigint[])) {LinkWriter.HEAD}"
        ),
    }
    LINK = "INSERT INTO {s}event_chain (position, originator_id, version, case_hash, log_hash) "
    MOVE_ALL = (
        f"signed AS ({LinkWriter.SIGNATURE}) "
        "UPDATE {s}event_chain_head SET position = ?, log_hash = ? WHERE id = 1"
    )
    STORE: ClassVar[dict[bool, str]] = {
        True: f"WITH linked AS ({LINK}VALUES (?, ?, ?, ?, ?)), {MOVE_ALL}",
        False: (
            f"WITH linked AS ({LINK}SELECT * FROM "
            "unnest(?::bigint[], ?::varchar[], ?::int[], ?::varchar[], ?::varchar[])), "
            f"{MOVE_ALL}"
        ),
    }

    def ask_head(self, stored: Sequence[StoredEvent]) -> None:
        keys = new_keys(stored)
        if not keys:
            super().ask_head(stored)
            return
        first = stored[0]
        self.cursor.execute(
            self._sql(self.KEYS_AND_HEAD[len(keys) == 1]),
            (*_rows(keys), str(first.originator_id), first.originator_version - 1),
        )

    def store(
        self, links: list[tuple[Any, ...]], signature: tuple[Any, ...], head: tuple[Any, ...]
    ) -> None:
        self.run(self.STORE[len(links) == 1], (*_rows(links), *signature, *head))


def _rows(rows: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """One row's values as they are; several rows as one array per column."""
    if len(rows) == 1:
        return tuple(rows[0])
    return tuple(list(column) for column in zip(*rows, strict=True))


class SignedPostgresRecorder(PostgresApplicationRecorder):
    signer: Signer | None = None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert, with the keys of its sealed fields and the links written before
        its transaction ends. (The library keeps an error met after the insert until its
        transaction has committed; an event must not commit without its link, so here the error
        ends the transaction.)"""
        if not stored_events:
            return []
        with (
            self.datastore.get_connection() as conn,
            conn.pipeline() as pipeline,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            schema = f'"{self.datastore.schema}".' if self.datastore.schema else ""
            self._insert_stored_events(curs, stored_events, **kwargs)
            with conn.cursor() as asking:  # the keys and the head in the insert's round trip
                links = PostgresLinkWriter(asking, "%s", schema)
                links.ask_head(stored_events)
                pipeline.sync()  # a uniqueness violation is raised here, not at commit
                positions = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                assert positions is not None
                links.write(self.signer, positions, stored_events, asking.fetchone())
        return positions
