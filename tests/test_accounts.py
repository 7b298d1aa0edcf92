"""Accounts and roles (#14): the account's rules through the dispatcher, logging in, sessions and
lockouts on a real SQLite file (and across two services on one PostgreSQL database), and the
`incubator user` command line. A password never shows anywhere; its hash only in the log."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from commands import messages as m
from commands.accounts import AccountService, LockedOut, LoginRefused
from commands.bootstrap import Incubator, bootstrap
from commands.handlers import Actor, Dispatcher, Services
from commands.roles import Right
from commands.service import Who
from lifecycle.account import Account
from lifecycle.bounds import Invalid
from lifecycle.errors import NotFound, Refused, WrongStage
from schedules.clock import FixedClock
from tests.conftest import NOW
from tests.given import CHEAP_HASHER, Scenario

PASSWORD = "correct horse battery"
OTHER_PASSWORD = "staple-2014-伊金霍洛"


def scenario_with_admin() -> Scenario:
    s = Scenario()
    s.given(m.AddAccount, name="root", role="admin", password=PASSWORD)
    return s


def accounts_of(s: Scenario) -> AccountService:
    return s.dispatcher.services.accounts


# ---- the account's rules -----------------------------------------------------------------------


def test_an_account_is_created_with_its_role_and_the_hash_of_its_password() -> None:
    s = Scenario()
    events = s.when(
        m.AddAccount,
        name="王芳",
        role="caseworker",
        sites=("main", "第一社区孵化器"),
        password=PASSWORD,
    )
    assert events.names == ["Created", "RoleGranted", "PasswordSet"]
    assert {e.actor for e in events} == {"王芳"}
    granted = events.one("RoleGranted")
    assert (granted.role_name, tuple(granted.sites)) == ("caseworker", ("community-1", "main"))
    hashed = events.one("PasswordSet").password_hash
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert CHEAP_HASHER.verify(hashed, PASSWORD)
    account = accounts_of(s).account("王芳")
    assert account.id == Account.id_for("王芳") and account.active


def test_a_name_is_one_account_however_it_is_written() -> None:
    s = scenario_with_admin()
    assert Account.id_for("ＲＯＯＴ ") == Account.id_for("root")
    s.refuses(m.AddAccount, "an account named root exists already", name="ROOT", role="auditor",
              password=OTHER_PASSWORD)  # fmt: skip
    assert accounts_of(s).account(" Root").name == "root"


BROKEN_RULES: list[tuple[dict[str, Any], str, type[Exception]]] = [
    (
        {"role": "caseworker"},
        "the role caseworker is limited to sites: give at least one --site",
        Refused,
    ),
    ({"role": "instructor", "sites": ()}, "the role instructor is limited to sites", Refused),
    (
        {"role": "director", "sites": ("main",)},
        "the role director works at every site: give no --site",
        Refused,
    ),
    (
        {"role": "caseworker", "sites": ("moon",)},
        "unknown site 'moon'; sites: main, branch",
        Refused,
    ),
    (
        {"role": "superuser"},
        "--role must be one of caseworker, instructor, director, auditor, admin",
        Invalid,
    ),
    (
        {"role": "auditor", "password": "short1"},
        "a password needs at least 10 characters; this one has 6",
        Refused,
    ),
    (
        {"role": "auditor", "password": "aaaaaaaaaaaa"},
        "a password cannot be one character repeated",
        Refused,
    ),
    (
        {"role": "auditor", "name": "wang.fang.1", "password": " WANG.FANG.1"},
        "a password cannot be the account's name",
        Refused,
    ),
    ({"role": "auditor", "password": ""}, "--password-stdin must be given, as text$", Invalid),
    (
        {"role": "auditor", "password": "x" * 1025},
        "--password-stdin must be at most 1024 characters$",
        Invalid,
    ),
]


@pytest.mark.parametrize(("fields", "match", "error"), BROKEN_RULES)
def test_an_account_that_breaks_a_rule_is_refused_and_nothing_is_recorded(
    fields: dict[str, Any], match: str, error: type[Exception]
) -> None:
    s = scenario_with_admin()
    given = {"name": "王芳", "password": PASSWORD} | fields
    refusal = s.refuses(m.AddAccount, match, error, **given)
    assert given["password"].strip() not in str(refusal) or not given["password"]
    assert [v.name for v in accounts_of(s).accounts()] == ["root"]


def test_granting_changes_the_sites_of_a_role_held_and_refuses_what_changes_nothing() -> None:
    s = scenario_with_admin()
    s.given(m.AddAccount, name="王芳", role="caseworker", sites=("main",), password=PASSWORD)
    s.refuses(
        m.GrantRole,
        "王芳 already holds the role caseworker at main; nothing to change",
        account="王芳",
        role="caseworker",
        sites=("main",),
    )
    events = s.when(m.GrantRole, account="王芳", role="caseworker", sites=("branch", "main"))
    assert tuple(events.one("RoleGranted").sites) == ("branch", "main")
    s.given(m.GrantRole, account="王芳", role="director")
    s.refuses(
        m.GrantRole,
        "already holds the role director at every site",
        account="王芳",
        role="director",
    )
    assert accounts_of(s).account("王芳").grants == {
        "caseworker": ("branch", "main"),
        "director": (),
    }


def test_revoking_a_role_not_held_is_refused() -> None:
    s = scenario_with_admin()
    s.given(m.AddAccount, name="王芳", role="auditor", password=PASSWORD)
    s.refuses(
        m.RevokeRole,
        "王芳 does not hold the role director; roles held: auditor",
        account="王芳",
        role="director",
    )
    assert s.when(m.RevokeRole, account="王芳", role="auditor").names == ["RoleRevoked"]
    s.refuses(m.RevokeRole, "roles held: none", account="王芳", role="auditor")


def test_an_unknown_account_is_not_found() -> None:
    s = scenario_with_admin()
    s.refuses(m.DisableAccount, "no account named 李四", NotFound, account="李四")


def test_disabling_and_enabling_follow_the_account_s_states() -> None:
    s = scenario_with_admin()
    s.given(m.AddAccount, name="王芳", role="auditor", password=PASSWORD)
    s.actor = "root"
    assert s.when(m.DisableAccount, account="王芳").names == ["Disabled"]
    s.refuses(
        m.DisableAccount,
        "cannot disable: the account is in stage 'disabled'; commands allowed from 'disabled': "
        "enable, grant, language, passwd, revoke",
        WrongStage,
        account="王芳",
    )
    # its grants may still change while it is disabled
    s.given(m.GrantRole, account="王芳", role="director")
    assert s.when(m.EnableAccount, account="王芳").names == ["Enabled"]
    s.refuses(m.EnableAccount, "cannot enable: the account is in stage 'active'", account="王芳")


def test_an_admin_cannot_disable_their_own_account() -> None:
    s = scenario_with_admin()
    s.given(m.AddAccount, name="李强", role="admin", password=PASSWORD)
    s.actor = "李强"
    s.refuses(
        m.DisableAccount, "李强 cannot disable their own account; another admin may", account="李强"
    )
    s.given(m.DisableAccount, account="root")  # another admin remains: 李强


def test_the_last_active_admin_stays() -> None:
    s = scenario_with_admin()
    s.actor = "root"
    s.refuses(
        m.RevokeRole,
        "cannot revoke the role admin of root: it is the last active admin, and at least one "
        "must remain; grant the role admin to another account first",
        account="root",
        role="admin",
    )
    s.given(m.AddAccount, name="李强", role="admin", password=PASSWORD)
    s.given(m.DisableAccount, account="李强")  # a disabled admin does not count
    s.refuses(m.RevokeRole, "the last active admin", account="root", role="admin")
    s.actor = "operator"  # the operator on the server, who has no account
    s.refuses(m.DisableAccount, "cannot disable root: it is the last active admin", account="root")
    s.given(m.EnableAccount, account="李强")
    s.actor = "root"
    assert s.when(m.RevokeRole, account="root", role="admin").names == ["RoleRevoked"]
    # root is no admin now: 李强 is the last one
    s.refuses(m.RevokeRole, "cannot revoke the role admin of 李强", account="李强", role="admin")


def test_a_language_is_chosen_once() -> None:
    s = scenario_with_admin()
    assert s.when(m.ChooseLanguage, account="root", language="en").names == ["LanguageChosen"]
    assert s.when(m.ChooseLanguage, account="root", language="en").names == []
    s.refuses(m.ChooseLanguage, "--language must be one of zh_CN, en", Invalid, account="root",
              language="fr")  # fmt: skip
    assert accounts_of(s).account("root").language == "en"


def test_a_password_is_never_in_a_message_s_repr_nor_its_hash_in_a_history() -> None:
    made = m.SetPassword(account="root", password=OTHER_PASSWORD)
    assert OTHER_PASSWORD not in repr(made) and "password" not in repr(made)
    s = scenario_with_admin()
    s.given(m.SetPassword, account="root", password=OTHER_PASSWORD)
    stored = [
        e.password_hash for e in s.history(Account.id_for("root")) if hasattr(e, "password_hash")
    ]
    assert len(stored) == 2 and all(h.startswith("$argon2id$") for h in stored)
    shown = json.dumps(accounts_of(s).history("root"), ensure_ascii=False, default=str)
    assert "$argon2" not in shown and PASSWORD not in shown and OTHER_PASSWORD not in shown
    assert shown.count("(已设置 / set)") >= 2
    account = accounts_of(s).account("root")
    assert CHEAP_HASHER.verify(account.password_hash or "", OTHER_PASSWORD)


def test_the_accounts_list_is_right_after_a_command() -> None:
    s = scenario_with_admin()
    service = accounts_of(s)
    s.given(m.AddAccount, name="王芳", role="caseworker", sites=("main",), password=PASSWORD)
    s.given(m.GrantRole, account="王芳", role="instructor", sites=("branch",))
    s.given(m.ChooseLanguage, account="王芳", language="zh_CN")
    s.actor = "root"
    s.given(m.DisableAccount, account="王芳")
    views = {v.name: v for v in service.accounts()}
    assert list(views) == ["root", "王芳"]
    wang = views["王芳"]
    assert wang.roles == {"caseworker": ("main",), "instructor": ("branch",)}
    assert (wang.active, wang.language, wang.created_on.isoformat()) == (
        False,
        "zh_CN",
        "2026-11-22",
    )
    assert views["root"].roles == {"admin": ()} and views["root"].active
    assert "password" not in json.dumps([v.as_json() for v in views.values()])


def test_the_accounts_read_model_rebuilds_to_the_same_rows() -> None:
    s = scenario_with_admin()
    s.given(m.AddAccount, name="王芳", role="caseworker", sites=("main",), password=PASSWORD)
    s.given(m.RevokeRole, account="王芳", role="caseworker")
    s.given(m.GrantRole, account="王芳", role="auditor")
    service = accounts_of(s)
    before = service.accounts()
    service.read_models.rebuild(["accounts"])
    assert service.accounts() == before


# ---- logging in, sessions and lockouts on a SQLite file ---------------------------------------


@pytest.fixture
def system(sqlite_url: str, clock: FixedClock) -> Iterator[Incubator]:
    found = bootstrap(sqlite_url, clock=clock, password_hasher=CHEAP_HASHER)
    yield found
    found.close_all()


def dispatch(system: Incubator, message: m.Command, actor: str = "operator") -> Any:
    services = Services(system.service, system.party, system.rounds, system.accounts)
    return Dispatcher(services).handle(message, Actor(actor))


def people(system: Incubator) -> None:
    dispatch(system, m.AddAccount(name="root", role="admin", password=PASSWORD))
    dispatch(
        system,
        m.AddAccount(name="王芳", role="caseworker", sites=("main",), password=OTHER_PASSWORD),
        actor="root",
    )


def test_a_login_opens_a_session_that_names_what_the_account_may_do(
    system: Incubator, sqlite_url: str
) -> None:
    people(system)
    session = system.accounts.log_in("王芳", OTHER_PASSWORD)
    assert session.expires_at == NOW + timedelta(minutes=480)
    assert session.principal.name == "王芳"
    assert session.principal.role_for(Right.ORG_COMMAND, "main") == "caseworker"
    assert not session.principal.may(Right.ORG_COMMAND, "branch")
    assert session.csrf and session.csrf != session.token and session.language is None
    found = system.accounts.session(session.token)
    assert found is not None and found.principal == session.principal
    assert found.csrf == session.csrf
    # the store keeps only the token's sha256
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT token_hash, csrf FROM account_sessions").fetchall()
        dump = "\n".join(db.iterdump())
    assert rows == [(hashlib.sha256(session.token.encode()).hexdigest(), session.csrf)]
    assert session.token not in dump


def test_grants_change_what_a_session_may_do_at_once(system: Incubator) -> None:
    people(system)
    token = system.accounts.log_in("王芳", OTHER_PASSWORD).token
    dispatch(system, m.GrantRole(account="王芳", role="director"), actor="root")
    session = system.accounts.session(token)
    assert session is not None and session.principal.may(Right.READ_REPORTS)
    dispatch(system, m.RevokeRole(account="王芳", role="director"), actor="root")
    dispatch(system, m.RevokeRole(account="王芳", role="caseworker"), actor="root")
    session = system.accounts.session(token)
    assert session is not None and session.principal.roles() == ()
    assert system.accounts.principal("王芳") == session.principal


def test_a_change_made_by_another_process_counts_at_the_next_check(
    database_url: str, clock: FixedClock
) -> None:
    """A process keeps what an account may do only while the log holds no later event of the
    account: a grant, a revocation, a language or a disabling written by another process (here
    a second system on the same database) counts at this one's very next check of a token."""
    here = bootstrap(database_url, clock=clock, password_hasher=CHEAP_HASHER)
    there = bootstrap(database_url, clock=clock, password_hasher=CHEAP_HASHER)
    try:
        people(there)
        token = here.accounts.log_in("王芳", OTHER_PASSWORD).token

        def principal() -> Any:
            session = here.accounts.session(token)
            return None if session is None else session.principal

        assert principal().may(Right.ORG_COMMAND, "main")  # checked, and now kept here
        assert not principal().may(Right.READ_REPORTS)
        dispatch(there, m.GrantRole(account="王芳", role="director"), actor="root")
        assert principal().may(Right.READ_REPORTS)
        dispatch(there, m.RevokeRole(account="王芳", role="caseworker"), actor="root")
        dispatch(there, m.RevokeRole(account="王芳", role="director"), actor="root")
        assert principal().roles() == ()
        dispatch(there, m.ChooseLanguage(account="王芳", language="en"), actor="王芳")
        session = here.accounts.session(token)
        assert session is not None and session.language == "en"
        dispatch(there, m.DisableAccount(account="王芳"), actor="root")
        assert here.accounts.session(token) is None
    finally:
        here.close_all()
        there.close_all()


