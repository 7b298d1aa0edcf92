"""What an adapter keeps about requests (store/requests.py): the first answer to a request sent
with an idempotency key, and the record of who read a case's history, dossier or export.

The tables are created when an adapter that needs them starts (`Requests(system)`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from lifecycle.errors import Conflict, Refused
from store import requests as table
from store.database import schema_lock

if TYPE_CHECKING:
    from commands.bootstrap import Incubator


class KeyReused(Refused):
    """The same idempotency key came with another request."""


class StillRunning(Conflict):
    """The first request with this key has no answer yet."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str  # JSON, as first sent
    headers: dict[str, str]


class Requests:
    def __init__(self, system: Incubator) -> None:
        self.system = system
        self.engine = system.read_models.engine
        # Under the schema's lock, as every table is: workers starting together on a new
        # PostgreSQL database would otherwise race to create the same tables and types.
        with schema_lock(system.database, self.engine):
            table.install(system.database, self.engine)

    def first_answer(self, account: str, key: str, fingerprint: str) -> Answer | None:
        """None: this request is the first with `key`, which it now holds until `remember` or
        `forget`; else the answer the first one got."""
        held = table.claim(self.engine, account, key, fingerprint, self.system.clock.now())
        if held is None:
            return None
        if held.fingerprint != fingerprint:
            raise KeyReused(
                "the Idempotency-Key {key} was already used for another request (another path "
                "or body); use a new key for a new request",
                field="Idempotency-Key",
                key=key,
            )
        if held.status is None:
            raise StillRunning(
                "the first request with the Idempotency-Key {key} is still being answered; "
                "send it again in a moment",
                key=key,
            )
        return Answer(held.status, held.body, json.loads(held.headers))

    def remember(self, account: str, key: str, answer: Answer) -> None:
        table.answer(
            self.engine, account, key, answer.status, answer.body, json.dumps(answer.headers)
        )

    def forget(self, account: str, key: str) -> None:
        table.release(self.engine, account, key)

    def record_read(self, account: str, role: str | None, what: str, case_id: str) -> None:
        """Who read what of which case, and when (by the system's clock)."""
        table.record_read(self.engine, account, role, self.system.clock.now(), what, case_id)

    def reads(
        self, after: int = 0, limit: int = 100, case_id: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            {
                "id": int(r.id),
                "account": r.account,
                "role": r.role,
                "at": (r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)).isoformat(),
                "what": r.what,
                "case_id": r.case_id,
            }
            for r in table.read_records(self.engine, after, limit, case_id)
        ]
