"""Charts where people would rather look than read (issue #15): a cohort's stage funnel, its
in-shell periods as a Gantt chart, workspace occupancy and party coverage per site.

Each takes the rows of a read model as the system's reads give them
(`read_models.cohort_funnel()`, `in_shell()`, `occupancy_by_site()`, `party_coverage_by_site()`)
and the page's language, and returns a `Picture`: the SVG and the table behind it. Nothing
here reads a clock: the Gantt chart is told what day it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from lifecycle.park import Park
from web import labels
from web.i18n import Lang
from web.svg import (
    BLUE,
    GREEN,
    GREY,
    GRID,
    MUTED,
    ORANGE,
    PALE,
    PALE_BLUE,
    RED,
    Picture,
    add,
    canvas,
    no_data,
    picture,
    shortened,
    text_width,
    tooltip,
)

WIDTH = 720
STEPS = (
    "applied",
    "entered",
    "exited",
    "closed",
)  # a cohort's funnel, as the read model names them


def _step_names(lang: Lang) -> dict[str, str]:
    return {
        "applied": lang.gettext("Applied"),
        "entered": lang.gettext("Entered the shell"),
        "exited": lang.gettext("Exited successfully"),
        "closed": lang.gettext("Closed after follow-up"),
    }


# ---- the stage funnel of a cohort --------------------------------------------------------------


def funnel(cohort: Mapping[str, Any], lang: Lang, by: str = "applied") -> Picture:
    """The funnel of one year's cohort (a row of `cohort_funnel(by=...)`): how many applied,
    entered the shell, exited it successfully and closed, each bar as wide as its count."""
    if by == "applied":
        title = lang.gettext("Stage funnel of the cases that applied in {year}")
    else:
        title = lang.gettext("Stage funnel of the cases that entered in {year}")
    title = title.format(year=cohort["year"])
    names = _step_names(lang)
    first = max(int(cohort[STEPS[0]]), 1)
    label_width = max(text_width(names[s]) for s in STEPS) + 24
    bar_width, row = WIDTH - label_width - 150, 40
    root = canvas(WIDTH, 24 + row * len(STEPS), title, "funnel")
    rows = []
    for i, step in enumerate(STEPS):
        count = int(cohort[step])
        share = count / first
        width = bar_width * share
        y = 12 + i * row
        add(root, "text", names[step], x=label_width - 12, y=y + 22, text_anchor="end")
        bar = add(
            root,
            "rect",
            x=label_width + (bar_width - width) / 2,
            y=y,
            width=max(width, 1),
            height=row - 8,
            rx=3,
            fill=BLUE if step != "closed" else GREEN,
            class_="bar",
            data_step=step,
            data_value=count,
        )
        shown = f"{lang.number(count)} ({lang.percent(share)})"
        tooltip(bar, f"{names[step]}: {shown}")
        add(root, "text", shown, x=label_width + bar_width + 12, y=y + 22)
        rows.append((names[step], lang.number(count), lang.percent(share)))
    columns = (lang.gettext("Step"), lang.gettext("Cases"), lang.gettext("Share of applicants"))
    return picture(root, title, columns, rows)


# ---- the in-shell periods of a cohort ----------------------------------------------------------


def in_shell(
    periods: Sequence[Mapping[str, Any]], today: date, lang: Lang, park: Park | None = None
) -> Picture:
    """A Gantt chart of in-shell periods (rows of `in_shell()`): a bar per organization from its
    entry to the day it left (to `today` while it is in the shell, then its exit deadline,
    dashed), its exit deadline marked, and a line at `today`."""
    title = lang.gettext("In-shell periods and exit deadlines")
    columns = (
        lang.gettext("Organization"),
        lang.gettext("Site"),
        lang.gettext("Entered"),
        lang.gettext("Exit deadline"),
        lang.gettext("Left"),
        lang.gettext("Stage"),
    )
    if not periods:
        root = no_data(WIDTH, title, "gantt", lang.gettext("No organization entered."))
        return picture(root, title, columns, [])
    first = min(p["entered_on"] for p in periods)
    last = max(max(p["left_on"] or today, p["exit_due"] or today, today) for p in periods)
    start, end = _month_start(first), _month_start(_next_month(last))
    names = [p["name"] for p in periods]
    label_width = min(max(text_width(n) for n in names), 200) + 16
    chart = WIDTH - label_width - 16
    row, top = 26, 36
    days = (end - start).days

    def x(day: date) -> float:
        return label_width + chart * (day - start).days / days

    bottom = top + row * len(periods)
    root = canvas(WIDTH, bottom + 70, title, "gantt")
    _months(root, lang, start, end, x, top, bottom)
    for i, period in enumerate(periods):
        _period(root, lang, period, today, x, top + i * row, label_width, park)
    add(
        root,
        "line",
        x1=x(today),
        x2=x(today),
        y1=top - 4,
        y2=bottom + 6,
        stroke=RED,
        stroke_width=2,
        stroke_dasharray="4 3",
        class_="today",
        data_day=today.isoformat(),
    )
    said = lang.gettext("Today") + " " + lang.date(today)
    anchor = "end" if x(today) + text_width(said, 11) > WIDTH - 4 else "start"
    shift = -4 if anchor == "end" else 4
    add(
        root,
        "text",
        said,
        x=x(today) + shift,
        y=bottom + 18,
        fill=RED,
        font_size=11,
        text_anchor=anchor,
    )
    _gantt_legend(root, lang, bottom + 40)
    rows = [
        (
            p["name"],
            labels.site(park, p["site"]) if park else p["site"],
            lang.date(p["entered_on"]),
            lang.date(p["exit_due"]),
            lang.date(p["left_on"]),
            labels.stage(lang, p["stage"]),
        )
        for p in periods
    ]
    return picture(root, title, columns, rows)


def _period(
    root: Any,
    lang: Lang,
    period: Mapping[str, Any],
    today: date,
    x: Any,
    y: float,
    label_width: float,
    park: Park | None,
) -> None:
    entered, left, due = period["entered_on"], period["left_on"], period["exit_due"]
    group = add(root, "g", class_="period", data_case=period["id"])
    add(group, "text", shortened(period["name"], label_width - 16), x=4, y=y + 16)
    end = left or today
    overdue = left is None and due is not None and today > due
    colour = GREEN if period["left_to"] == "follow_up" else GREY if left else BLUE
    bar = add(
        group,
        "rect",
        x=x(entered),
        y=y + 4,
        width=max(x(end) - x(entered), 2),
        height=16,
        rx=2,
        fill=RED if overdue else colour,
        class_="bar overdue" if overdue else "bar",
        data_from=entered.isoformat(),
        data_to=end.isoformat(),
    )
    site = labels.site(park, period["site"]) if park else period["site"]
    said = f"{period['name']} ({site}): {lang.date(entered)} – {lang.date(left) or '…'}"
    if left:
        said += f", {labels.stage(lang, period['left_to'])}"
    if due:
        said += "; " + lang.gettext("exit deadline {day}").format(day=lang.date(due))
    if overdue:
        said += "; " + lang.gettext("overdue")
    tooltip(bar, said)
    if left is None and due is not None and due > today:
        add(
            group,
            "rect",
            x=x(today),
            y=y + 4,
            width=max(x(due) - x(today), 1),
            height=16,
            rx=2,
            fill=PALE_BLUE,
            stroke=BLUE,
            stroke_dasharray="3 2",
            class_="planned",
        )
    if due is not None:
        cx, cy = x(due), y + 12
        marker = add(
            group,
            "path",
            d=f"M{cx:.1f} {cy - 7:.1f} L{cx + 6:.1f} {cy:.1f} L{cx:.1f} {cy + 7:.1f} "
            f"L{cx - 6:.1f} {cy:.1f} Z",
            fill=ORANGE,
            stroke="#ffffff",
            class_="deadline",
            data_day=due.isoformat(),
        )
        tooltip(marker, lang.gettext("exit deadline {day}").format(day=lang.date(due)))


def _gantt_legend(root: Any, lang: Lang, y: float) -> None:
    """What the colours and marks mean."""
    keys = (
        ("rect", BLUE, lang.gettext("in the shell")),
        ("rect", RED, lang.gettext("past its exit deadline")),
        ("rect", GREEN, lang.gettext("exited successfully")),
        ("rect", GREY, lang.gettext("left otherwise")),
        ("planned", PALE_BLUE, lang.gettext("until the exit deadline")),
        ("diamond", ORANGE, lang.gettext("exit deadline")),
    )
    group = add(root, "g", class_="legend", font_size=11)
    x = 4.0
    for shape, colour, said in keys:
        if x + 18 + text_width(said, 11) > WIDTH:  # on the next line
            x, y = 4.0, y + 18
        if shape == "diamond":
            add(
                group,
                "path",
                d=f"M{x + 6} {y - 10} L{x + 12} {y - 4} L{x + 6} {y + 2} L{x} {y - 4} Z",
                fill=colour,
            )
        else:
            dashed = {"stroke": BLUE, "stroke_dasharray": "3 2"} if shape == "planned" else {}
            add(group, "rect", x=x, y=y - 10, width=14, height=10, fill=colour, **dashed)
        add(group, "text", said, x=x + 18, y=y)
        x += 18 + text_width(said, 11) + 16


def _months(
    root: Any, lang: Lang, start: date, end: date, x: Any, top: float, bottom: float
) -> None:
    """Gridlines at the months, labelled: every month, or every 2, 3, 6 or 12 where the labels
    would not fit."""
    months = max((end.year - start.year) * 12 + end.month - start.month, 1)
    per_month = (x(end) - x(start)) / months
    wanted = text_width(lang.month(start), 11) + 10
    every = next((n for n in (1, 2, 3, 6, 12) if n * per_month >= wanted), 12)
    day = start
    while day <= end:
        if (day.month - 1) % every == 0:
            add(root, "line", x1=x(day), x2=x(day), y1=top - 4, y2=bottom, stroke=GRID)
            said = lang.month(day)
            if day < end and x(day) + 3 + text_width(said, 11) <= WIDTH:
                add(
                    root,
                    "text",
                    said,
                    x=x(day) + 3,
                    y=top - 12,
                    fill=MUTED,
                    font_size=11,
                )
        day = _next_month(day)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# ---- shares per site: workspaces held, organizations covered ----------------------------------


def occupancy(sites: Sequence[Mapping[str, Any]], lang: Lang, park: Park | None = None) -> Picture:
    """Per site (rows of `occupancy_by_site()`): its workspaces held of all it has."""
    title = lang.gettext("Workspace occupancy per site")
    columns = (
        lang.gettext("Site"),
        lang.gettext("Workspaces held"),
        lang.gettext("Workspaces"),
        lang.gettext("Share held"),
    )
    return _shares(sites, "held", "total", title, columns, lang, park, "occupancy")


def party_coverage(
    sites: Sequence[Mapping[str, Any]], lang: Lang, park: Park | None = None
) -> Picture:
    """Per site (rows of `party_coverage_by_site()`): its organizations in the park with a
    party track, of all it has (入驻一家, 覆盖一家)."""
    title = lang.gettext("Party coverage per site")
    columns = (
        lang.gettext("Site"),
        lang.gettext("Covered"),
        lang.gettext("Organizations in the park"),
        lang.gettext("Share covered"),
    )
    return _shares(sites, "covered", "organizations", title, columns, lang, park, "coverage")


def _shares(
    sites: Sequence[Mapping[str, Any]],
    part: str,
    whole: str,
    title: str,
    columns: tuple[str, ...],
    lang: Lang,
    park: Park | None,
    kind: str,
) -> Picture:
    if not sites:
        return picture(no_data(WIDTH, title, kind, lang.gettext("No site.")), title, columns, [])
    names = [labels.site(park, s["site"]) if park else s["site"] for s in sites]
    label_width = min(max(text_width(n) for n in names), 220) + 20
    bar_width, row = WIDTH - label_width - 130, 30
    root = canvas(WIDTH, 16 + row * len(sites), title, kind)
    rows = []
    for i, (site, name) in enumerate(zip(sites, names, strict=True)):
        y = 8 + i * row
        held, total = int(site[part]), int(site[whole])
        share = held / total if total else None
        group = add(root, "g", class_="site", data_site=site["site"])
        add(
            group,
            "text",
            shortened(name, label_width - 16),
            x=label_width - 10,
            y=y + 17,
            text_anchor="end",
        )
        add(
            group,
            "rect",
            x=label_width,
            y=y + 3,
            width=bar_width,
            height=18,
            fill=PALE,
            class_="track",
        )
        bar = add(
            group,
            "rect",
            x=label_width,
            y=y + 3,
            width=bar_width * (share or 0),
            height=18,
            fill=BLUE,
            class_="bar",
            data_value=held,
            data_total=total,
        )
        shown = f"{lang.number(held)} / {lang.number(total)}"
        if share is not None:
            shown += f" ({lang.percent(share)})"
        tooltip(bar, f"{name}: {shown}")
        add(group, "text", shown, x=label_width + bar_width + 10, y=y + 17)
        rows.append(
            (
                name,
                lang.number(held),
                lang.number(total),
                lang.percent(share) if share is not None else "—",
            )
        )
    return picture(root, title, columns, rows)
