"""The composition root: everything the system needs, built from its dependencies.

Tests hand in a fixed clock and a database of their own; the command line hands in the system
clock and the URL from INCUBATOR_DATABASE_URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from commands.settings import SettingsError, load_settings
from lifecycle.park import Park
from lifecycle.personal import ERASED
from lifecycle.stages import WORKFLOWS
from projections.read_models import ReadModels
from schedules.clock import Clock, FixedClock, SystemClock
from schedules.mail import SMTP_ENV, Mailer, MailError, SmtpMailer
from store import audit, personal, schema, sessions, signing
from store.audit import AuditError
from store.database import (
    DATABASE_ENV,
    Database,
    DatabaseError,
    default_database_url,
    parse_database_url,
    schema_lock,
    take_turns,
)
from store.log import EventLog, open_log
from store.purpose import PURPOSES, PurposeError, mark, purpose_of

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from commands.accounts import AccountService
    from commands.handlers import Dispatcher
    from commands.importing import ImportService
    from commands.party import PartyService
    from commands.reminders import ReminderService
    from commands.rounds import RoundService
    from commands.service import IncubatorService

SETTINGS_ENV = "INCUBATOR_SETTINGS"
# Freezes the clock at one moment (rehearsals, end-to-end tests): every command runs as if it
# were then, and its events record that moment as when they were written, and say so. Only a
# database created for a rehearsal or a demonstration allows it (store/purpose.py).
NOW_ENV = "INCUBATOR_NOW"
# What makes a system impossible to open: the settings, the database or the mail URL.
SETUP_ERRORS = (SettingsError, DatabaseError, MailError, AuditError)
__all__ = ["SETUP_ERRORS", "AuditError", "Incubator", "PurposeError", "bootstrap"]


@dataclass
class Incubator:
    database: Database
    park: Park
    clock: Clock
    purpose: str | None  # what the database was created for: None for real work
    log: EventLog
    read_models: ReadModels
    keys: signing.KeyFiles  # where this database's keys are kept, outside it
    signer: signing.Signer  # what this process signs the events it writes with
    mailer: Mailer | None = None
    password_hasher: PasswordHasher | None = None

    # The services are made when first used: a list reads the read models alone and imports
    # none of the aggregates, and a command that reads a case never imports the accounts', the
    # rounds' or the imports' code (start-up is most of a command's time).

    @cached_property
    def service(self) -> IncubatorService:
        from commands.service import IncubatorService

        return IncubatorService(self.log, self.park, self.clock)

    @cached_property
    def party(self) -> PartyService:
        from commands.party import PartyService

        return PartyService(self.log, self.park, self.clock)

    @cached_property
    def reminders(self) -> ReminderService:
        from commands.reminders import ReminderService

        return ReminderService(self.log, self.park, self.clock, self.read_models, self.mailer)

    @cached_property
    def rounds(self) -> RoundService:
        from commands.rounds import RoundService

        return RoundService(self.log, self.park, self.clock)

    @cached_property
    def importing(self) -> ImportService:
        from commands.importing import ImportService

        read_models = self.read_models
        return ImportService(
            self.log, self.park, self.clock, open_names=lambda: _open_cases(read_models)
        )

    @cached_property
    def accounts(self) -> AccountService:
        from commands.accounts import AccountService

        store = sessions.SessionStore(self.read_models.engine)
        return AccountService(
            self.log, self.park, self.clock, self.read_models, store, self.password_hasher
        )

    def trust(self) -> audit.Trust:
        """The public keys pinned for this database (store/signing.py)."""
        return signing.trust(self.keys, self.signer.key)

    @property
    def dispatcher(self) -> Dispatcher:
        """Every command message to its handler, on this system's services."""
        from commands.handlers import Dispatcher, Services

        return Dispatcher(Services(self.service, self.party, self.rounds, self.accounts))

    def close_all(self) -> None:
        self.read_models.engine.dispose()
        self.log.close()


def unusable_database(e: BaseException) -> str | None:
    """What a database error says, in a line ("the database cannot be used now (...)"); None
    for an error that is not the database's."""
    import sqlite3

    from eventsourcing.persistence import PersistenceError

    if not (
        isinstance(e, SQLAlchemyError | PersistenceError | sqlite3.Error | ConnectionError)
        or type(e).__module__.startswith("psycopg")
    ):
        return None
    cause = getattr(e, "orig", None) or e.__cause__ or e
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
    return f"the database cannot be used now ({first}); nothing more was recorded"


def clock_from_env() -> Clock:
    """The system clock, or the moment INCUBATOR_NOW fixes (with its UTC offset)."""
    fixed = os.environ.get(NOW_ENV, "").strip()
    if not fixed:
        return SystemClock()
    try:
        at = datetime.fromisoformat(fixed)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or not 2000 <= at.year <= 2100:
        raise SettingsError(
            f"{NOW_ENV}={fixed!r} is not a moment of 2000–2100 with its UTC offset, like "
            f"2026-11-29T20:00+08:00 (unset it to use the real clock)"
        )
    return FixedClock(at)


