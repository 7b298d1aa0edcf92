"""What the HTTP API (and the web pages) read, as JSON-ready views: a case now or as of a date,
a page of the caseload, a case's history, its party track, an inbox, the reports, the audit,
the rounds. Each read is one call; who may make it is the adapter's check (commands/roles.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from commands.accounts import AccountView
from commands.audit import Audit
from commands.exports import json_default
from commands.lists import (
    caseload_page,
    caseload_rows,
    found_page,
    found_rows,
    listed_page,
    sorted_page,
    sorted_rows,
)
from commands.paging import PAGE_LIMIT
from commands.queries import (
    branch_view,
    case_view,
    history,
    party_view,
    project_view,
    round_view,
)
from lifecycle.account import Account
from lifecycle.bounds import Invalid
from lifecycle.errors import NotFound, Refused
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.project import Project
from lifecycle.round import Round

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from commands.handlers import Result

T = TypeVar("T")
SITES_KEPT = 200_000  # cases whose site a process keeps (then it forgets them all, and goes on)


class Reads:
    def __init__(self, system: Incubator) -> None:
        self.system = system
        self._sites: dict[UUID, str] = {}  # the site of each case seen, which never changes

    # ---- where a thing is: the site its rights are checked at --------------------------------

    def case_site(self, case_id: UUID) -> tuple[str, OrganizationCase | None]:
        """The case's site, and the case if it was loaded to find it (None: it was not). A
        case's site is set by its application and never changes (lifecycle/organization.py),
        so the site of a case once seen is kept."""
        site = self._sites.get(case_id)
        if site is not None:
            return site, None
        case = self.system.service.case(case_id)
        return self._seen(case), case

    def _seen(self, case: OrganizationCase) -> str:
        if len(self._sites) >= SITES_KEPT:
            self._sites.clear()
        self._sites[UUID(str(case.id))] = case.site
        return case.site

    def round_of(self, round_id: UUID) -> Round:
        return self.system.rounds.round(round_id)

    def project_of(self, project_id: UUID) -> Project:
        return self.system.rounds.project(project_id)

    def branch_of(self, branch_id: UUID) -> JointBranch:
        try:
            return self.system.party.joint_branch(str(branch_id))
        except NotFound:  # the branch the path names: not a field of a command
            raise NotFound("no joint branch with id {id}", id=branch_id) from None

    def branch(self, branch_id: UUID, found: JointBranch | None = None) -> dict[str, Any]:
        return _plain(branch_view(found if found is not None else self.branch_of(branch_id)))

    # ---- cases ----------------------------------------------------------------------------------

    def case(
        self, case_id: UUID, as_of: date | None = None, found: OrganizationCase | None = None
    ) -> dict[str, Any]:
        """The case now (with its projects and anomalies), or as it stood on `as_of`; `found`:
        the case, if it was just loaded."""
        system = self.system
        case = found if found is not None else system.service.case(case_id)
        self._seen(case)
        if as_of is None:
            view = case_view(
                case, system.park, system.service.today(), system.service.party_track(case)
            )
        else:
            from commands.as_of import case_as_of

            then, track = case_as_of(system.log, case_id, as_of, None)
            if then is None:
                raise Refused(
                    "{name} had not applied on {day}: nothing to show", name=case.name, day=as_of
                )
            view = case_view(then, system.park, as_of, track)
            view.pop("allowed_commands")
            view["as_of"] = as_of.isoformat()
        ids = [str(case_id), str(PartyIncubation.id_for(case_id))]
        view["anomalies"] = system.read_models.case_anomalies(ids)
        return view

    def case_version(self, case_id: UUID) -> int:
        return int(self.system.service.case(case_id).version)

    def caseload(
        self,
        sites: frozenset[str] | None,
        *,
        stage: str | None = None,
        site: str | None = None,
        caseworker: str | None = None,
        q: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of the caseload at `sites` (None: every site), and the cursor of the next."""
        if site is not None:
            self.system.park.site(site)
        after = _after(cursor) if cursor else None
        self.system.read_models.catch_up()
        rows = self.system.read_models.caseload(
            stage=stage,
            site=site,
            caseworker=caseworker,
            name_contains=q,
            sites=sites,
            after=after,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if rows and more else None
        return {
            "items": [_plain(r) for r in rows],
            "next_cursor": _cursor(last) if last else None,
        }

    def history(self, case_id: UUID) -> list[dict[str, Any]]:
        """The case's events with its reminders', oldest first."""
        system = self.system
        system.service.case(case_id)
        system.read_models.catch_up()
        reminders = [UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(case_id))]
        return history(system.log, case_id, reminders)

    def party(self, case_id: UUID) -> dict[str, Any]:
        return party_view(self.system.party.track(case_id))

    def party_version(self, case_id: UUID) -> int:
        return int(self.system.party.track(case_id).version)

    def dossier(self, case_id: UUID) -> dict[str, Any]:
        return Audit(self.system).dossier(case_id)

    def verify(self) -> dict[str, Any]:
        return Audit(self.system).verify()

    # ---- work and reports -------------------------------------------------------------------

    def inbox(self, people: list[str], sites: frozenset[str] | None) -> list[dict[str, Any]]:
        """What is due for `people` (a person, and the director's name for one who receives
        escalations) at `sites`, soonest first."""
        system = self.system
        system.read_models.catch_up()
        today = system.service.today()
        items = [
            item
            for person in dict.fromkeys(people)
            for item in system.read_models.inbox(today, person)
            if sites is None or item["site"] in sites
        ]
        items.sort(key=lambda i: (str(i["due_on"]), i["organization"], i["kind"]))
        return [_plain(i) for i in items]

    def report(self, name: str, **given: Any) -> Any:
        """A report by its command-line name (`report due` is "due"), with what it takes."""
        make, takes = REPORTS[name]
        args = {k: v for k, v in given.items() if k in takes and v is not None}
        if args.get("site") is not None:
            self.system.park.site(args["site"])
        self.system.read_models.catch_up()
        return _plain(make(self, args))

    # ---- rounds ---------------------------------------------------------------------------------

    def rounds(self) -> list[dict[str, Any]]:
        self.system.read_models.catch_up()
        return [_plain(r) for r in self.system.read_models.rounds()]

    def round(self, round_id: UUID, found: Round | None = None) -> dict[str, Any]:
        r = found if found is not None else self.round_of(round_id)
        self.system.read_models.catch_up()
        return _plain(round_view(r, self.system.read_models.funnel(str(r.id))))

    def ranking(self, round_id: UUID, found: Round | None = None) -> list[dict[str, Any]]:
        r = found if found is not None else self.round_of(round_id)
        self.system.read_models.catch_up()
        return [_plain(p) for p in self.system.read_models.ranking(str(r.id))]

    def project(self, project_id: UUID, found: Project | None = None) -> dict[str, Any]:
        p = found if found is not None else self.project_of(project_id)
        return _plain(project_view(p, self.system.park.rules, self.system.rounds.today()))

    def version(self, result: Result) -> int:
        return int(result.version)

    # ---- what a command answers ---------------------------------------------------------------

    def result(self, result: Result) -> dict[str, Any]:
        """The view of what a command changed (or created)."""
        system = self.system
        if isinstance(result, OrganizationCase):
            self._seen(result)
            today = system.service.today()
            return _plain(case_view(result, system.park, today, system.service.party_track(result)))
        if isinstance(result, PartyIncubation):
            return _plain(party_view(result))
        if isinstance(result, JointBranch):
            return _plain(branch_view(result))
        if isinstance(result, Round):
            system.read_models.catch_up()
            return _plain(round_view(result, system.read_models.funnel(str(result.id))))
        if isinstance(result, Account):
            return AccountView.of(result).as_json()
        assert isinstance(result, Project)
        return _plain(project_view(result, system.park.rules, system.rounds.today()))

    # ---- accounts -----------------------------------------------------------------------------

    def accounts(self) -> list[dict[str, Any]]:
        return [a.as_json() for a in self.system.accounts.accounts()]

    def account(self, name: str) -> dict[str, Any]:
        try:
            return AccountView.of(self.system.accounts.account(name)).as_json()
        except NotFound:  # the account the path names
            raise NotFound("no account named {name}", name=name) from None


