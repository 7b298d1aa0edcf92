"""The web application in a real browser (issue #15): Debian's Chromium, driven by Playwright,
against a real `incubator serve` process on a loopback port and a SQLite file made by the
command line (`incubator init --rehearsal`, `incubator user add`, `incubator org apply`).

The database is a rehearsal one, so INCUBATOR_NOW fixes the server's clock: "today" is TODAY
for the server and for every date typed into a form. One server and one browser serve the
whole module; each test has a browser context (cookies) of its own. Every step leaves a
screenshot in tests/screenshots/ (not committed).

Without Chromium at /usr/bin/chromium these tests are skipped with a message saying how to
install it; under CI=true they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import IN_CI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, ViewportSize

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
# What works here (LIBRARIES.md, "The browser"): no sandbox in a container, no GPU, and no
# calls home at start.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
BIN = Path(sys.executable).parent / "incubator"
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "cli.main"]
SHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct-horse-battery"
NOW = "2026-11-20T10:00+08:00"  # the server's clock: a Friday morning in Shanghai
TODAY = date(2026, 11, 20)
PHONE: ViewportSize = {"width": 390, "height": 844}  # a phone held upright
DESK: ViewportSize = {"width": 1280, "height": 800}
# Who works in the park: name → role, site (None: every site).
PEOPLE = {
    "李娜": ("caseworker", "main"),
    "园区主任": ("director", None),
    "审计员": ("auditor", None),
    "周主任": ("director", None),  # changes her language: nobody else's pages change with it
}
NEAR = "晨曦社区服务社"  # applied four days ago, 李娜's case: its inspection is due soon
CJK = re.compile(r"[\u4e00-\u9fff]")


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"Chromium is not at {CHROMIUM}"
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"the Python package {e.name} is missing (scripts/setup installs it)"
    return None


# ---- the park: a SQLite file made by the command line, served by `incubator serve` -------------


@dataclass
class Park:
    folder: Path
    env: dict[str, str]
    url: str = ""
    near: str = ""  # the id of the case whose deadline is near
    server: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*COMMAND, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"incubator {' '.join(args)}: {done.stderr}"
        return done.stdout

    def events(self, case_id: str) -> list[dict[str, Any]]:
        """The case's events, as `incubator org history --json` tells them."""
        return list(json.loads(self.cli("org", "history", case_id, "--json")))

    def serve(self) -> None:
        """`incubator serve` on a free port; its address from its own log line."""
        log = self.folder / "serve.log"
        with log.open("wb") as out:
            self.server = subprocess.Popen(
                [*COMMAND, "serve", "--port", "0", "--log-level", "info"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text())
            if found:
                self.url = found[1]
                return
            if self.server.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"incubator serve did not start:\n{log.read_text()}")

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=5)


@pytest.fixture(scope="module")
def park(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Park]:
    problem = _missing()
    if problem is not None:
        message = (
            f"the browser tests need Chromium: {problem}. Install it with "
            f"`sudo apt-get install chromium fonts-noto-cjk` (or scripts/browser)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("browser")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("INCUBATOR_SETTINGS", "INCUBATOR_SMTP_URL", "INCUBATOR_NOW")
    }
    env["INCUBATOR_DATABASE_URL"] = f"sqlite:///{folder / 'park.sqlite3'}"
    park = Park(folder, env)
    park.cli("init", "--rehearsal")  # the one kind of database whose clock may be fixed
    park.env["INCUBATOR_NOW"] = NOW
    for name, (role, site) in PEOPLE.items():
        where = ["--site", site] if site else []
        park.cli(
            "user", "add", name, "--role", role, *where, "--password-stdin", "--actor", "运维",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
    applied = park.cli(
        "org", "apply", "--name", NEAR, "--field", "公益慈善", "--legal-status", "registered",
        "--track", "incubation", "--site", "main", "--on", "2026-11-16", "--actor", "园区主任",
        "--json",
    )  # fmt: skip
    park.near = json.loads(applied)["id"]
    park.cli("org", "assign", park.near, "--caseworker", "李娜", "--actor", "园区主任")
    try:
        park.serve()
        yield park
    finally:
        park.stop()


@pytest.fixture(scope="module")
def browser(park: Park) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class Shots:
    """Screenshots of a test's steps, numbered in order: tests/screenshots/TEST-NN-STEP.png."""

    def __init__(self, test: str) -> None:
        self.test, self.count = test, 0
        SHOTS.mkdir(exist_ok=True)
        for old in SHOTS.glob(f"{test}-*.png"):
            old.unlink()

    def __call__(self, page: Page, step: str) -> None:
        self.count += 1
        page.screenshot(path=SHOTS / f"{self.test}-{self.count:02d}-{step}.png", full_page=True)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name.removeprefix("test_"))


