"""The web's pictures (issue #15): SVG drawn on the server from the read models and from the
state machines, readable in Chinese, each with the table behind it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from lifecycle.stages import PARTY, Workflow
from tests.cohort import TODAY, Known, known_cohort
from web import charts, labels
from web.diagram import state_diagram
from web.i18n import EN, ZH, lang
from web.svg import SVG, Picture

NS = {"svg": SVG}
ZH_LANG, EN_LANG = lang(ZH), lang(EN)


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Known]:
    cohort = known_cohort(tmp_path_factory.mktemp("pictures"))
    yield cohort
    cohort.system.close_all()


def parsed(picture: Picture) -> ET.Element:
    """The picture's SVG as XML, checked for what every picture must have."""
    root = ET.fromstring(str(picture.svg))
    assert root.tag == f"{{{SVG}}}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == picture.title
    assert root.findtext("svg:title", namespaces=NS) == picture.title
    assert "Noto Sans CJK SC" in (root.get("font-family") or "")
    assert "http" not in str(picture.svg).replace(SVG, "")  # nothing loaded from elsewhere
    assert all(len(row) == len(picture.columns) for row in picture.rows)
    return root


def by_class(root: ET.Element, tag: str, name: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{{SVG}}}{tag}") if name in (e.get("class") or "").split()]


def texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{{{SVG}}}text")]


def view_box(root: ET.Element) -> tuple[float, float]:
    _, _, width, height = (float(v) for v in (root.get("viewBox") or "").split())
    return width, height


# ---- the stage funnel -------------------------------------------------------------------------


def test_the_funnel_of_a_cohort_has_a_bar_per_step_as_long_as_its_count(known: Known) -> None:
    cohort = known.system.read_models.cohort_funnel()[0]
    assert cohort["year"] == 2014
    picture = charts.funnel(cohort, ZH_LANG)
    root = parsed(picture)
    bars = by_class(root, "rect", "bar")
    assert [(b.get("data-step"), int(b.get("data-value") or -1)) for b in bars] == [
        ("applied", 6),
        ("entered", 4),
        ("exited", 1),
        ("closed", 1),
    ]
    widths = [float(b.get("width") or 0) for b in bars]
    assert widths[0] == pytest.approx(widths[1] * 6 / 4, abs=0.2)  # to a tenth of a pixel
    assert picture.title == "2014 年申请的机构：各阶段漏斗"
    assert picture.columns == ("环节", "机构数", "占申请数")
    assert picture.rows == (
        ("申请", "6", "100%"),
        ("入壳", "4", "67%"),
        ("成功出壳", "1", "17%"),
        ("后续服务后结案", "1", "17%"),
    )
    by_entry = charts.funnel(
        known.system.read_models.cohort_funnel(by="entered")[1], EN_LANG, "entered"
    )
    assert by_entry.title == "Stage funnel of the cases that entered in 2015"
    assert [b.get("data-value") for b in by_class(parsed(by_entry), "rect", "bar")] == [
        "1",
        "1",
        "0",
        "0",
    ]


# ---- the in-shell periods ---------------------------------------------------------------------


def test_the_gantt_chart_has_a_bar_per_organization_that_entered(known: Known) -> None:
    periods = known.system.read_models.in_shell(track=None)
    picture = charts.in_shell(periods, TODAY, ZH_LANG, known.system.park)
    root = parsed(picture)
    groups = by_class(root, "g", "period")
    assert [g.get("data-case") for g in groups] == [p["id"] for p in periods]
    assert len(periods) == 6
    bars = by_class(root, "rect", "bar")
    assert len(bars) == len(periods)
    for bar, period in zip(bars, periods, strict=True):
        assert bar.get("data-from") == period["entered_on"].isoformat()
        assert bar.get("data-to") == (period["left_on"] or TODAY).isoformat()
    # past their exit deadline and still in the shell: 阳光助残服务队 and the imported one
    overdue = {g.get("data-case") for g in groups if by_class(g, "rect", "overdue")}
    assert overdue == {str(known.ids["阳光助残服务队"]), str(known.ids["伊金霍洛读书会"])}
    # still ahead: the rest of 青少年科学社's period, dashed up to its deadline
    planned = [g.get("data-case") for g in groups if by_class(g, "rect", "planned")]
    assert planned == [str(known.ids["青少年科学社"])]
    deadlines = by_class(root, "path", "deadline")
    assert sorted(d.get("data-day") or "" for d in deadlines) == sorted(
        p["exit_due"].isoformat() for p in periods if p["exit_due"]
    )
    assert len(deadlines) == 5  # the resident has no exit deadline
    assert picture.rows[1] == (
        "爱心志愿者协会",
        "主园区",
        "2014年2月10日",
        "2014年12月10日",
        "2014年12月10日",
        "结案",
    )


