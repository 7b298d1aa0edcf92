"""Tables for people: a case, its history, the caseload."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from cli import plain
from lifecycle.bounds import neutral
from lifecycle.stages import PARTY_STAGE_NAMES_ZH, STAGE_NAMES_ZH

if TYPE_CHECKING:
    from rich.console import Console

    from commands.paging import Page

# A cell's text, and the style it is shown in on a terminal ("" for none).
Cell = str | tuple[str, str]


@cache
def _console() -> Console:
    """rich's console, imported when first needed: piped output that plain text lays out as
    rich would (cli/plain.py) never needs it."""
    from rich.console import Console

    # Piped output is not cut to 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else plain.WIDTH)


def __getattr__(name: str) -> Any:
    if name == "console":  # `from cli.render import console`: made on first use
        return _console()
    raise AttributeError(name)


def _t(value: Any) -> str:
    """Data as shown: control characters made visible."""
    return neutral("—" if value is None else str(value))


def _s(value: Any) -> str:
    """Data as Rich prints it: neither markup ([bold]) nor control characters act."""
    from rich.markup import escape

    return escape(_t(value))


def _table(
    rows: Sequence[Sequence[Cell]],
    header: Sequence[str] | None = None,
    title: tuple[str, Callable[[], str]] | None = None,
    keys: bool = False,
) -> None:
    """A box.SIMPLE table of cells (their text as shown); `title` as text and as rich's
    markup (made only for rich: escaping imports it); `keys`: the first column, the names of
    the second's values, in bold. Printed as plain text where that is what rich would print
    (cli/plain.py), else by rich."""
    if plain.wanted():
        text = plain.table(
            [[c if isinstance(c, str) else c[0] for c in r] for r in rows],
            header,
            title[0] if title else None,
        )
        if text is not None:
            sys.stdout.write(text)
            return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        *(header or ()),
        box=box.SIMPLE,
        show_header=header is not None,
        title=title[1]() if title else None,
    )
    if keys:
        table.add_column(style="bold")
        table.add_column()
    for r in rows:
        table.add_row(
            *(
                escape(c)
                if isinstance(c, str)
                else (f"[{c[1]}]{escape(c[0])}[/]" if c[1] else escape(c[0]))
                for c in r
            )
        )
    _console().print(table)


def _line(text: str, markup: Callable[[], str], soft_wrap: bool = False) -> None:
    """A line of text (as `markup()` for rich); plain where rich would print it as it is."""
    if plain.wanted():
        shown = plain.line(text, soft_wrap)
        if shown is not None:
            sys.stdout.write(shown)
            return
    _console().print(markup(), soft_wrap=soft_wrap)


def _stage(stage: str) -> str:
    return f"{stage} {STAGE_NAMES_ZH.get(stage, '')}".strip()


def render_case(view: dict[str, Any]) -> None:
    rows = [
        ("stage", _stage(view["stage"])),
        ("track", view["track"]),
        ("site", view["site"]),
        ("workspace", view["workspace"]),
        ("field", f"{view['field']} {view['field_name']}"),
        ("legal status", _legal_status(view)),
        ("caseworker", view["caseworker"]),
        ("contact", view["contact"]),
        ("party members", view["party_members"]),
        ("applied on", view["applied_on"]),
        ("entered on", view["entered_on"]),
        ("growth reviews", view["growth_reviews"]),
        ("party track", _party_summary(view["party"])),
        ("next commands", _next(view.get("allowed_commands"), "case")),
    ]
    title = (f"{_t(view['name'])}  {view['id']}", lambda: f"{_s(view['name'])}  {view['id']}")
    _table([(key, _t(value)) for key, value in rows], title=title, keys=True)
    if view["deadlines"]:
        styles = {"overdue": "red", "pending": "yellow"}
        _table(
            [
                (
                    _t(d["kind"]),
                    _t(d["due_on"]),
                    (d["status"], styles.get(d["status"], "")),
                    _t(d["met_on"]),
                )
                for d in view["deadlines"]
            ],
            header=("deadline", "due on", "status", "met on"),
        )


def _legal_status(view: dict[str, Any]) -> str:
    """The status with what made it so: 备案 number, or the credit code of its registration."""
    status, filing, registration = view["legal_status"], view["filing"], view["registration"]
    if status == "registered" and registration:
        return (
            f"registered 登记 {registration['credit_code']} ({registration['authority']}, "
            f"{registration['on']})"
        )
    if status == "filed" and filing:
        return f"filed 备案 {filing['number']} ({filing['authority']}, {filing['on']})"
    return {"unregistered": "unregistered 未登记", "filed": "filed 备案"}.get(
        status, "registered 登记"
    )


def _party_summary(party: dict[str, Any] | None) -> str | None:
    if party is None:
        return None
    members = (
        "members not counted"
        if party["formal_members"] is None
        else (f"{party['formal_members']} formal members")
    )
    stars = f"{party['stars']}★ ({party['rated_on']})" if party["stars"] else "not rated"
    branch = {"none": "no branch", "joint": "joint branch", "independent": "own branch"}
    return (
        f"{party['stage']} {PARTY_STAGE_NAMES_ZH[party['stage']]} · {members} · "
        f"{branch[party['branch']]} · {stars}"
    )


def render_party(view: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    console = _console()
    title = f"{_s(view['organization'])}  party track {view['id']}"
    table = Table(box=box.SIMPLE, show_header=False, title=title)
    table.add_column(style="bold")
    table.add_column()
    branch = view["branch"]
    rows = [
        ("stage", f"{view['stage']} {PARTY_STAGE_NAMES_ZH[view['stage']]}"),
        ("site", view["site"]),
        ("started on", view["started_on"]),
        ("formal members", view["formal_members"]),
        ("probationary", view["probationary_members"]),
        ("relations transferred", view["transferred"]),
        ("instructor", view["instructor"]),
        (
            "branch",
            None
            if branch["kind"] == "none"
            else f"{branch['kind']}: {branch['name']} ({branch['id']})",
        ),
        (
            "stars",
            f"{view['stars']} ({view['rated_on']}: {view['rating_note']})"
            if view["stars"]
            else None,
        ),
        ("next commands", _next(view.get("allowed_commands"), "track")),
    ]
    for key, value in rows:
        table.add_row(key, _s(value))
    console.print(table)
    records = [
        *(("support", r) for r in view["supports"]),
        *(("development", r) for r in view["developments"]),
        *(("service", r) for r in view["services"]),
    ]
    if records:
        done = Table("on", "record", "kind", "note", box=box.SIMPLE)
        for what, r in sorted(records, key=lambda pair: pair[1]["on"]):
            done.add_row(_s(r["on"]), what, _s(r.get("kind")), _s(r["note"]))
        console.print(done)


def render_history(name: str, events: list[dict[str, Any]]) -> None:
    console = _console()
    console.print(f"[bold]{_s(name)}[/]: {len(events)} events, oldest first")
    for e in events:
        recorded = e["recorded_at"][:19].replace("T", " ")
        if e.get("rehearsal"):
            recorded += " UTC, rehearsal clock"  # INCUBATOR_NOW: not when it was really written
        else:
            recorded += " UTC"
        # a reminder's events are numbered on the reminder, not on the case
        number = f"#{e['version']:<3}" if "of" not in e else _related_mark(e)
        console.print(
            f"[bold]{number}[/] {e['on'] or ' ' * 10}  [cyan]{_s(e['type'])}[/]  "
            f"by {_s(e['actor'])}  [dim](recorded {_s(recorded)})[/]"
        )
        same = ("case_id", "organization", "site") if "of" in e else ()
        details = " · ".join(
            f"{k}: {_value(v)}" for k, v in e["data"].items() if v is not None and k not in same
        )
        if details:
            console.print(f"     {_s(details)}", soft_wrap=True)
        if e["reason"]:
            console.print(f"     reason: {_s(e['reason'])}", soft_wrap=True)
        if e.get("changed") and e["version"] > 1:
            moved = " · ".join(_change(k, c["before"], c["after"]) for k, c in e["changed"].items())
            console.print(f"     [dim]changed {_s(moved)}[/]", soft_wrap=True)


def _related_mark(entry: dict[str, Any]) -> str:
    """A reminder's event is marked with a clock; a project's, in a round's history, with
    the first characters of the project's id."""
    if entry["of"]["aggregate"] == "reminder":
        return "  ⏰"
    return f"  {entry['of']['id'][:4]}#{entry['version']}"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "—"
    return str(value)


