"""An account of a person who uses the system (issue #14), on the same log as the cases: created,
roles granted (limited to sites) or revoked, its password set, disabled and enabled again, its
language chosen. Every change names the admin who made it, so the log answers "who could do
what, when". Its id comes from its name, so a name is unique.

What each role may do is the role table of commands/roles.py; here are only the role names, the
rules of an account, and the password rules. A password reaches this module only to be checked:
the account keeps its Argon2 hash (made by the service), never the password.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from lifecycle.bounds import Invalid
from lifecycle.errors import Refused, Term
from lifecycle.stages import ACCOUNT_WORKFLOW
from lifecycle.step import Stamped, Step, require_text

ACCOUNT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:incubator:account")
# The roles of the role table, narrowest first (a person with several acts in the narrowest
# that allows a step).
ROLE_NAMES = ("caseworker", "instructor", "director", "auditor", "admin")
ADMIN = "admin"
# Roles whose work is tied to sites: a grant of them names at least one site; the others work
# across the park and name none.
SITE_BOUND = frozenset({"caseworker", "instructor"})
ROLE_NAMES_ZH = {
    "caseworker": "社工",
    "instructor": "党建指导员",
    "director": "园区主任",
    "auditor": "审计员",
    "admin": "管理员",
}
LANGUAGES = ("zh_CN", "en")
PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # characters: far above any passphrase, and a bound on the hashing's work
# How a password's hash is shown anywhere (history, lists, exports): never the hash itself.
PASSWORD_SHOWN = "(已设置 / set)"


def normalised(name: str) -> str:
    """The form of a name that identifies an account: 王芳, ＷＡＮＧ and wang fang written
    differently (width, case, spaces around) are one account."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def check_role(role: str, option: str = "--role") -> str:
    if role not in ROLE_NAMES:
        raise Invalid(option, role, "must be one of {roles}", roles=", ".join(ROLE_NAMES))
    return role


def check_password(password: str, name: str) -> None:
    """The password rules. The refusals never repeat the password."""
    if len(password) < PASSWORD_MIN:
        raise Refused(
            "a password needs at least {minimum} characters; this one has {length}",
            field="password",
            minimum=PASSWORD_MIN,
            length=len(password),
        )
    if len(set(password)) == 1:
        raise Refused("a password cannot be one character repeated", field="password")
    if normalised(password) == normalised(name):
        raise Refused("a password cannot be the account's name", field="password")


