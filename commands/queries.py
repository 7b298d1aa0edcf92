"""What a case is now and what happened to it, read from the log (never written)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import compress
from operator import is_not
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateProtocol

from lifecycle.account import PASSWORD_SHOWN
from lifecycle.deadlines import deadlines_of
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import STEP_FIELDS, OrganizationCase
from lifecycle.park import Park, Rules
from lifecycle.party import PartyIncubation
from lifecycle.project import REPORT_CLOCKS, Project
from lifecycle.round import Round
from store.log import EventLog, event_data

SYSTEM_ACTOR = "system"  # what the system does by itself (reminders, automatic starts)
# Fields never shown as they are stored, in a history or anywhere (an account's password hash).
SECRET_FIELDS = frozenset({"password_hash"})


def case_view(
    case: OrganizationCase, park: Park, today: date, party: PartyIncubation | None = None
) -> dict[str, Any]:
    return {
        "id": str(case.id),
        "name": case.name,
        "track": case.track,
        "stage": case.stage,
        "site": case.site,
        "workspace": case.workspace,
        "field": case.field,
        "field_name": park.fields.get(case.field, case.field),
        "legal_status": case.legal_status,
        "filing": _dated_record(case.filing),
        "registration": _dated_record(case.registration),
        "caseworker": case.caseworker,
        "contact": case.contact,
        "party_members": case.party_members,
        "applied_on": case.applied_on.isoformat(),
        "entered_on": case.entered_on.isoformat() if case.entered_on else None,
        "growth_reviews": len(case.growth_reviews),
        "deadlines": [d.as_json() for d in deadlines_of(case, park.rules, today, party)],
        "allowed_commands": case.allowed_commands(),
        "version": case.version,
        "party": party_summary(party),
    }


def party_summary(track: PartyIncubation | None) -> dict[str, Any] | None:
    """The few facts of the party track that `org show` carries."""
    if track is None:
        return None
    return {
        "stage": track.stage,
        "formal_members": track.formal,
        "branch": _branch(track)["kind"],
        "stars": track.stars,
        "rated_on": _iso(track.rated_on),
    }


def party_view(track: PartyIncubation) -> dict[str, Any]:
    return {
        "id": str(track.id),
        "case_id": str(track.case_id),
        "organization": track.org_name,
        "site": track.site,
        "stage": track.stage,
        "started_on": track.started_on.isoformat(),
        "formal_members": track.formal,
        "probationary_members": track.probationary,
        "transferred": track.transferred,
        "instructor": track.instructor,
        "branch": _branch(track),
        "stars": track.stars,
        "rated_on": _iso(track.rated_on),
        "rating_note": track.rating_note,
        "supports": [_dated(s) for s in track.supports],
        "developments": [_dated(d) for d in track.developments],
        "services": [_dated(s) for s in track.services],
        "ended_on": _iso(track.ended_on),
        "allowed_commands": track.allowed_commands(),
        "version": track.version,
    }


def branch_view(branch: JointBranch) -> dict[str, Any]:
    return {
        "id": str(branch.id),
        "name": branch.name,
        "site": branch.site,
        "created_on": branch.opened_on.isoformat(),
        "formal_members": branch.formal_total,
        "constituted": branch.constituted,
        "constituted_on": _iso(branch.constituted_on),  # since when, while it is
        "members": [
            {"case_id": key, "organization": branch.member_names[key], "formal_members": formal}
            for key, formal in branch.members.items()
        ],
    }


def round_view(r: Round, projects: dict[str, int]) -> dict[str, Any]:
    """A round now; `projects`: how many were submitted, screened in or out, awarded, declined."""
    return {
        "id": str(r.id),
        "name": r.name,
        "fund": r.fund,
        "awarded_total": r.awarded_total,
        "remaining": r.remaining,
        "projects": projects,
        "stage": r.stage,
        "opens_on": r.opens_on.isoformat(),
        "closes_on": r.closes_on.isoformat(),
        "max_award": r.max_award,
        "pass_mark": r.pass_mark,
        "min_scores": r.min_scores,
        "site": r.site,
        "panel": [
            {
                "expert": expert,
                "conflicts": [{"org": org, "name": name} for org, name in declared.items()],
            }
            for expert, declared in r.panel.items()
        ],
        "allowed_commands": r.allowed_commands(),
        "version": r.version,
    }


def project_view(p: Project, rules: Rules, today: date) -> dict[str, Any]:
    """A project now; its reports' deadlines as of `today`."""
    due = {d.kind: d for d in p.deadlines(rules, today)}
    return {
        "id": str(p.id),
        "round": str(p.round_id),
        "org": str(p.org_id),
        "org_name": p.org_name,
        "org_site": p.org_site,
        "title": p.title,
        "category": p.category,
        "amount": p.amount,
        "status": p.stage,
        "submitted_on": p.submitted_on.isoformat(),
        "scores": len(p.scores),
        "mean": p.mean,
        "score_by_expert": dict(p.scores),
        "conflicts": list(p.conflicts),
        "awarded": p.awarded,
        "awarded_on": _iso(p.awarded_on),
        "disbursed": p.disbursed,
        "tranches": p.tranches,
        "milestones": [
            {
                "kind": kind,
                "due_on": due[clock].due_on.isoformat(),
                "status": due[clock].status,
                "reported_on": _iso(p.reports.get(kind)),
            }
            for kind, clock in REPORT_CLOCKS.items()
            if clock in due
        ],
        "stopped_on": _iso(p.stopped_on),
        "allowed_commands": p.allowed_commands(),
        "version": p.version,
    }


