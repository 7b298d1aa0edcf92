"""The composition root: everything the system needs, built from its dependencies.

Tests hand in a fixed clock and a database of their own; the command line hands in the system
clock and the URL from INCUBATOR_DATABASE_URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from commands.database import DATABASE_ENV, Database, default_database_url, parse_database_url
from commands.log import EventLog, open_log
from commands.service import IncubatorService
from commands.settings import load_settings
from lifecycle.park import Park
from projections.read_models import ReadModels
from schedules.clock import Clock, SystemClock

SETTINGS_ENV = "INCUBATOR_SETTINGS"


@dataclass
class Incubator:
    database: Database
    park: Park
    clock: Clock
    log: EventLog
    service: IncubatorService
    read_models: ReadModels

    def close_all(self) -> None:
        self.read_models.engine.dispose()
        self.log.close()


def bootstrap(
    database_url: str | None = None,
    settings_path: str | Path | None = None,
    clock: Clock | None = None,
) -> Incubator:
    database = parse_database_url(
        database_url or os.environ.get(DATABASE_ENV) or default_database_url()
    )
    park = load_settings(settings_path or os.environ.get(SETTINGS_ENV) or None)
    clock = clock or SystemClock()
    log = open_log(database)
    try:
        read_models = ReadModels(database.engine(), log)
    except Exception:
        log.close()
        raise
    return Incubator(database, park, clock, log, IncubatorService(log, park, clock), read_models)
