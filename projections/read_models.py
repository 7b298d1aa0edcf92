"""The read models of this database, kept current from the log."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from commands.log import EventLog
from projections import caseload
from projections.runner import Projection, catch_up, create_tables

PROJECTIONS: tuple[Projection, ...] = (caseload.projection,)


class ReadModels:
    def __init__(self, engine: Engine, log: EventLog) -> None:
        self.engine, self.log = engine, log
        for projection in PROJECTIONS:
            create_tables(engine, projection)

    def catch_up(self) -> int:
        """Bring every read model up to the end of the log (a user reads their own write)."""
        return sum(catch_up(self.engine, self.log, p) for p in PROJECTIONS)

    def caseload(self, **filters: Any) -> list[dict[str, Any]]:
        return caseload.list_cases(self.engine, **filters)