def _branch(track: PartyIncubation) -> dict[str, Any]:
    return {
        "kind": track.branch_kind or "none",
        "id": str(track.branch_id) if track.branch_id else None,
        "name": track.branch_name,
    }


def _dated_record(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A filing or registration; its date is unknown when it came with an imported case."""
    return None if record is None else {**record, "on": _iso(record["on"])}


def _dated(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "on": record["on"].isoformat()}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def history(
    log: EventLog, case_id: UUID, reminders: Sequence[UUID] = (), projects: Sequence[UUID] = ()
) -> list[dict[str, Any]]:
    """The events of a case (or of a party track, a joint branch, a round), oldest first; with
    the events of its `reminders` (issued, escalated, mailed) and of a round's `projects` among
    them, by time written."""
    own = _entries(log, case_id)
    others = [entry for r in reminders for entry in _entries(log, r, aggregate="reminder")]
    others += [entry for p in projects for entry in _entries(log, p, aggregate="project")]
    if not others:
        return own
    return sorted(own + others, key=_written_order)


def _entries(
    log: EventLog, aggregate_id: UUID, aggregate: str | None = None
) -> list[dict[str, Any]]:
    """Each event of one aggregate, with what it changed: the aggregate is replayed event by
    event (as the log's own events say; nothing else is read)."""
    entries: list[dict[str, Any]] = []
    state: Aggregate | None = None
    before: dict[str, Any] = {}
    for event in log.events.get(aggregate_id):
        state = cast(CanMutateProtocol[Aggregate], event).mutate(state)
        after = _fields(state)
        entry = _entry(event, aggregate)
        entry["changed"] = _changed(before, after)
        entries.append(entry)
        before = after  # a copy: events assign new values, they never change one in place
    return entries


def _fields(aggregate: Any) -> dict[str, Any]:
    """The aggregate's fields, the library's own (`_id`, `_version`...) among them: `_changed`
    leaves those out."""
    return masked(vars(aggregate))


def masked(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with each secret one shown as set (or None), never as it is stored."""
    if SECRET_FIELDS.isdisjoint(fields):
        return dict(fields)
    return {
        k: (PASSWORD_SHOWN if v is not None else None) if k in SECRET_FIELDS else v
        for k, v in fields.items()
    }


_UNSET = object()


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields an event changed, before and after (a new aggregate: the ones it set)."""
    changed = {}
    for name in _touched(before, after):
        old, value = before.get(name, _UNSET), after[name]
        if old is value or name[0] == "_":  # the library's own: `_version`, `_modified_on`...
            continue
        if (old is _UNSET and value is not None) or (old is not _UNSET and old != value):
            changed[name] = {"before": None if old is _UNSET else old, "after": value}
    return changed


def _touched(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields whose value is not the very same object as before: most fields of a replayed
    aggregate are untouched by an event. The fields keep their order from one state to the next
    (new ones come last), so the values are compared place by place, in C."""
    names = list(after)
    if names[: len(before)] != list(before):  # a field was removed: every one is a candidate
        return names
    same_place = compress(names, map(is_not, before.values(), after.values()))
    return [*same_place, *names[len(before) :]]


def _written_order(entry: dict[str, Any]) -> tuple[str, str, str, int]:
    """By when written; under a clock that stood still (a fixed clock), by business date, then
    by when each reminder was scheduled, reminders (earliest first) before escalations."""
    data = entry["data"]
    step = str(data.get("step", ""))
    order = -int(step.split("-")[1]) if step.startswith("remind-") else int(data.get("level", 0))
    return (entry["recorded_at"], entry["on"] or "", str(data.get("scheduled_at", "")), order)


def _entry(event: Any, aggregate: str | None = None) -> dict[str, Any]:
    data = event_data(event, skip=STEP_FIELDS)  # a new dict: masked only if it holds a secret
    entry = {
        "version": event.originator_version,
        "type": type(event).__name__,
        "on": event.on.isoformat() if hasattr(event, "on") else None,
        "recorded_at": event.timestamp.isoformat(),
        "actor": getattr(event, "actor", SYSTEM_ACTOR),
        "role": getattr(event, "role", None),
        "rehearsal": bool(getattr(event, "rehearsal", False)),  # written under a fixed clock
        "reason": getattr(event, "reason", None),
        "data": data if SECRET_FIELDS.isdisjoint(data) else masked(data),
    }
    if aggregate:
        entry["of"] = {"aggregate": aggregate, "id": str(event.originator_id)}
    return entry