def test_the_gantt_chart_draws_the_day_it_is_told_not_the_clock(known: Known) -> None:
    periods = known.system.read_models.in_shell()

    def today_line(day: date) -> float:
        root = parsed(charts.in_shell(periods, day, ZH_LANG))
        (line,) = by_class(root, "line", "today")
        assert line.get("data-day") == day.isoformat()
        return float(line.get("x1") or 0)

    earlier, later = today_line(date(2015, 2, 1)), today_line(date(2015, 5, 1))
    assert earlier < later
    # on 2015-02-01 the imported case is not yet past its deadline (2015-04-03)
    root = parsed(charts.in_shell(periods, date(2015, 2, 1), ZH_LANG))
    assert len(by_class(root, "rect", "overdue")) == 1


def test_a_gantt_chart_of_nobody_says_so() -> None:
    picture = charts.in_shell([], TODAY, ZH_LANG)
    assert "还没有机构入壳。" in texts(parsed(picture))
    assert picture.rows == ()


def test_names_are_escaped_and_kept_as_they_are() -> None:
    name = '<script>alert("1")</script> & 协会'
    period: dict[str, Any] = {
        "id": "x",
        "name": name,
        "site": "main",
        "track": "incubation",
        "stage": "incubating",
        "entered_on": date(2015, 1, 5),
        "left_on": None,
        "left_to": None,
        "exit_due": date(2015, 11, 5),
    }
    picture = charts.in_shell([period], TODAY, EN_LANG)
    assert "<script>" not in picture.svg
    root = parsed(picture)
    assert not list(root.iter("script")) and not list(root.iter(f"{{{SVG}}}script"))
    assert name in "".join(e.text or "" for e in root.iter())  # its bar's title
    assert picture.rows[0][0] == name


# ---- shares per site --------------------------------------------------------------------------


def test_occupancy_per_site(known: Known) -> None:
    park = known.system.park
    sites = known.system.read_models.occupancy_by_site()
    picture = charts.occupancy(sites, ZH_LANG, park)
    root = parsed(picture)
    groups = by_class(root, "g", "site")
    assert [g.get("data-site") for g in groups] == list(park.sites)
    bars = by_class(root, "rect", "bar")
    assert [(int(b.get("data-value") or -1), int(b.get("data-total") or -1)) for b in bars] == [
        (s["held"], s["total"]) for s in sites
    ]
    track = float(by_class(root, "rect", "track")[0].get("width") or 0)
    main = bars[0]  # 1 of 30
    assert float(main.get("width") or 0) == pytest.approx(track / 30, abs=0.1)
    assert picture.rows[0] == ("主园区", "1", "30", "3%")
    assert "大学生创业孵化园分园" in texts(root)


def test_party_coverage_per_site(known: Known) -> None:
    park = known.system.park
    sites = known.system.read_models.party_coverage_by_site()
    picture = charts.party_coverage(sites, ZH_LANG, park)
    root = parsed(picture)
    bars = {b.get("data-value"): b for b in by_class(root, "rect", "bar")}
    assert len(by_class(root, "rect", "bar")) == len(park.sites)
    rows = {row[0]: row[1:] for row in picture.rows}
    assert rows["主园区"] == ("0", "1", "0%")  # the imported case has no party track
    assert rows["大学生创业孵化园分园"] == ("2", "2", "100%")
    assert rows["第一社区孵化器"] == ("0", "0", "—")  # nothing in the park there
    assert bars


# ---- the state diagrams -----------------------------------------------------------------------