def log_in(browser: Browser, park: Park, name: str, **context: Any) -> Page:
    """A new browser (its own cookies), in Chinese as a park's browsers are, logged in."""
    page = browser.new_context(locale="zh-CN", **context).new_page()
    page.goto(park.url + "/")
    assert "/login" in page.url  # nobody is logged in yet: the login page first
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(park.url + "/")
    assert page.locator(".me").inner_text().startswith(name)
    return page


def follow(page: Page, target: Locator) -> None:
    """Clicks a link or a button that leads to another page, and waits for that page."""
    with page.expect_navigation():
        target.click()


def command(page: Page, title: str) -> Locator:
    """The form of the command named `title` on a case page, opened by its summary."""
    form = page.locator("details.command").filter(
        has=page.locator("summary").get_by_text(title, exact=True)
    )
    assert form.count() == 1, f"no form {title!r} on the page"
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    return form


def submit(page: Page, form: Locator) -> int:
    """Sends the form as a person would (its button); the status of the server's answer."""
    with (
        page.expect_navigation(),  # to the page the answer shows, or the one it redirects to
        page.expect_response(lambda r: r.request.method == "POST") as answer,
    ):
        form.locator("button[type=submit]").click()
    return answer.value.status


def stage_shown(page: Page) -> str:
    return page.locator("#state + .facts .badge.stage").inner_text()


# ---- the tests ---------------------------------------------------------------------------------


def test_a_caseworker_applies_inspects_submits_and_evaluates_through_the_forms(
    browser: Browser, park: Park, shot: Shots
) -> None:
    page = log_in(browser, park, "李娜")
    shot(page, "my-work")
    follow(page, page.get_by_role("link", name="案卷一览"))
    follow(page, page.get_by_role("link", name="新申请"))
    form = command(page, "项目申请")
    form.get_by_label("机构或团队的名称").fill("绿色家园环保协会")
    form.get_by_label("领域").select_option(label="公益慈善")
    form.get_by_label("登记状态").select_option(label="登记")
    form.get_by_label("孵化方式").select_option(label="孵化")
    form.get_by_label("园区场地").select_option(label="主园区")
    form.get_by_label("生效的业务日期").fill("2026-11-02")
    shot(page, "apply")
    assert submit(page, form) == 303
    assert re.fullmatch(re.escape(park.url) + r"/orgs/[0-9a-f-]{36}", page.url), page.url
    case_id = page.url.rsplit("/", 1)[1]
    assert page.locator("h1").inner_text() == "绿色家园环保协会"
    assert stage_shown(page) == "项目申请"
    offered = {a.rsplit("/", 1)[1] for a in _actions(page)}
    shown = json.loads(park.cli("org", "show", case_id, "--json"))
    assert offered == set(shown["allowed_commands"])  # no residency form on an incubation case
    shot(page, "applied")

    form = command(page, "开始考察辅导")
    form.get_by_label("生效的业务日期").fill("2026-11-05")
    assert submit(page, form) == 303
    assert stage_shown(page) == "考察辅导"
    form = command(page, "提交入壳评估")
    form.get_by_label("生效的业务日期").fill("2026-11-12")
    assert submit(page, form) == 303
    assert stage_shown(page) == "入壳评估"
    shot(page, "submitted")
    timeline = page.locator("table.timeline tbody tr")
    recorded = timeline.count()
    assert recorded == 3  # applied, inspection started, submitted

    # Two experts are one too few: refused in Chinese, next to the scores, and nothing recorded.
    form = command(page, "入壳评估")
    form.get_by_label("一位专家的评分").fill("王芳=80\n李强=78")
    form.get_by_label("通过时占用的工位").fill("M-01")
    form.get_by_label("生效的业务日期").fill("2026-11-19")
    assert submit(page, form) == 422
    _refused_next_to(page, "入壳评估", "scores", "专家")
    assert form.get_by_label("一位专家的评分").input_value() == "王芳=80\n李强=78"  # kept
    assert timeline.count() == recorded
    shot(page, "refused-two-experts")

    # Three experts pass it, but it names no workspace: refused next to the workspace.
    form = command(page, "入壳评估")
    form.get_by_label("一位专家的评分").fill("王芳=80\n李强=78\n张敏=75")
    form.get_by_label("通过时占用的工位").fill("")
    form.get_by_label("生效的业务日期").fill("2026-11-19")
    assert submit(page, form) == 422
    _refused_next_to(page, "入壳评估", "workspace", "工位")
    assert timeline.count() == recorded
    shot(page, "refused-no-workspace")

    form = command(page, "入壳评估")
    form.get_by_label("通过时占用的工位").fill("M-01")
    assert submit(page, form) == 303
    assert stage_shown(page) == "壳内孵化"
    assert page.locator("#state + .facts").get_by_text("M-01", exact=True).count() == 1
    assert page.locator(".problem").count() == 0
    shot(page, "entered")

    events = park.events(case_id)
    assert [e["type"] for e in events] == [
        "ApplicationReceived",
        "InspectionStarted",
        "SubmittedForEntry",
        "EntryApproved",
    ]
    assert {(e["actor"], e["role"]) for e in events} == {("李娜", "caseworker")}
    assert events[-1]["on"] == "2026-11-19"