class Account(Aggregate):
    """A person's account; its id comes from its name (`id_for`)."""

    name: str
    state: str  # active or disabled (lifecycle/stages.py)
    grants: dict[str, tuple[str, ...]]  # role -> the sites it is limited to (empty: every site)
    password_hash: str | None
    language: str | None  # zh_CN or en; None: the adapter's default
    added_on: date  # the business date it was created

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class Created(Aggregate.Created, Event, Stamped):
        name: str
        on: date
        actor: str
        reason: str | None

        def apply(self, account: Account) -> None:
            account.name, account.state, account.added_on = self.name, "active", self.on
            account.grants, account.password_hash, account.language = {}, None, None

    class AccountEvent(Event, Stamped):
        on: date
        actor: str
        reason: str | None

        def apply(self, account: Account) -> None:
            self.assign(account)

        def assign(self, account: Account) -> None:
            """What the event changes."""

    class RoleGranted(AccountEvent):
        """The role, limited to `sites` (none: every site); a role held already gets these
        sites instead of the ones it had."""

        role_name: str  # (`role` is the capacity the admin acted in, as on every event)
        sites: tuple[str, ...]

        def assign(self, account: Account) -> None:
            account.grants = {**account.grants, self.role_name: tuple(self.sites)}

    class RoleRevoked(AccountEvent):
        role_name: str

        def assign(self, account: Account) -> None:
            account.grants = {r: s for r, s in account.grants.items() if r != self.role_name}

    class PasswordSet(AccountEvent):
        password_hash: str  # Argon2; shown anywhere as PASSWORD_SHOWN

        def assign(self, account: Account) -> None:
            account.password_hash = self.password_hash

    class Disabled(AccountEvent):
        def assign(self, account: Account) -> None:
            account.state = "disabled"

    class Enabled(AccountEvent):
        def assign(self, account: Account) -> None:
            account.state = "active"

    class LanguageChosen(AccountEvent):
        language: str

        def assign(self, account: Account) -> None:
            account.language = self.language

    def __init__(self) -> None:
        pass

    @staticmethod
    def id_for(name: str) -> UUID:
        return uuid5(ACCOUNT_NAMESPACE, normalised(name))

    # ---- commands -----------------------------------------------------------------------------

    @classmethod
    def create(cls, name: str, step: Step) -> Account:
        """A new account, active, with no role and no password yet."""
        name = require_text(name, "--name", "user add")
        return cls._create(
            cls.Created, id=cls.id_for(name), **step.stamp(reason=step.reason), name=name
        )

    def grant(self, role: str, sites: Iterable[str], step: Step) -> None:
        """The role at `sites` (checked by the park first), or at every site for the roles
        that are not tied to sites."""
        self._check("grant")
        role, limited = check_role(role), tuple(sorted(set(sites)))
        if role in SITE_BOUND and not limited:
            raise Refused(
                "the role {role} is limited to sites: give at least one --site",
                field="sites",
                role=role,
            )
        if role not in SITE_BOUND and limited:
            raise Refused(
                "the role {role} works at every site: give no --site (roles limited to "
                "sites: {bound})",
                field="sites",
                role=role,
                bound=", ".join(sorted(SITE_BOUND)),
            )
        if self.grants.get(role) == limited:
            raise Refused(
                "{name} already holds the role {role} at {sites}; nothing to change",
                field="role",
                name=self.name,
                role=role,
                sites=", ".join(limited) if limited else Term("every site"),
            )
        self._record(self.RoleGranted, step, role_name=role, sites=limited)

    def revoke(self, role: str, step: Step, other_active_admins: int) -> None:
        """`other_active_admins`: how many accounts besides this one are active admins."""
        self._check("revoke")
        role = check_role(role)
        if role not in self.grants:
            raise Refused(
                "{name} does not hold the role {role}; roles held: {held}",
                field="role",
                name=self.name,
                role=role,
                held=", ".join(self.roles) or Term("none"),
            )
        if role == ADMIN:
            self._keep_an_admin(other_active_admins, Term("revoke the role admin of"))
        self._record(self.RoleRevoked, step, role_name=role)

    def set_password(self, password_hash: str, step: Step) -> None:
        """The hash of a password that passed `check_password`."""
        self._check("passwd")
        self._record(self.PasswordSet, step, password_hash=password_hash)

    def disable(self, step: Step, other_active_admins: int) -> None:
        """It can no longer log in; its sessions stop working."""
        self._check("disable")
        if normalised(step.actor) == normalised(self.name):
            raise Refused(
                "{name} cannot disable their own account; another admin may",
                field="account",
                name=self.name,
            )
        self._keep_an_admin(other_active_admins, Term("disable"))
        self._record(self.Disabled, step)

    def enable(self, step: Step) -> None:
        self._check("enable")
        self._record(self.Enabled, step)

    def choose_language(self, language: str, step: Step) -> None:
        """The language its pages are shown in; the one it has already changes nothing."""
        self._check("language")
        if language not in LANGUAGES:
            raise Invalid(
                "--language", language, "must be one of {languages}", languages=", ".join(LANGUAGES)
            )
        if language != self.language:
            self._record(self.LanguageChosen, step, language=language)

    # ---- what the account knows ---------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(role for role in ROLE_NAMES if role in self.grants)

    @property
    def is_active_admin(self) -> bool:
        return self.active and ADMIN in self.grants

    def allowed_commands(self) -> list[str]:
        return ACCOUNT_WORKFLOW.allowed(self.state)

    # ---- helpers ------------------------------------------------------------------------------

    def _keep_an_admin(self, other_active_admins: int, doing: str) -> None:
        """At least one active admin remains, or nobody could manage the accounts."""
        if self.is_active_admin and other_active_admins == 0:
            raise Refused(
                "cannot {doing} {name}: it is the last active admin, and at least one must "
                "remain; grant the role admin to another account first",
                field="account",
                doing=doing,
                name=self.name,
            )

    def _check(self, command: str) -> None:
        ACCOUNT_WORKFLOW.advance(self.state, command)

    def _record(self, event: type[AccountEvent], step: Step, **data: Any) -> None:
        data.setdefault("reason", step.reason)
        self.trigger_event(event, **step.stamp(**data))
