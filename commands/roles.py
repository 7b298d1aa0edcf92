"""Who may do what: the one table of rights by role, checked on the server for every command and
every read, whatever the adapter (HTTP API, web pages, command line with an account).

A person's account holds grants: a role, limited to some sites or (for the roles that work
across the park) to none. What a person may do is the union of their grants. An event records
the role that allowed the step, so the log answers "in which capacity".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from commands.messages import Command
from lifecycle import account


class Right(StrEnum):
    ORG_COMMAND = "org-command"  # the incubation lifecycle of an organization
    PARTY_COMMAND = "party-command"  # its party track, joint branches
    ROUND_COMMAND = "round-command"  # venture-philanthropy rounds and their projects
    READ_ORG = "read-org"  # cases, the caseload, a case's deadlines
    READ_PARTY = "read-party"  # party tracks, joint branches, coverage
    READ_ROUNDS = "read-rounds"
    READ_HISTORY = "read-history"  # a case's events, as of a date
    READ_REPORTS = "read-reports"  # the park's reports
    READ_ESCALATIONS = "read-escalations"  # overdue work escalated to the director
    AUDIT = "audit"  # audit verify, dossiers, exports, the log of reads
    ACCOUNTS = "accounts"  # accounts and roles
    ERASE_PERSONAL_DATA = "erase-personal-data"  # 个人信息删除: a data subject's, at their request


R = Right
# The role table of issue #14, written once.
ROLES: Mapping[str, frozenset[Right]] = {
    "caseworker": frozenset(
        {R.ORG_COMMAND, R.ROUND_COMMAND, R.READ_ORG, R.READ_PARTY, R.READ_ROUNDS, R.READ_HISTORY}
    ),
    "instructor": frozenset({R.PARTY_COMMAND, R.READ_ORG, R.READ_PARTY, R.READ_HISTORY}),
    "director": frozenset(
        {
            R.ORG_COMMAND,
            R.PARTY_COMMAND,
            R.ROUND_COMMAND,
            R.READ_ORG,
            R.READ_PARTY,
            R.READ_ROUNDS,
            R.READ_HISTORY,
            R.READ_REPORTS,
            R.READ_ESCALATIONS,
            R.ERASE_PERSONAL_DATA,
        }
    ),
    "auditor": frozenset(
        {
            R.READ_ORG,
            R.READ_PARTY,
            R.READ_ROUNDS,
            R.READ_HISTORY,
            R.READ_REPORTS,
            R.READ_ESCALATIONS,
            R.AUDIT,
        }
    ),
    "admin": frozenset({R.ACCOUNTS, R.ERASE_PERSONAL_DATA}),
}
# The names of the roles are the domain's (an account is granted them): lifecycle/account.py.
ROLE_NAMES = account.ROLE_NAMES
SITE_BOUND = account.SITE_BOUND  # a grant of these names at least one site
ZH = account.ROLE_NAMES_ZH
assert tuple(ROLES) == ROLE_NAMES, "the role table gives each role of the domain its rights"

# Which right a command needs, by its group.
COMMAND_RIGHTS: Mapping[str, Right] = {
    "org": R.ORG_COMMAND,
    "party": R.PARTY_COMMAND,
    "party joint-branch": R.PARTY_COMMAND,
    "round": R.ROUND_COMMAND,
    "user": R.ACCOUNTS,
    "privacy": R.ERASE_PERSONAL_DATA,
}


def right_of(message: type[Command]) -> Right:
    return COMMAND_RIGHTS[message.group]


@dataclass(frozen=True)
class Principal:
    """An authenticated account: its name and its grants (role → sites; empty: every site)."""

    name: str
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def role_for(self, right: Right, site: str | None = None) -> str | None:
        """The role that allows `right` (at `site`, when the thing acted on has one), or None.
        With several, the narrowest: a caseworker who is also director acts as caseworker."""
        for role in ROLE_NAMES:
            sites = self.grants.get(role)
            if sites is None or right not in ROLES[role]:
                continue
            if site is None or not sites or site in sites:
                return role
        return None

    def may(self, right: Right, site: str | None = None) -> bool:
        return self.role_for(right, site) is not None

    def sites_for(self, right: Right) -> frozenset[str] | None:
        """The sites where `right` holds: None for every site, empty for nowhere."""
        found: set[str] = set()
        for role, sites in self.grants.items():
            if right in ROLES.get(role, frozenset()):
                if not sites:
                    return None
                found |= sites
        return frozenset(found)

    def roles(self) -> tuple[str, ...]:
        return tuple(role for role in ROLE_NAMES if role in self.grants)


def principal(name: str, grants: Iterable[tuple[str, Iterable[str]]]) -> Principal:
    return Principal(name, {role: frozenset(sites) for role, sites in grants})