def _change(name: str, before: Any, after: Any) -> str:
    """A field before and after; of a mapping that grows (a round's projects, its panel) only
    the entries that came, changed or went, so a long one is not printed whole each time."""
    if isinstance(after, dict) and isinstance(before, dict | None):
        old = before or {}
        came = [f"+{k} {_value(v)}" for k, v in after.items() if old.get(k, _GONE) != v]
        went = [f"−{k}" for k in old if k not in after]
        return f"{name}: {', '.join(came + went)}"
    return f"{name}: {_value(before)} → {_value(after)}"


_GONE = object()


def render_caseload(rows: list[dict[str, Any]], page: Page | None = None) -> None:
    """The cases of a page, said which of how many, and how to see the others."""
    title = f"caseload: {page.shown('cases') if page else f'{len(rows)} cases'}"
    _table(
        [
            (
                # ⚠: the read model could not apply all of this case's events (a warning follows)
                _t(r["id"][:8]) + (" ⚠" if r.get("anomaly") else ""),
                _t(r["name"]),
                _t(r["track"]),
                _t(_stage(r["stage"])),
                _t(r.get("legal_status")),
                _t(r["site"]),
                _t(r["workspace"]),
                _t(r["caseworker"]),
                _t(r["entered_on"]),
            )
            for r in rows
        ],
        header=(
            "id",
            "name",
            "track",
            "stage",
            "legal status",
            "site",
            "workspace",
            "caseworker",
            "entered on",
        ),
        title=(title, lambda: title),
    )
    _more(page)