def _actions(page: Page) -> list[str]:
    """Where the page's command forms post to."""
    return [
        str(form.get_attribute("action")) for form in page.locator("details.command form").all()
    ]


def _refused_next_to(page: Page, title: str, name: str, word: str) -> None:
    """The form `title` is open again, its field `name` marked invalid and described by the
    rule's message, in Chinese, inside the field's own box."""
    form = page.locator("details.command[open]")
    assert form.count() == 1 and form.locator("summary").inner_text() == title
    box = form.locator(".field.wrong")
    assert box.count() == 1
    wrong = box.locator(f"[name={name}]")
    assert wrong.get_attribute("aria-invalid") == "true"
    said = box.locator(f"#{wrong.get_attribute('aria-describedby')}")
    text = said.inner_text()
    assert said.is_visible() and word in text, text
    assert len(CJK.findall(text)) > len(text) / 4, f"not in Chinese: {text}"


def test_my_work_lists_the_case_whose_deadline_is_near(
    browser: Browser, park: Park, shot: Shots
) -> None:
    page = log_in(browser, park, "李娜")
    assert page.locator("h1").inner_text() == "我的工作"
    row = page.locator("tr").filter(has=page.get_by_role("link", name=NEAR))
    assert row.count() == 1, page.locator("main").inner_text()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "即将到期" and cells[3] == "2026年11月30日"  # 14 days after applying
    assert int(cells[4]) == (date(2026, 11, 30) - TODAY).days
    shot(page, "my-work")
    follow(page, row.get_by_role("link", name=NEAR))
    page.wait_for_url(f"{park.url}/orgs/{park.near}")
    assert page.locator("h1").inner_text() == NEAR
    shot(page, "the-case")