def test_a_disabled_account_keeps_no_session_even_before_its_sessions_end(
    system: Incubator,
) -> None:
    """The sessions of a disabled account are ended after its event is saved; a check in
    between already finds the account disabled."""
    people(system)
    token = system.accounts.log_in("王芳", OTHER_PASSWORD).token
    assert system.accounts.session(token) is not None  # kept
    system.accounts.sessions.end_all = lambda account_id: 0  # type: ignore[method-assign]
    dispatch(system, m.DisableAccount(account="王芳"), actor="root")
    assert system.accounts.session(token) is None


def test_a_disabled_account_s_sessions_stop_and_it_cannot_log_in(system: Incubator) -> None:
    people(system)
    token = system.accounts.log_in("王芳", OTHER_PASSWORD).token
    dispatch(system, m.DisableAccount(account="王芳"), actor="root")
    assert system.accounts.session(token) is None
    assert system.accounts.principal("王芳") is None
    with pytest.raises(LoginRefused, match="wrong name or password, or the account cannot log in"):
        system.accounts.log_in("王芳", OTHER_PASSWORD)
    dispatch(system, m.EnableAccount(account="王芳"), actor="root")
    assert system.accounts.session(token) is None  # enabled again, its old sessions stay ended
    assert system.accounts.session(system.accounts.log_in("王芳", OTHER_PASSWORD).token)


