"""The application as a PostgreSQL role that may only read and append to the log (README, "A role
that can only read and append"): the README's statements run as they stand, with names of this
test's own; then real commands as that role, and what PostgreSQL refuses it."""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg.errors import InsufficientPrivilege

from commands.bootstrap import bootstrap
from schedules.clock import FixedClock
from store import audit
from store.database import DatabaseError
from tests.builders import drive, new_case
from tests.conftest import IN_CI, NOW, POSTGRES_URL, postgres_available
from tests.test_cli import Shell
from tests.test_reminders_cli import open_case, scan, shell

pytestmark = pytest.mark.postgres

README = Path(__file__).parent.parent / "README.md"
SECTION = "**A role that can only read and append (PostgreSQL).**"
# The administrator's tables, and all that the application's role may do with them.
GRANTS = {
    "incubator_events": {"SELECT", "INSERT"},
    "event_chain": {"SELECT", "INSERT"},
    "event_signatures": {"SELECT", "INSERT"},
    "audit_checkpoints": {"SELECT", "INSERT"},
    "event_chain_head": {"SELECT", "UPDATE"},
    "audit_signing": {"SELECT"},
}


def readme_sql() -> tuple[str, str]:
    """The two SQL blocks of the README's section: the superuser's and the administrator's."""
    text = README.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    superuser, admin = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    return superuser, admin


@dataclass(frozen=True)
class Roles:
    schema: str
    admin: str
    app: str
    password: str

    def named(self, sql: str) -> str:
        """The README's statements with this test's names and password."""
        sql = re.sub(r"PASSWORD '[^']*'", f"PASSWORD '{self.password}'", sql)
        sql = re.sub(r"\bincubator_admin\b", self.admin, sql)
        sql = re.sub(r"\bincubator_app\b", self.app, sql)
        return re.sub(r"\bincubator\b", self.schema, sql)  # not incubator_events: `_` is a letter

    def url(self, role: str) -> str:
        server = urlsplit(POSTGRES_URL)
        return (
            f"postgresql://{role}:{self.password}@{server.hostname}:{server.port or 5432}"
            f"{server.path}?schema={self.schema}"
        )

    def connect(self, role: str) -> psycopg.Connection[Any]:
        server = urlsplit(POSTGRES_URL)
        conn = psycopg.connect(
            host=server.hostname,
            port=server.port or 5432,
            dbname=server.path.lstrip("/"),
            user=role,
            password=self.password,
            autocommit=True,
        )
        conn.execute(f'SET search_path = "{self.schema}"')
        return conn


def superuser() -> psycopg.Connection[Any]:
    return psycopg.connect(
        POSTGRES_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True
    )


@pytest.fixture
def roles() -> Iterator[Roles]:
    """A schema set up as the README says: the administrator's `incubator init`, its grants."""
    problem = postgres_available()
    if problem is not None:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL} ({problem})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    tag = uuid.uuid4().hex[:12]
    roles = Roles(f"t_{tag}", f"t_{tag}_admin", f"t_{tag}_app", secrets.token_hex(12))
    as_superuser, as_admin = readme_sql()
    try:
        with superuser() as conn:
            conn.execute(roles.named(as_superuser))
        Shell(roles.url(roles.admin)).run("init")
        with roles.connect(roles.admin) as conn:
            conn.execute(roles.named(as_admin))
        yield roles
    finally:
        with superuser() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{roles.schema}" CASCADE')
            for role in (roles.app, roles.admin):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                    conn.execute(f'DROP OWNED BY "{role}"')
                    conn.execute(f'DROP ROLE "{role}"')


def owners(roles: Roles) -> dict[str, str]:
    with superuser() as conn:
        rows = conn.execute(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = %s", [roles.schema]
        ).fetchall()
    return dict(rows)


