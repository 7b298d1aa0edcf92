"""The statements a batch reads and writes a generation's tables with: made once per table and
database, and run straight on the driver, the rows being plain dates, text and numbers already.

SQLAlchemy would compile each statement again for every batch and process every value of every
row. On SQLite a statement runs once per row (executemany, in process); on PostgreSQL a statement
per row costs a round of parsing and planning on the server each, so all the rows go in one
statement, as one array per column (unnest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from functools import cached_property
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Column, Date, Table, and_, bindparam, delete
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect

Row = dict[str, Any]
# The ids one SQLite prefetch query asks for (well under SQLite's limit of parameters); a shorter
# list is padded with its last id, so that one compiled statement serves every query.
FETCH_CHUNK = 500


class Write(Protocol):
    def executemany(self, conn: Connection, rows: Sequence[Row]) -> None: ...


class PerRow:
    """SQLite: one compiled statement, run for each row; ? placeholders take the values in
    order, dates as ISO text (as SQLAlchemy's Date type keeps them)."""

    def __init__(self, statement: Any, dialect: Dialect, dates: frozenset[str]) -> None:
        compiled = statement.compile(dialect=dialect)
        assert compiled.positional, dialect.name
        self.sql = str(compiled)
        order = tuple(compiled.positiontup or ())
        self._values = _getter(order)
        self._dates = tuple(i for i, name in enumerate(order) if name in dates)

    def executemany(self, conn: Connection, rows: Sequence[Row]) -> None:
        conn.exec_driver_sql(self.sql, self.params(rows))

    def params(self, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        values = self._values
        if not self._dates:
            return [values(row) for row in rows]
        params = []
        for row in rows:
            plain = list(values(row))
            for i in self._dates:
                if isinstance(plain[i], date):
                    plain[i] = plain[i].isoformat()
            params.append(tuple(plain))
        return params


class Unnested:
    """PostgreSQL: every row in one statement, whose `{rows}` reads them from one array per
    column."""

    def __init__(self, sql: str, table: Table, names: Sequence[str], dialect: Dialect) -> None:
        self.names = tuple(names)
        self.sql = sql.format(rows=_unnest(table, self.names, dialect))

    def executemany(self, conn: Connection, rows: Sequence[Row]) -> None:
        arrays = {f"p{i}": [row[name] for row in rows] for i, name in enumerate(self.names)}
        conn.exec_driver_sql(self.sql, arrays)


class TableStatements:
    """What a batch runs on one table of a generation, for one database."""

    def __init__(self, table: Table, by: str | None, dialect: Dialect) -> None:
        self.table, self.by, self.dialect = table, by, dialect
        self.columns = tuple(c.name for c in table.columns)
        self.pk = tuple(c.name for c in table.primary_key.columns)
        self.dates = frozenset(c.name for c in table.columns if isinstance(c.type, Date))
        self.postgresql = dialect.name == "postgresql"
        self._quote = dialect.identifier_preparer.quote
        self._name = dialect.identifier_preparer.format_table(table)
        self._counts: dict[tuple[str, ...], Write] = {}
        self._readers = [(c.name, r) for c in table.columns if (r := _reader(c, dialect))]

    # Each statement is compiled when a batch first needs it: a process that applies a few
    # events (a command's catch-up) compiles those of the tables they touch, not of every one.

    @cached_property
    def upsert(self) -> Write:
        return self._upsert(self.columns, add=False)

    @cached_property
    def delete(self) -> Write:
        return self._delete()

    @cached_property
    def _fetch(self) -> str:
        return self._fetch_query() if self.by is not None else ""

    def counts(self, columns: tuple[str, ...]) -> Write:
        """Adds to the counters `columns` (created at zero)."""
        if columns not in self._counts:
            self._counts[columns] = self._upsert((*self.pk, *columns), add=True)
        return self._counts[columns]

    def fetch(self, conn: Connection, ids: Sequence[str]) -> Iterator[Row]:
        """The rows whose `by` column is one of `ids`."""
        return map(self._read, self._found(conn, ids))

    def one(self, conn: Connection, key: Sequence[Any]) -> Row | None:
        """The row whose primary key is `key`, if it is stored."""
        pairs = list(zip(self.pk, key, strict=True))
        if self.postgresql:
            params: Any = {f"p{i}": value for i, (_, value) in enumerate(pairs)}
        else:  # dates as ISO text, as the rows are written (PerRow)
            params = tuple(
                v.isoformat() if n in self.dates and isinstance(v, date) else v for n, v in pairs
            )
        found = conn.exec_driver_sql(self._one, params).first()
        return None if found is None else self._read(found)

    def _read(self, found: Sequence[Any]) -> Row:
        """A row as SQLAlchemy would have read it (see `_reader`)."""
        row = dict(zip(self.columns, found, strict=True))
        for name, reader in self._readers:
            row[name] = reader(row[name])
        return row

    def _found(self, conn: Connection, ids: Sequence[str]) -> Iterator[Any]:
        if self.postgresql:
            yield from conn.exec_driver_sql(self._fetch, {"ids": list(ids)}).fetchall()
            return
        for start in range(0, len(ids), FETCH_CHUNK):
            part = ids[start : start + FETCH_CHUNK]
            padded = (*part, *[part[-1]] * (FETCH_CHUNK - len(part)))
            yield from conn.exec_driver_sql(self._fetch, padded).fetchall()

    def _fetch_query(self) -> str:
        assert self.by is not None
        by = self.table.c[self.by]
        if self.postgresql:
            names = ", ".join(map(self._quote, self.columns))
            array = f"%(ids)s::{by.type.compile(self.dialect)}[]"
            return f"SELECT {names} FROM {self._name} WHERE {self._quote(by.name)} = ANY({array})"
        names = ", ".join(self._quote(name) for name in self.columns)
        marks = ", ".join("?" * FETCH_CHUNK)  # written out: SQLAlchemy compiles 500 slowly
        return f"SELECT {names} FROM {self._name} WHERE {self._quote(by.name)} IN ({marks})"

    @cached_property
    def _one(self) -> str:
        """Without casts, as SQLAlchemy binds them (a cast to VARCHAR(n) would cut a longer
        key short, and find the row of another)."""
        names = ", ".join(map(self._quote, self.columns))
        where = " AND ".join(
            f"{self._quote(n)} = {f'%(p{i})s' if self.postgresql else '?'}"
            for i, n in enumerate(self.pk)
        )
        return f"SELECT {names} FROM {self._name} WHERE {where}"

    def _upsert(self, names: Sequence[str], *, add: bool) -> Write:
        """Insert rows of `names`; where a row's key is taken, set its other columns instead
        (`add`: add to them)."""
        others = [n for n in names if n not in self.pk]
        if self.postgresql:
            q = self._quote
            sets = ", ".join(
                f"{q(n)} = {f'{self._name}.{q(n)} + ' if add else ''}EXCLUDED.{q(n)}"
                for n in others
            )
            sql = (
                f"INSERT INTO {self._name} ({', '.join(map(q, names))}) {{rows}} "
                f"ON CONFLICT ({', '.join(map(q, self.pk))}) "
                + (f"DO UPDATE SET {sets}" if others else "DO NOTHING")
            )
            return Unnested(sql, self.table, names, self.dialect)
        insert = sqlite_insert(self.table).values({n: bindparam(n) for n in names})
        column, excluded = self.table.c, insert.excluded
        upsert = (
            insert.on_conflict_do_update(
                index_elements=self.pk,
                set_={n: column[n] + excluded[n] if add else excluded[n] for n in others},
            )
            if others
            else insert.on_conflict_do_nothing(index_elements=self.pk)
        )
        return PerRow(upsert, self.dialect, self.dates)

    def _delete(self) -> Write:
        if self.postgresql:
            pk = ", ".join(map(self._quote, self.pk))
            sql = f"DELETE FROM {self._name} WHERE ({pk}) IN ({{rows}})"
            return Unnested(sql, self.table, self.pk, self.dialect)
        where = and_(*(self.table.c[n] == bindparam(n) for n in self.pk))
        return PerRow(delete(self.table).where(where), self.dialect, self.dates)


def _reader(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a value read (SQLite: ISO text to a date, 0/1 to a bool)."""
    if isinstance(column.type, Date) and dialect.name == "sqlite":
        return _iso_date  # the same, without SQLAlchemy's regular expression
    reader: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).result_processor(
        dialect, None
    )
    return reader


def _iso_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _unnest(table: Table, names: Sequence[str], dialect: Dialect) -> str:
    arrays = (f"%(p{i})s::{table.c[n].type.compile(dialect)}[]" for i, n in enumerate(names))
    return f"SELECT * FROM unnest({', '.join(arrays)})"


def _getter(names: tuple[str, ...]) -> Callable[[Row], tuple[Any, ...]]:
    if len(names) == 1:
        (name,) = names
        return lambda row: (row[name],)
    return itemgetter(*names)