def _diagram(workflow: Workflow, locale: str, current: str | None = None) -> ET.Element:
    return parsed(state_diagram(workflow, lang(locale), current))


@pytest.mark.parametrize("locale", [ZH, EN])
@pytest.mark.parametrize("workflow", labels.ALL_WORKFLOWS, ids=lambda w: w.track)
def test_every_transition_of_every_workflow_is_in_its_diagram(
    workflow: Workflow, locale: str
) -> None:
    root = _diagram(workflow, locale)
    states = by_class(root, "g", "state")
    assert [s.get("data-stage") for s in states] == workflow.stages  # a box per stage
    arrows = {
        (a.get("data-source"), a.get("data-dest")): (a.get("data-triggers") or "").split()
        for a in by_class(root, "g", "transition")
    }
    stays: dict[str, set[str]] = {}
    for e in root.iter():
        if "stay" in (e.get("class") or "").split():
            stays.setdefault(e.get("data-trigger") or "", set()).update(
                (e.get("data-sources") or "").split()
            )
    moving = 0
    for move in workflow.moves():
        if move.dest in (None, move.source):
            assert move.source in stays.get(move.trigger, set()), move
        else:
            moving += 1
            assert move.trigger in arrows.get((move.source, move.dest), []), move
    pairs = {(m.source, m.dest) for m in workflow.moves() if m.dest not in (None, m.source)}
    assert set(arrows) == pairs  # one arrow per pair of stages, no other
    assert moving >= len(pairs)


@pytest.mark.parametrize("workflow", labels.ALL_WORKFLOWS, ids=lambda w: w.track)
def test_a_diagram_names_its_stages_and_steps_in_chinese_on_its_canvas(
    workflow: Workflow,
) -> None:
    picture = state_diagram(workflow, ZH_LANG)
    root = parsed(picture)
    shown = texts(root)
    for stage in workflow.stages:
        assert labels.stage(ZH_LANG, stage, workflow.track) in shown
    width, height = view_box(root)
    for box in root.iter(f"{{{SVG}}}rect"):
        x, y = float(box.get("x") or 0), float(box.get("y") or 0)
        assert x >= 0 and x + float(box.get("width") or 0) <= width + 0.5
        assert y >= 0 and y + float(box.get("height") or 0) <= height + 0.5
    for state_box in (b for g in by_class(root, "g", "state") for b in g.iter(f"{{{SVG}}}rect")):
        others = [
            b
            for g in by_class(root, "g", "state")
            for b in g.iter(f"{{{SVG}}}rect")
            if b is not state_box
        ]
        assert not any(_overlap(state_box, other) for other in others)
    # the table behind it: a row per transition, in Chinese
    assert len(picture.rows) == len(workflow.moves())
    assert picture.columns == ("原阶段", "环节", "新阶段", "条件")


def _overlap(a: ET.Element, b: ET.Element) -> bool:
    ax, ay = float(a.get("x") or 0), float(a.get("y") or 0)
    bx, by = float(b.get("x") or 0), float(b.get("y") or 0)
    aw, ah = float(a.get("width") or 0), float(a.get("height") or 0)
    bw, bh = float(b.get("width") or 0), float(b.get("height") or 0)
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def test_the_current_stage_is_highlighted() -> None:
    workflow = next(w for w in labels.ALL_WORKFLOWS if w.track == PARTY)
    picture = state_diagram(workflow, ZH_LANG, current="support")
    root = parsed(picture)
    current = by_class(root, "g", "current")
    assert [g.get("data-stage") for g in current] == ["support"]
    assert picture.title.endswith("当前：支持帮扶")


def test_the_incubation_diagram_table_reads_like_the_declaration() -> None:
    workflow = next(w for w in labels.ALL_WORKFLOWS if w.track == "incubation")
    rows: Any = state_diagram(workflow, ZH_LANG).rows
    assert ("入壳评估", "入壳评估", "壳内孵化", "通过") in rows
    assert ("入壳评估", "入壳评估", "评估未通过", "未通过") in rows
    assert ("评估未通过", "重新辅导", "考察辅导", "") in rows
    assert ("考察辅导", "记录走访辅导", "（不变）", "") in rows