# ---- what the role does ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_role_runs_commands_read_models_reminders_and_the_audit(
    roles: Roles, tmp_path: Path
) -> None:
    sh = shell(roles.url(roles.app))
    org = open_case(sh, "爱心志愿者协会", "2026-10-01", "王芳")  # apply, assign: two inserts
    recorded = scan(sh, "--now", "2026-10-08T08:00")  # a reminder: an event of its own
    assert [(r["organization"], r["step"]) for r in recorded] == [("爱心志愿者协会", "remind-7")]
    assert scan(sh, "--now", "2026-10-08T08:00") == []  # once
    sh.run("org", "start-inspection", org, "--on", "2026-10-09")
    (case,) = sh.json("org", "list")
    assert (case["id"], case["stage"], case["caseworker"]) == (org, "inspecting", "王芳")

    sh.run("projections", "rebuild")  # new tables beside the serving ones, the old dropped
    status = sh.json("projections", "status")
    assert {(p["generation"], p["lag"]) for p in status} == {(2, 0)}
    assert sh.json("org", "list") == [case]

    sh.run("audit", "keygen", "--out", str(tmp_path / "key.pem"))
    (tmp_path / "settings.toml").write_text('[audit]\nsigning_key = "key.pem"\n')
    sh.env["INCUBATOR_SETTINGS"] = str(tmp_path / "settings.toml")
    checkpoint = json.loads(sh.run("audit", "checkpoint").stdout)  # into audit_checkpoints
    verdict = sh.json("audit", "verify")
    assert verdict["ok"], verdict
    # the mark of a rehearsal's database (its clock is fixed), then the four above
    assert verdict["events"] == verdict["sealed"] == checkpoint["position"] == 5
    assert verdict["signatures"] >= 1 and verdict["migrated"] == 0 and len(verdict["keys"]) == 1

    tables = owners(roles)
    assert {t for t, owner in tables.items() if owner == roles.admin} == set(GRANTS)
    assert {t for t, owner in tables.items() if owner == roles.app} == set(tables) - set(GRANTS)
    generations = {t for t in tables if re.search(r"_g\d+$", t)}
    assert generations and all(t.endswith("_g2") for t in generations)  # the first ones dropped


def test_the_role_has_exactly_the_readme_grants_on_the_administrators_tables(
    roles: Roles,
) -> None:
    with superuser() as conn:
        rows = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_schema = %s",
            [roles.app, roles.schema],
        ).fetchall()
    granted: dict[str, set[str]] = {}
    for table, privilege in rows:
        granted.setdefault(table, set()).add(privilege)
    assert {t: p for t, p in granted.items() if t in GRANTS} == GRANTS


def test_the_role_cannot_change_or_remove_events_even_without_the_triggers(roles: Roles) -> None:
    system = bootstrap(roles.url(roles.app), clock=FixedClock(NOW))
    try:
        drive(system.service, new_case(system.service), "incubating")
        system.read_models.catch_up()
        before = audit.verify(system.read_models.engine, system.trust())
    finally:
        system.close_all()
    assert before.ok and before.sealed == before.events > 0

    with roles.connect(roles.admin) as admin:  # the owner drops every trigger
        triggers = admin.execute(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = to_regnamespace(%s)",
            [roles.schema],
        ).fetchall()
        assert {table for _, table in triggers} == set(GRANTS)
        for name, table in triggers:
            admin.execute(f"DROP TRIGGER {name} ON {table}")
        admin.execute("UPDATE incubator_events SET topic = topic")  # now nothing refuses it

    refused = [
        "UPDATE incubator_events SET state = state",
        "UPDATE event_chain SET case_hash = case_hash",
        "UPDATE event_signatures SET signature = signature",
        "INSERT INTO audit_signing VALUES (2, 1, '', 0)",
        "UPDATE audit_checkpoints SET signature = signature",
        *(f"DELETE FROM {table}" for table in GRANTS),
        *(f"TRUNCATE {table}" for table in GRANTS),
        "ALTER TABLE incubator_events DISABLE TRIGGER ALL",
        "CREATE TRIGGER again BEFORE UPDATE ON incubator_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION incubator_append_only()",
        "DROP TABLE event_chain",
        "LOCK TABLE incubator_events IN EXCLUSIVE MODE",  # what the library would take
    ]
    with roles.connect(roles.app) as app:
        for statement in refused:
            with pytest.raises(InsufficientPrivilege), app.transaction():
                app.execute(statement)

    # Without its triggers the role cannot put them back, and the application does not start...
    with pytest.raises(DatabaseError, match="cannot create"):
        bootstrap(roles.url(roles.app), clock=FixedClock(NOW))
    Shell(roles.url(roles.admin)).run("init")  # ...until the administrator restores them
    system = bootstrap(roles.url(roles.app), clock=FixedClock(NOW))
    try:
        after = audit.verify(system.read_models.engine, system.trust())
    finally:
        system.close_all()
    assert after.ok and (after.events, after.head) == (before.events, before.head)


def test_writers_of_the_log_take_turns_under_an_advisory_lock(roles: Roles) -> None:
    """The library's LOCK TABLE needs rights the role lacks; an advisory lock, held by each
    writer to the end of its transaction, keeps events committing in the order of their ids."""
    system = bootstrap(roles.url(roles.app), clock=FixedClock(NOW))
    written = threading.Event()

    def write() -> None:
        new_case(system.service)
        written.set()

    try:
        with roles.connect(roles.app) as other, other.transaction():  # a writer mid-insert
            other.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{roles.schema}.incubator_events"]
            )
            writer = threading.Thread(target=write)
            writer.start()
            assert not written.wait(1.0)  # waits its turn
        writer.join(timeout=30)  # the other committed: its turn is over
        assert written.is_set()
    finally:
        system.close_all()
