"""Which schema a database was last installed with: one row, read once when a process opens the
database, so that a process whose tables and triggers are already in place creates nothing and
takes no lock (a read then never waits for a writer's lock to install what exists).

The row holds a fingerprint of everything installed: every table's definition (columns, types,
keys, indexes), the code that installs the triggers, each read model's name and version, and
`SCHEMA_VERSION`. Any change to one of them is a new fingerprint, so the next process installs
again (idempotently) and records the new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from types import CodeType, FunctionType
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from store.database import reading, writing

# Raised by hand for a change the fingerprint cannot see: the library's own tables, say.
SCHEMA_VERSION = 1

metadata = MetaData()
schema = Table(
    "incubator_schema",
    metadata,
    Column("id", Integer, primary_key=True),  # one row: 1
    Column("fingerprint", String(64), nullable=False),
)
_READ = select(schema.c.fingerprint).where(schema.c.id == 1)


def fingerprint(tables: Iterable[Table], code: Iterable[Callable[..., Any]], *more: object) -> str:
    """A digest of `tables`' definitions, of the code of `code` (and of the functions of the
    same module they call), and of `more`, with SCHEMA_VERSION."""
    digest = hashlib.sha256(f"schema {SCHEMA_VERSION}".encode())
    for table in sorted(tables, key=lambda t: t.name):
        digest.update(_described(table).encode())
    seen: set[CodeType] = set()
    for function in code:
        _digest_code(digest, function, seen)
    digest.update(repr(more).encode())
    return digest.hexdigest()


def _described(table: Table) -> str:
    indexes = sorted(repr(index) for index in table.indexes)
    constraints = sorted(repr(c) for c in table.constraints)
    return f"{table!r} {indexes} {constraints}\n"


def _digest_code(digest: Any, function: Callable[..., Any], seen: set[CodeType]) -> None:
    """The function's bytecode and constants (the statements it runs are among them), then
    those of the functions of its own module that it names (a helper that writes a trigger)."""
    code = getattr(function, "__code__", None)
    if code is None or code in seen:
        return
    seen.add(code)
    _digest_code_object(digest, code)
    module_globals = getattr(function, "__globals__", {})
    for name in code.co_names:
        called = module_globals.get(name)
        if isinstance(called, FunctionType) and called.__module__ == function.__module__:
            _digest_code(digest, called, seen)


def _digest_code_object(digest: Any, code: CodeType) -> None:
    digest.update(code.co_code)
    for const in code.co_consts:
        if isinstance(const, CodeType):  # a nested function, a comprehension
            _digest_code_object(digest, const)
        else:
            digest.update(repr(const).encode())
    digest.update(repr(code.co_names).encode())


def current(engine: Engine, fingerprint: str) -> bool:
    """Whether the database was last installed with `fingerprint` and still has every trigger
    it had then (one a database owner dropped is missing: the install puts it back, or the
    process refuses to start, as it would have without this row). False also when it cannot
    say now: the install that follows reports why."""
    try:
        with reading(engine) as conn:
            found = conn.execute(_READ).scalar()
            return found is not None and found == _with_triggers(conn, fingerprint)
    except SQLAlchemyError:
        return False


def record(engine: Engine, fingerprint: str) -> bool:
    """Remember that everything of `fingerprint` is installed, with the triggers there now;
    False when this role may not (a role that can only read and append: it then installs,
    which finds everything there, at each start)."""
    try:
        metadata.create_all(engine)
        with writing(engine) as conn:
            kept = _with_triggers(conn, fingerprint)
            if conn.execute(_READ).first() is None:
                conn.execute(schema.insert().values(id=1, fingerprint=kept))
            else:
                conn.execute(schema.update().where(schema.c.id == 1).values(fingerprint=kept))
    except SQLAlchemyError:
        return False
    return True


def _with_triggers(conn: Connection, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    for name in conn.execute(_TRIGGERS[conn.dialect.name]).scalars():
        digest.update(f"\n{name}".encode())
    return digest.hexdigest()


# Every trigger of the database (SQLite) or of the schema in use (PostgreSQL), with its table
# and whether it is enabled.
_TRIGGERS = {
    "sqlite": text(
        "SELECT name || ' ' || tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1"
    ),
    "postgresql": text(
        "SELECT t.tgname || ' ' || c.relname || ' ' || t.tgenabled::text FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
        "AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
    ),
}