def test_an_auditor_finds_no_form_and_a_forged_post_is_refused(
    browser: Browser, park: Park, shot: Shots
) -> None:
    page = log_in(browser, park, "审计员")
    page.goto(f"{park.url}/orgs/{park.near}")
    assert page.locator("h1").inner_text() == NEAR
    assert page.locator("details.command").count() == 0
    assert page.locator("main form[method=post]").count() == 0  # no command, no party form
    assert page.locator("table.timeline tbody tr").count() >= 2  # but the whole timeline
    shot(page, "case-read-only")

    before = park.events(park.near)
    token = page.locator("header input[name=csrf]").first.input_value()
    assert token  # the session's own token: only the role can refuse what follows
    forged = page.request.post(
        f"{park.url}/orgs/{park.near}/do/start-inspection",
        form={"csrf": token, "seen": f"{len(before)}.0", "on": "2026-11-20"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert "您的角色无权在此进行该操作" in forged.text()
    assert park.events(park.near) == before
    page.set_content(forged.text())
    shot(page, "forged-post-refused")


def test_english_is_one_click_away(browser: Browser, park: Park, shot: Shots) -> None:
    page = log_in(browser, park, "周主任")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "我的工作"
    follow(page, page.get_by_role("button", name="English"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "My work"
    shot(page, "english")
    follow(page, page.get_by_role("link", name="Caseload"))
    assert page.locator("h1").inner_text() == "Caseload"
    assert page.get_by_role("link", name=NEAR).count() == 1  # the names stay as they are
    shot(page, "caseload-in-english")
    follow(page, page.get_by_role("button", name="中文"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "案卷一览"


def test_the_pictures_render(browser: Browser, park: Park, shot: Shots) -> None:
    page = log_in(browser, park, "园区主任")
    follow(page, page.get_by_role("link", name="图表"))
    assert page.locator("h1").inner_text() == "图表"
    pictures = page.locator("main svg[role=img]")
    assert pictures.count() >= 4  # the funnel, the Gantt chart, occupancy, party coverage
    funnel = page.locator("svg.funnel")
    assert CJK.search(funnel.get_attribute("aria-label") or "")
    bars = funnel.locator("rect.bar")
    assert bars.count() == 4
    applied = funnel.locator("rect.bar[data-step=applied]")
    assert int(applied.get_attribute("data-value") or 0) >= 1
    box = applied.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 10  # drawn, not just there
    shot(page, "charts")
    section = page.locator("section.picture").filter(has=funnel)
    section.locator("summary").get_by_text("图表数据").click()
    table = section.locator("table")
    assert table.is_visible() and table.locator("tbody tr").count() == 4
    first = table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first[:2] == ["申请", applied.get_attribute("data-value")]  # the bar's own number
    shot(page, "funnel-table")

    page.goto(f"{park.url}/orgs/{park.near}")
    diagram = page.locator("figure.diagram svg[role=img]")
    assert diagram.count() == 1  # the incubation track; no party track before entering
    assert diagram.is_visible()
    current = diagram.locator("g.state.current")
    assert current.count() == 1 and current.get_attribute("data-stage") == "applied"
    assert "当前" in (diagram.get_attribute("aria-label") or "")
    box = diagram.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    shot(page, "state-diagram")


def _violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    found = Axe().run(page).response["violations"]
    return [
        f"{page.url}: {v['id']} ({v['impact']}) {v['help']}: "
        + "; ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def _main_pages(park: Park) -> dict[str, list[str]]:
    """Who looks at which of the main pages: each person at what their role shows."""
    case = f"/orgs/{park.near}"
    return {
        "李娜": ["/", "/orgs", "/orgs/new", case, "/party"],  # the case with its forms
        "园区主任": ["/charts"],
        "审计员": ["/", "/orgs", case, "/party", "/charts", "/audit"],
    }


def _step(name: str, path: str, park: Park) -> str:
    """A screenshot's name for a person at a page: 李娜-orgs-case."""
    return name + path.replace(park.near, "case").replace("/", "-").rstrip("-")


def test_the_main_pages_have_no_serious_accessibility_violations(
    browser: Browser, park: Park, shot: Shots
) -> None:
    """At a desk's width and at a phone's (where tables and boxes may start to scroll)."""
    problems: list[str] = []
    for viewport in (DESK, PHONE):
        page = browser.new_context(locale="zh-CN", viewport=viewport).new_page()
        page.goto(f"{park.url}/login")
        problems += _violations(page)
        for name, paths in _main_pages(park).items():
            page = log_in(browser, park, name, viewport=viewport)
            for path in paths:
                page.goto(park.url + path)
                assert page.locator("h1").count() == 1
                problems += _violations(page)
                if viewport is DESK:
                    shot(page, _step(name, path, park))
    assert not problems, "\n".join(problems)

    # The check sees what it is there for: a field without its label is a critical violation.
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{park.url}/login")
    page.evaluate("document.querySelector('label[for=username]').remove()")
    assert any(" label (critical)" in p for p in _violations(page))


def _sideways(page: Page) -> str | None:
    """How much wider than the viewport (less any scroll bar) the page is, or None."""
    seen, wide = page.evaluate(
        "[document.documentElement.clientWidth,"
        " Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)]"
    )
    assert 0 < seen <= PHONE["width"]
    return f"{page.url}: {wide} px wide in {seen} px" if wide > seen else None


def test_every_main_page_fits_a_phones_width(browser: Browser, park: Park, shot: Shots) -> None:
    page = browser.new_context(locale="zh-CN", viewport=PHONE).new_page()
    page.goto(f"{park.url}/login")
    wider = [_sideways(page)]
    shot(page, "login")
    for name, paths in _main_pages(park).items():
        page = log_in(browser, park, name, viewport=PHONE)
        for path in paths:
            page.goto(park.url + path)
            wider.append(_sideways(page))
            shot(page, _step(name, path, park))
    assert not any(wider), "\n".join(w for w in wider if w)

    # The measure sees what it is there for: a box wider than the phone scrolls the page.
    page.evaluate(
        "document.querySelector('main').append(Object.assign("
        "document.createElement('div'), {style: 'width: 600px', textContent: '宽'}))"
    )
    assert _sideways(page) is not None