def render_rows(title: str, rows: list[dict[str, Any]], page: Page | None = None) -> None:
    """Any list of flat records as a table; of a `page`, said which of how many, and how to
    see the others."""
    shown = page.shown() if page else str(len(rows))
    if not rows:
        said = shown if page else "none"
        _line(f"{_t(title)}: {said}", lambda: f"{_s(title)}: {said}")
    else:
        _table(
            [[_t(v) for v in row.values()] for row in rows],
            header=list(rows[0].keys()),
            title=(f"{_t(title)}: {shown}", lambda: f"{_s(title)}: {shown}"),
        )
    _more(page)


def _more(page: Page | None) -> None:
    more = page.more() if page else None
    if more:
        _line(_t(more), lambda: _s(more), soft_wrap=True)


def _next(allowed: list[str] | None, what: str) -> str:
    if allowed is None:  # a case as of a date: what it could do then is not asked
        return "—"
    return ", ".join(allowed) or f"none (the {what} has ended)"


def _yuan(amount: Any) -> str:
    return "—" if amount is None else f"{amount:,.2f} 元"


def render_round(view: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    console = _console()
    table = Table(box=box.SIMPLE, show_header=False, title=f"{_s(view['name'])}  {view['id']}")
    table.add_column(style="bold")
    table.add_column()
    counts = view["projects"]
    rows = [
        ("stage", view["stage"]),
        ("fund", _yuan(view["fund"])),
        ("awarded", _yuan(view["awarded_total"])),
        ("remaining", _yuan(view["remaining"])),
        ("submissions", f"{view['opens_on']} … {view['closes_on']}"),
        ("max per project", _yuan(view["max_award"])),
        ("award needs", f"{view['min_scores']} scores, mean ≥ {view['pass_mark']}"),
        ("site", view["site"]),
        (
            "projects",
            f"{counts['submitted']} submitted · {counts['screened_in']} screened in · "
            f"{counts['screened_out']} screened out · {counts['awarded']} awarded · "
            f"{counts['declined']} declined",
        ),
        ("next commands", _next(view.get("allowed_commands"), "round")),
    ]
    for key, value in rows:
        table.add_row(key, _s(value))
    console.print(table)
    if view["panel"]:
        panel = Table("expert", "declared conflicts (关联回避)", box=box.SIMPLE, title="panel")
        for member in view["panel"]:
            conflicts = ", ".join(c["name"] for c in member["conflicts"]) or None
            panel.add_row(_s(member["expert"]), _s(conflicts))
        console.print(panel)


def render_project(view: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    from lifecycle.stages import PROJECT_STAGE_NAMES_ZH

    console = _console()

    title = f"{_s(view['title'])} ({_s(view['org_name'])})  {view['id']}"
    table = Table(box=box.SIMPLE, show_header=False, title=title)
    table.add_column(style="bold")
    table.add_column()
    scores = ", ".join(f"{e} {s}" for e, s in view["score_by_expert"].items()) or None
    rows = [
        ("status", f"{view['status']} {PROJECT_STAGE_NAMES_ZH[view['status']]}"),
        ("round", view["round"]),
        ("category", view["category"]),
        ("asked", _yuan(view["amount"])),
        ("scores", scores),
        ("mean", view["mean"]),
        ("conflicts", ", ".join(view["conflicts"]) or None),
        ("awarded", _yuan(view["awarded"])),
        ("paid", f"{_yuan(view['disbursed'])} in {view['tranches']} tranche(s)"),
        ("stopped on", view["stopped_on"]),
        ("next commands", _next(view.get("allowed_commands"), "project")),
    ]
    for key, value in rows:
        table.add_row(key, _s(value))
    console.print(table)
    if view["milestones"]:
        reports = Table("report", "due on", "status", "came in", box=box.SIMPLE)
        for m in view["milestones"]:
            reports.add_row(_s(m["kind"]), _s(m["due_on"]), _s(m["status"]), _s(m["reported_on"]))
        console.print(reports)


def render_projects(rows: list[dict[str, Any]]) -> None:
    """An organization's projects in the rounds (under `org show`)."""
    if not rows:
        return
    _table(
        [
            (
                _t(p["id"][:8]),
                _t(p["round_name"]),
                _t(p["title"]),
                _t(p["status"]),
                _t(_yuan(p["amount"])),
                _t(_yuan(p["awarded"])),
            )
            for p in rows
        ],
        header=("project", "round", "title", "status", "asked", "awarded"),
        title=("projects", lambda: "projects"),
    )