def _occupancy(reads: Reads, args: dict[str, Any]) -> dict[str, Any]:
    park, site = reads.system.park, args.get("site")
    sites = [park.site(site)] if site else list(park.sites.values())
    held = reads.system.read_models.occupancy(site)
    summary = []
    for s in sites:
        taken = sum(1 for h in held if h["site"] == s.key)
        summary.append(
            {
                "site": s.key,
                "name": s.name,
                "workspaces": len(s.workspaces),
                "held": taken,
                "free": len(s.workspaces) - taken,
            }
        )
    return {"sites": summary, "held": held}


def _awards(reads: Reads, args: dict[str, Any]) -> dict[str, Any]:
    round_id = args.get("round")
    if round_id is not None:
        reads.system.rounds.round(round_id)  # a round, not a stray id
    return reads.system.read_models.awards(None if round_id is None else str(round_id))


Report = Callable[[Reads, dict[str, Any]], Any]
# Each report of `incubator report`, and the parameters it takes.
REPORTS: Mapping[str, tuple[Report, frozenset[str]]] = {
    "due": (lambda r, a: r.system.read_models.due(**a), frozenset({"until", "site"})),
    "occupancy": (_occupancy, frozenset({"site"})),
    "assignments": (
        lambda r, a: r.system.read_models.assignments(**a),
        frozenset({"caseworker"}),
    ),
    "stages": (lambda r, a: r.system.read_models.stage_stats(**a), frozenset({"site"})),
    "legal-status": (lambda r, a: r.system.read_models.legal_status(**a), frozenset({"site"})),
    "time-in-stage": (lambda r, a: r.system.read_models.time_in_stage(**a), frozenset({"track"})),
    "awards": (_awards, frozenset({"round"})),
    "party-coverage": (
        lambda r, a: r.system.read_models.party_coverage(**a),
        frozenset({"site"}),
    ),
}


def _plain(value: T) -> T:
    """Dates as ISO text, amounts as numbers exact to the cent, ids as text (as `--json`)."""
    return cast(T, json.loads(json.dumps(value, ensure_ascii=False, default=json_default)))


def _cursor(row: Mapping[str, Any]) -> str:
    key = [str(row["applied_on"]), row["name"], row["id"]]
    return base64.urlsafe_b64encode(json.dumps(key, ensure_ascii=False).encode()).decode()


def _after(cursor: str) -> tuple[date, str, str]:
    try:
        applied_on, name, case_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return date.fromisoformat(applied_on), str(name), str(UUID(case_id))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise Invalid(
            "cursor", cursor, "must be the next_cursor of the page before, as it was given"
        ) from None


__all__ = [
    "PAGE_LIMIT",
    "REPORTS",
    "NotFound",
    "Reads",
    "caseload_page",
    "caseload_rows",
    "found_page",
    "found_rows",
    "listed_page",
    "sorted_page",
    "sorted_rows",
]
