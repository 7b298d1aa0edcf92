"""The signing recorder on PostgreSQL (store/signing.py), in a module of its own so that
psycopg is imported only by a process that uses PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry

from store.personal import INSERT_KEY, store_new_keys
from store.signing import LinkWriter, Signer


class SignedPostgresRecorder(PostgresApplicationRecorder):
    signer: Signer | None = None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert, with the keys of its sealed fields written first and the links
        before its transaction ends. (The library keeps an error met after the insert until its
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
            keys = INSERT_KEY.format(table=f"{schema}subject_keys", mark="%s")
            store_new_keys(curs, keys, stored_events)
            self._insert_stored_events(curs, stored_events, **kwargs)
            with conn.cursor() as asking:  # the head is read in the insert's round trip
                links = LinkWriter(asking, "%s", schema)
                links.ask_head(stored_events)
                pipeline.sync()  # a uniqueness violation is raised here, not at commit
                positions = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                assert positions is not None
                links.write(self.signer, positions, stored_events, asking.fetchone())
        return positions