def bootstrap(
    database_url: str | None = None,
    settings_path: str | Path | None = None,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    *,
    create_for: str | None = None,
    password_hasher: PasswordHasher | None = None,
) -> Incubator:
    """`mailer` defaults to SMTP at INCUBATOR_SMTP_URL when that is set, else no mail.
    `create_for` (rehearsal, demonstration) marks a new database for that purpose first.

    A `clock` handed in is the caller's (tests, benchmarks); the one INCUBATOR_NOW fixes is
    honoured only on a database created for a rehearsal or a demonstration. A
    `password_hasher` handed in hashes and checks passwords (tests: a cheap one)."""
    database = parse_database_url(
        database_url or os.environ.get(DATABASE_ENV) or default_database_url()
    )
    park = park_settings(settings_path)
    from_env = clock is None
    clock = clock or clock_from_env()
    if mailer is None and os.environ.get(SMTP_ENV):
        mailer = SmtpMailer.from_url(os.environ[SMTP_ENV])  # MailError when malformed
    engine = database.engine()
    try:
        keys = signing.KeyFiles.of(database)
        key = signing.signing_key(keys, park.signing_key)
        signer = signing.Signer(key, clock.now, keys.trusted)
        expected = schema_fingerprint(database, park)
        if schema.current(engine, expected):  # most days: nothing to create, no lock
            present = database.event_store_env | {"CREATE_TABLE": "no"}
            log, read_models = _open(
                replace(database, event_store_env=present), engine, park, signer
            )
        else:
            with schema_lock(database, engine) as event_store:
                log, read_models = _open(event_store, engine, park, signer, install=True)
            started = audit.signing_state(engine)
            signing.remember_start(keys, started["since_position"] if started else None)
            schema.record(engine, expected)
        try:
            purpose = _purpose(log, create_for, clock if from_env else None)
        except BaseException:
            log.close()
            raise
    except BaseException:
        engine.dispose()
        raise
    return Incubator(
        database,
        park,
        clock,
        purpose,
        log,
        read_models,
        keys,
        signer,
        mailer,
        password_hasher,
    )


def park_settings(settings_path: str | Path | None = None) -> Park:
    """The park the settings file at `settings_path` (or INCUBATOR_SETTINGS) describes, else
    the built-in defaults."""
    return load_settings(settings_path or os.environ.get(SETTINGS_ENV) or None)


def _open_cases(read_models: ReadModels) -> list[dict[str, Any]]:
    """The open cases of the caseload (an import finds an organization already in the park)."""
    read_models.catch_up()
    return [
        case
        for case in read_models.caseload()
        if not WORKFLOWS[case["track"]].is_final(case["stage"])
    ]


def _subject_keys(database: Database, engine: Engine, log: EventLog) -> personal.SubjectKeys:
    """The keys the log's personal data is sealed under (store/personal.py)."""
    try:
        return personal.SubjectKeys.install(engine, ERASED, log)
    except SQLAlchemyError as e:
        raise DatabaseError(database.failed("create the table of personal data keys", e)) from e


def _open(
    database: Database, engine: Engine, park: Park, signer: signing.Signer, install: bool = False
) -> tuple[EventLog, ReadModels]:
    """The log, signing what it writes with `signer`, and the read models on `database`; with
    `install`, their tables and triggers are created first where missing."""
    log = open_log(signing.signed(personal.sealing(database)))
    take_turns(database, log.recorder)
    signing.sign_with(log, signer)
    try:
        personal.keep(log, _subject_keys(database, engine, log))
        return log, _read_models(database, engine, log, park, install)
    except BaseException:
        log.close()
        raise


def _read_models(
    database: Database, engine: Engine, log: EventLog, park: Park, install: bool
) -> ReadModels:
    try:
        if install:
            audit.install(database, engine)
            sessions.install(engine)
        return ReadModels(engine, log, park, install=install)
    except SQLAlchemyError as e:
        raise DatabaseError(database.failed("create the read models", e)) from e


def schema_fingerprint(database: Database, park: Park) -> str:
    """What this code installs on `database` (store/schema.py): the tables of the audit chain,
    the sessions, the personal data keys and the read models' registry; the code that installs
    them and the append-only triggers; every read model's name, version and tables."""
    from projections import runner
    from projections.read_models import PROJECTIONS

    built = [p.built_with(park) for p in PROJECTIONS]
    specs = [spec for p in built for spec in p.specs.values()]
    return schema.fingerprint(
        [
            *audit.chain_metadata.tables.values(),
            *sessions.metadata.tables.values(),
            *personal.metadata.tables.values(),
            *runner.registry_metadata.tables.values(),
        ],
        [
            audit.install,
            sessions.install,
            personal.SubjectKeys.install,
            runner.install,
            *(spec.columns for spec in specs),
        ],
        database.backend,
        [(p.name, p.version, sorted(p.specs)) for p in built],
        [(spec.name, spec.by, spec.indexes) for spec in specs],
    )


def _purpose(log: EventLog, create_for: str | None, env_clock: Clock | None) -> str | None:
    """What the database is for (marked first if `create_for`); refused when INCUBATOR_NOW
    fixed the clock of a database that holds real work."""
    if create_for is not None:
        mark(log, create_for, SystemClock().now())
    purpose = purpose_of(log)
    if env_clock is not None and env_clock.fixed and purpose not in PURPOSES:
        raise SettingsError(
            f"{NOW_ENV} fixes the clock, which only a database created for a rehearsal or a "
            f"demonstration allows; this one was not: unset {NOW_ENV} (or rehearse on a new "
            f"database created by `incubator init --rehearsal`, or `incubator demo`)"
        )
    return purpose
