"""Accounts: one method per account command (load, decide, save), and logging in.

A password is checked by the account's rules, hashed with Argon2 and forgotten: only its hash
reaches the log, and no refusal, log line or output repeats the password. A login opens a
session kept in the database (store/sessions.py), so every worker knows it; a session names
the account, and what it may do is the account's grants as its latest event in the log leaves
them, looked up at every use, so a role granted or revoked, or the account disabled, counts at
once. Failed logins of one name
(an account or not: the answers never say which) lock it for a while after a few.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.persistence import IntegrityError

from commands.queries import history
from commands.roles import Principal
from commands.service import Commands, Who
from lifecycle.account import PASSWORD_MAX, Account, check_password
from lifecycle.bounds import NAME
from lifecycle.errors import NotFound, Refused, Term
from lifecycle.park import Park
from lifecycle.step import Step
from projections.read_models import ReadModels
from schedules.clock import Clock
from store.log import EventLog
from store.sessions import SessionStore, StoredSession

TOKEN_BYTES = 32
SLOWEST = 30  # seconds: the longest a caller is asked to wait after a failed login


class LoginRefused(Refused):
    """The name or the password is wrong, or the account cannot log in; which, it never says.
    `retry_after`: seconds the caller should let pass before another try (the API slows
    repeated failures down with it)."""

    def __init__(self, retry_after: int = 0) -> None:
        super().__init__("wrong name or password, or the account cannot log in", field="password")
        self.retry_after = retry_after


class LockedOut(LoginRefused):
    """Too many failed logins of this name: no login until `until`."""

    def __init__(self, until: datetime, local: datetime, retry_after: int) -> None:
        Refused.__init__(
            self,
            "too many failed logins: this name is locked until {until}; try again then",
            field="password",
            until=local.strftime("%Y-%m-%d %H:%M"),
        )
        self.until, self.retry_after = until, retry_after


@dataclass(frozen=True)
class Session:
    token: str  # given once, at login: the store keeps only its sha256
    expires_at: datetime
    principal: Principal
    csrf: str
    language: str | None


@dataclass(frozen=True)
class AccountView:
    name: str
    roles: dict[str, tuple[str, ...]]  # role -> its sites (empty: every site)
    active: bool
    language: str | None
    created_on: date

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(
            account.name,
            {role: account.grants[role] for role in account.roles},
            account.active,
            account.language,
            account.added_on,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "roles": {role: list(sites) for role, sites in self.roles.items()},
            "active": self.active,
            "language": self.language,
            "created_on": self.created_on.isoformat(),
        }


class AccountService(Commands):
    def __init__(
        self,
        log: EventLog,
        park: Park,
        clock: Clock,
        read_models: ReadModels,
        sessions: SessionStore,
        hasher: PasswordHasher | None = None,
    ) -> None:
        super().__init__(log, park, clock)
        self.read_models, self.sessions = read_models, sessions
        self.hasher = hasher or PasswordHasher()
        self._decoy: str | None = None  # a hash to check a password of no account against
        # Per account: its version, what it may do at that version (None: not active), its
        # language. Kept while the log holds no later event of the account.
        self._holders: dict[UUID, tuple[int, Principal | None, str | None]] = {}

    # ---- the commands -------------------------------------------------------------------------

    def add(
        self, who: Who, *, name: str, role: str, sites: Sequence[str], password: str
    ) -> Account:
        """A new account with its first role and its password."""
        name = NAME.check(name, "NAME")
        check_password(password, name)
        sites = self._sites(sites)
        step = self._step(who)
        existing = self._find(Account.id_for(name))
        if existing is not None:
            raise _exists(name, existing)
        account = Account.create(name, step)
        account.grant(role, sites, step)
        account.set_password(self.hasher.hash(password), step)
        try:
            self.log.save(account)
        except IntegrityError:  # created by someone else at the same moment
            raise _exists(name, self._find(account.id)) from None
        return account

    def grant(self, name: str, who: Who, role: str, sites: Sequence[str]) -> Account:
        sites = self._sites(sites)
        return self._change(name, who, lambda a, step: a.grant(role, sites, step))

    def revoke(self, name: str, who: Who, role: str) -> Account:
        return self._change(
            name, who, lambda a, step: a.revoke(role, step, self._other_active_admins(a))
        )

    def set_password(self, name: str, who: Who, password: str) -> Account:
        account = self.account(name)
        check_password(password, account.name)
        password_hash = self.hasher.hash(password)
        return self._change(name, who, lambda a, step: a.set_password(password_hash, step))

    def disable(self, name: str, who: Who) -> Account:
        account = self._change(
            name, who, lambda a, step: a.disable(step, self._other_active_admins(a))
        )
        self.sessions.end_all(str(account.id))
        return account

    def enable(self, name: str, who: Who) -> Account:
        return self._change(name, who, lambda a, step: a.enable(step))

    def choose_language(self, name: str, who: Who, language: str) -> Account:
        return self._change(name, who, lambda a, step: a.choose_language(language, step))

    # ---- reads --------------------------------------------------------------------------------

    def account(self, name: str) -> Account:
        return self._get(
            Account.id_for(name),
            Account,
            NotFound("no account named {name}", field="account", name=name),
        )

    def accounts(self) -> list[AccountView]:
        """Every account by name, as the log stands now."""
        self.read_models.catch_up()
        return [
            AccountView(
                name=row["name"],
                roles={role: tuple(sites) for role, sites in row["roles"].items()},
                active=row["active"],
                language=row["language"],
                created_on=date.fromisoformat(row["created_on"]),
            )
            for row in self.read_models.accounts()
        ]

    def principal(self, name: str) -> Principal | None:
        """What the account may do now: None unless it is an active account."""
        found = self._find(Account.id_for(name))
        if not isinstance(found, Account) or not found.active:
            return None
        return _principal(found)

    def history(self, name: str) -> list[dict[str, Any]]:
        """Who created the account, granted and revoked what and when, disabled or enabled it
        (a password's hash shown only as set)."""
        return history(self.log, UUID(str(self.account(name).id)))

    # ---- logging in ---------------------------------------------------------------------------

    def log_in(self, name: str, password: str) -> Session:
        """A new session, or LoginRefused (LockedOut after too many failures)."""
        now, policy = self.clock.now(), self.park.accounts
        if not isinstance(name, str) or not isinstance(password, str):
            raise LoginRefused()
        account_id = Account.id_for(name)
        locked = self.sessions.locked_until(str(account_id), now)
        if locked is not None:
            raise self._locked_out(locked, now)
        found = self._find(account_id) if name.strip() else None
        account = found if isinstance(found, Account) else None
        if not self._verified(account, password):
            failures = self.sessions.failed(
                str(account_id),
                now,
                policy.failure_window,
                policy.lock_after_failures,
                policy.lock,
            )
            if failures.locked_until is not None:
                raise self._locked_out(failures.locked_until, now)
            raise LoginRefused(min(2 ** (failures.failures - 1), SLOWEST))
        assert account is not None
        if not account.active:
            raise LoginRefused()
        self.sessions.succeeded(str(account_id))
        token, csrf = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
        stored = StoredSession(str(account_id), account.name, csrf, now + policy.session)
        self.sessions.open(_digest(token), stored, now)
        return Session(token, stored.expires_at, _principal(account), csrf, account.language)

    def session(self, token: str) -> Session | None:
        """The session of `token`: None if unknown, expired, logged out, or its account is
        disabled. What it may do is the account's grants now."""
        if not isinstance(token, str) or not token or len(token) > 4 * TOKEN_BYTES:
            return None
        stored = self.sessions.find(_digest(token), self.clock.now())
        if stored is None:
            return None
        _, principal, language = self._holder(UUID(stored.account_id))
        if principal is None:
            return None
        return Session(token, stored.expires_at, principal, stored.csrf, language)

    def log_out(self, token: str) -> None:
        if isinstance(token, str) and token:
            self.sessions.end(_digest(token))

    # ---- helpers ------------------------------------------------------------------------------

    def _holder(self, account_id: UUID) -> tuple[int, Principal | None, str | None]:
        """The account's version, what it may do (None unless it is an active account) and
        its language, as its latest event leaves them: what the last use found while the log
        holds no later event of the account (a look-up by key), else replayed from the log."""
        known = self._holders.get(account_id)
        if known is not None and known[0] == self.log.version_of(account_id):
            return known
        found = self._find(account_id)
        if not isinstance(found, Account):
            return (0, None, None)
        known = (found.version, _principal(found) if found.active else None, found.language)
        self._holders[account_id] = known
        return known

    def _change(self, name: str, who: Who, decide: Callable[[Account, Step], None]) -> Account:
        return self._retrying(lambda: self.account(name), who, decide, Term("the account"))

    def _sites(self, sites: Iterable[str]) -> tuple[str, ...]:
        """Each site by its key or its name, as the park's key (refused when unknown)."""
        return tuple(dict.fromkeys(self.park.site_key(site) for site in sites))

    def _other_active_admins(self, account: Account) -> int:
        self.read_models.catch_up()
        return sum(
            1
            for row in self.read_models.accounts()
            if row["admin"] and row["active"] and row["id"] != str(account.id)
        )

    def _verified(self, account: Account | None, password: str) -> bool:
        """Whether `password` is the account's. Without an account (or a password) a decoy
        hash is checked all the same, so the answer takes as long either way."""
        if len(password) > PASSWORD_MAX:
            return False
        stored = account.password_hash if account is not None else None
        if stored is None:
            if self._decoy is None:
                self._decoy = self.hasher.hash(secrets.token_hex(16))
            stored = self._decoy
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored is not self._decoy

    def _locked_out(self, until: datetime, now: datetime) -> LockedOut:
        wait = max(1, int((until - now).total_seconds() + 0.999))
        return LockedOut(until, until.astimezone(ZoneInfo(self.park.timezone)), wait)


def _principal(account: Account) -> Principal:
    return Principal(account.name, {role: frozenset(s) for role, s in account.grants.items()})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _exists(name: str, existing: object) -> Refused:
    """(The account may be spelled otherwise: ＷＡＮＧ is wang.)"""
    shown = existing.name if isinstance(existing, Account) else name
    return Refused("an account named {name} exists already", field="name", name=shown)