def test_a_session_expires_and_a_logout_ends_it(
    sqlite_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    settings = tmp_path / "park.toml"
    settings.write_text("[accounts]\nsession_minutes = 60\n", encoding="utf-8")
    system = bootstrap(sqlite_url, settings, clock=clock, password_hasher=CHEAP_HASHER)
    try:
        people(system)
        first = system.accounts.log_in("王芳", OTHER_PASSWORD)
        second = system.accounts.log_in("王芳", OTHER_PASSWORD)
        assert first.token != second.token and first.expires_at == NOW + timedelta(minutes=60)
        system.accounts.log_out(second.token)
        assert system.accounts.session(second.token) is None
        clock.at = NOW + timedelta(minutes=59, seconds=59)
        assert system.accounts.session(first.token) is not None
        clock.at = NOW + timedelta(minutes=60)
        assert system.accounts.session(first.token) is None
        assert system.accounts.session("") is None
        assert system.accounts.session("not a token") is None
    finally:
        system.close_all()


def test_wrong_passwords_slow_down_then_lock_the_name_for_a_while(
    system: Incubator, clock: FixedClock
) -> None:
    people(system)
    waits = []
    for _ in range(4):
        with pytest.raises(LoginRefused) as refused:
            system.accounts.log_in("王芳", "not the password")
        assert type(refused.value) is LoginRefused
        waits.append(refused.value.retry_after)
    assert waits == [1, 2, 4, 8]
    with pytest.raises(LockedOut) as locked:
        system.accounts.log_in("王芳", "still not it")
    assert str(locked.value) == (
        "too many failed logins: this name is locked until 2026-11-22 12:15; try again then"
    )
    assert locked.value.until == NOW + timedelta(minutes=15)
    assert locked.value.retry_after == 15 * 60
    clock.at = NOW + timedelta(minutes=14, seconds=59)
    with pytest.raises(LockedOut):  # the right password too, while it is locked
        system.accounts.log_in("王芳", OTHER_PASSWORD)
    clock.at = NOW + timedelta(minutes=15)
    assert system.accounts.log_in("王芳", OTHER_PASSWORD).principal.name == "王芳"


def test_failures_count_within_the_window_and_a_login_clears_them(
    system: Incubator, clock: FixedClock
) -> None:
    people(system)

    def fail(times: int) -> None:
        for _ in range(times):
            with pytest.raises(LoginRefused) as refused:
                system.accounts.log_in("王芳", "wrong password")
            assert type(refused.value) is LoginRefused

    fail(4)
    clock.at = NOW + timedelta(minutes=15)  # the window has passed
    fail(4)
    system.accounts.log_in("王芳", OTHER_PASSWORD)  # a login clears them
    fail(4)
    with pytest.raises(LockedOut):
        system.accounts.log_in("王芳", "wrong password")


def test_the_answers_never_say_whether_a_name_exists(system: Incubator) -> None:
    people(system)
    answers = []
    for name in ("王芳", "李四", "", "x" * 5000):
        with pytest.raises(LoginRefused) as refused:
            system.accounts.log_in(name, "wrong password")
        answers.append((str(refused.value), refused.value.retry_after))
    assert len(set(answers)) == 1
    for _ in range(4):
        with pytest.raises(LoginRefused):
            system.accounts.log_in("李四", "wrong password")
    with pytest.raises(LockedOut, match="this name is locked"):
        system.accounts.log_in("李四", "wrong password")
    with pytest.raises(LoginRefused) as too_long:  # not hashed at all: too long to be one
        system.accounts.log_in("root", "x" * 2000)
    assert "x" * 20 not in str(too_long.value)


def test_an_account_without_a_role_logs_in_and_may_do_nothing(system: Incubator) -> None:
    people(system)
    dispatch(system, m.RevokeRole(account="王芳", role="caseworker"), actor="root")
    session = system.accounts.log_in("王芳", OTHER_PASSWORD)
    assert session.principal.roles() == () and not session.principal.may(Right.READ_ORG)


# ---- two services on one PostgreSQL database ----------------------------------------------------


@pytest.mark.postgres
def test_sessions_and_lockouts_hold_across_services_on_postgresql(
    postgres_url: str, clock: FixedClock
) -> None:
    one = bootstrap(postgres_url, clock=clock, password_hasher=CHEAP_HASHER)
    two = bootstrap(postgres_url, clock=clock, password_hasher=CHEAP_HASHER)
    try:
        people(one)
        session = one.accounts.log_in("王芳", OTHER_PASSWORD)
        seen = two.accounts.session(session.token)
        assert seen is not None and seen.principal == session.principal
        dispatch(two, m.GrantRole(account="王芳", role="auditor"), actor="root")
        seen = one.accounts.session(session.token)
        assert seen is not None and seen.principal.may(Right.AUDIT)
        two.accounts.log_out(session.token)
        assert one.accounts.session(session.token) is None
        # failures on either count for both
        for service in (one, two, one, two):
            with pytest.raises(LoginRefused) as refused:
                service.accounts.log_in("王芳", "wrong password")
            assert type(refused.value) is LoginRefused
        with pytest.raises(LockedOut):
            two.accounts.log_in("王芳", "wrong password")
        with pytest.raises(LockedOut):
            one.accounts.log_in("王芳", OTHER_PASSWORD)
        # a disabled account's session stops on the other worker too
        clock.at = NOW + timedelta(minutes=15)
        token = two.accounts.log_in("王芳", OTHER_PASSWORD).token
        dispatch(one, m.DisableAccount(account="王芳"), actor="root")
        assert two.accounts.session(token) is None
        assert [v.name for v in two.accounts.accounts() if not v.active] == ["王芳"]
    finally:
        one.close_all()
        two.close_all()


@pytest.mark.postgres
def test_failures_at_the_same_moment_on_postgresql_are_each_counted(
    postgres_url: str, clock: FixedClock
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    systems = [bootstrap(postgres_url, clock=clock, password_hasher=CHEAP_HASHER) for _ in range(2)]
    try:
        people(systems[0])

        def fail(n: int) -> str:
            try:
                systems[n % 2].accounts.log_in("王芳", "wrong password")
            except LockedOut:
                return "locked"
            except LoginRefused:
                return "refused"
            return "in"

        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(fail, range(8)))
        # the 5th failure locks the name; those after it find it locked
        assert outcomes.count("refused") == 4 and outcomes.count("locked") == 4
    finally:
        for system in systems:
            system.close_all()


# ---- the command line ---------------------------------------------------------------------------


class Operator:
    """`incubator` through click's runner on a SQLite file, as the operator on the server."""

    def __init__(self, sqlite_url: str) -> None:
        self.runner = CliRunner()
        self.env = {"INCUBATOR_ACTOR": "operator", "INCUBATOR_NOW": ""}
        self.database = sqlite_url
        self.said: list[str] = []

    def run(self, *args: str, stdin: str | None = None, code: int = 0) -> Result:
        result = self.runner.invoke(
            cli, ["--database", self.database, *args], input=stdin, env=self.env
        )
        self.said.append(result.output + result.stderr)
        assert result.exit_code == code, (args, result.exit_code, result.output, result.stderr)
        return result


def test_the_operator_makes_the_first_admin_and_manages_accounts(sqlite_url: str) -> None:
    op = Operator(sqlite_url)
    added = op.run("user", "add", "root", "--role", "admin", "--password-stdin", "--json",
                   stdin=PASSWORD + "\n")  # fmt: skip
    assert json.loads(added.stdout)["roles"] == {"admin": []}
    op.run("user", "add", "王芳", "--role", "caseworker", "--site", "main", "--site", "branch",
           "--password-stdin", stdin=OTHER_PASSWORD + "\r\n")  # fmt: skip
    granted = op.run("user", "grant", "王芳", "--role", "instructor", "--site", "main",
                     "--actor", "root")  # fmt: skip
    assert granted.stdout.startswith("王芳: active 启用 — roles: caseworker")
    op.run("user", "revoke", "王芳", "--role", "caseworker", "--actor", "root")
    op.run("user", "language", "王芳", "--language", "en")
    op.run("user", "disable", "王芳", "--actor", "root", "--reason", "left the park")
    listed = json.loads(op.run("user", "list", "--json").stdout)
    assert listed == [
        {"name": "root", "roles": {"admin": []}, "active": True, "language": None,
         "created_on": listed[0]["created_on"]},
        {"name": "王芳", "roles": {"instructor": ["main"]}, "active": False, "language": "en",
         "created_on": listed[1]["created_on"]},
    ]  # fmt: skip
    table = op.run("user", "list").stdout
    assert "instructor 党建指导员 (main)" in table and "disabled 停用" in table
    history = json.loads(op.run("user", "history", "王芳", "--json").stdout)
    assert [(e["type"], e["actor"]) for e in history] == [
        ("Created", "operator"),
        ("RoleGranted", "operator"),
        ("PasswordSet", "operator"),
        ("RoleGranted", "root"),
        ("RoleRevoked", "root"),
        ("LanguageChosen", "operator"),
        ("Disabled", "root"),
    ]
    assert history[-1]["reason"] == "left the park"
    assert history[2]["data"] == {"password_hash": "(已设置 / set)"}
    op.run("user", "history", "王芳", "--csv")
    op.run("user", "history", "王芳")
    op.run("user", "passwd", "王芳", "--password-stdin", stdin="a new password, 2014\n")
    # the passwords were read and hashed: the log holds their hashes, nothing shows them
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        stored = b"".join(bytes(r[0]) for r in db.execute("SELECT state FROM stored_events"))
    assert stored.count(b"$argon2id$") == 3
    said = "\n".join(op.said)
    for secret in (PASSWORD, OTHER_PASSWORD, "a new password", "$argon2"):
        assert secret not in said, secret


def test_the_command_line_refuses_a_password_given_otherwise_or_badly(sqlite_url: str) -> None:
    op = Operator(sqlite_url)
    missing = op.run("user", "add", "root", "--role", "admin", code=2)
    assert "Missing option '--password-stdin'" in missing.stderr
    as_value = op.run("user", "add", "root", "--role", "admin", "--password", PASSWORD, code=2)
    assert "No such option '--password'" in as_value.stderr
    short = op.run("user", "add", "root", "--role", "admin", "--password-stdin", stdin="hunter2\n",
                   code=1)  # fmt: skip
    assert short.stderr == ("incubator: a password needs at least 10 characters; this one has 7\n")
    empty = op.run("user", "add", "root", "--role", "admin", "--password-stdin", stdin="", code=1)
    assert empty.stderr == "incubator: --password-stdin must be given, as text\n"
    site = op.run("user", "add", "王芳", "--role", "caseworker", "--password-stdin",
                  stdin=PASSWORD + "\n", code=1)  # fmt: skip
    assert "give at least one --site" in site.stderr
    assert json.loads(op.run("user", "list", "--json").stdout) == []
    op.run("user", "add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    nobody = op.run("user", "grant", "李四", "--role", "auditor", code=1)
    assert nobody.stderr == "incubator: no account named 李四\n"
    last = op.run("user", "disable", "root", code=1)
    assert "it is the last active admin" in last.stderr
    self_ = op.run("user", "disable", "root", "--actor", "ROOT", code=1)
    assert "root cannot disable their own account" in self_.stderr
    assert "hunter2" not in "\n".join(op.said)


def test_every_user_command_is_generated_from_its_message() -> None:
    group = cli.commands["user"]
    assert isinstance(group, click.Group)
    for message in (m.AddAccount, m.GrantRole, m.RevokeRole, m.SetPassword, m.DisableAccount,
                    m.EnableAccount, m.ChooseLanguage):  # fmt: skip
        assert message in m.COMMANDS and message.group == "user"
        assert message.verb in group.commands
    assert {"list", "history"} <= set(group.commands)


def test_a_handler_passes_the_authenticated_role_into_the_account_s_events(
    system: Incubator,
) -> None:
    people(system)
    services = Services(system.service, system.party, system.rounds, system.accounts)
    Dispatcher(services).handle(m.GrantRole(account="王芳", role="auditor"), Actor("root", "admin"))
    last: Any = list(system.log.events.get(Account.id_for("王芳")))[-1]
    assert (type(last).__name__, last.actor, last.role) == ("RoleGranted", "root", "admin")
    assert isinstance(system.accounts.add(
        Who("root", role="admin"), name="李强", role="auditor", sites=(), password=PASSWORD
    ), Account)  # fmt: skip
