"""The web pages, in process (FastAPI's TestClient over https, so the Secure cookie is sent):
login, roles, forms built from the command messages, refusals in Chinese next to their field,
conflicts, CSRF, the auditor's read-only pages. The browser tests (tests/test_browser.py) drive
the same pages in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Incubator
from commands.handlers import Actor
from commands.messages import COMMANDS, SUBJECTS, AddAccount, Apply, params
from commands.messages import required as required_param
from tests.builders import drive, new_case
from web.app import create_app

PASSWORD = "correct-horse-battery"
ADMIN = Actor("管理员", "admin")


def account(system: Incubator, name: str, role: str, sites: tuple[str, ...] = ()) -> None:
    message = AddAccount(name=name, role=role, sites=sites, password=PASSWORD)
    system.dispatcher.handle(message, Actor("运维", None))


@pytest.fixture
def system(incubator: Incubator) -> Incubator:
    account(incubator, "管理员", "admin")
    account(incubator, "李娜", "caseworker", ("main",))
    account(incubator, "王强", "caseworker", ("branch",))
    account(incubator, "张建华", "instructor", ("main",))
    account(incubator, "园区主任", "director")
    account(incubator, "审计员", "auditor")
    return incubator


@pytest.fixture
def web(system: Incubator) -> Iterator[TestClient]:
    app = create_app(system)
    with TestClient(app, base_url="https://127.0.0.1") as client:
        yield client


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf": token[1], "next": "/"},
        follow_redirects=False,
    )


def csrf(page_text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page_text)
    assert found, "the page has no form with a CSRF token"
    return found[1]


def events(system: Incubator) -> int:
    return system.log.recorder.max_notification_id() or 0


def test_a_page_asks_to_log_in_and_a_wrong_password_is_refused_in_chinese(web: TestClient) -> None:
    answer = web.get("/orgs", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")

    refused = log_in(web, "李娜", "not-her-password")
    assert refused.status_code == 401
    assert "密码" in refused.text  # the refusal, in Chinese

    answer = log_in(web, "李娜")
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie


def test_a_caseworker_drives_a_case_through_the_forms(web: TestClient, system: Incubator) -> None:
    log_in(web, "李娜")
    page = web.get("/orgs/new")
    assert page.status_code == 200 and "机构或团队的名称" in page.text  # the message's own help
    answer = web.post(
        "/orgs",
        data={
            "csrf": csrf(page.text),
            "name": "绿色家园环保协会",
            "field": "公益慈善",
            "legal_status": "registered",
            "track": "incubation",
            "site": "main",
            "on": "2014-01-02",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    case_url = answer.headers["location"]
    case_page = web.get(case_url)
    assert "绿色家园环保协会" in case_page.text and "start-inspection" in case_page.text

    def do(verb: str, **fields: str) -> Any:
        page = web.get(case_url)
        seen = re.search(r'name="seen" value="([^"]+)"', page.text)
        assert seen, page.text
        data = {"csrf": csrf(page.text), "seen": seen[1], **fields}
        return web.post(f"{case_url}/do/{verb}", data=data, follow_redirects=False)

    assert do("start-inspection", on="2014-01-08").status_code == 303
    assert do("submit-for-entry", on="2014-02-01").status_code == 303
    refused = do("evaluate-entry", scores="王芳=50\n李强=40", workspace="M-01", on="2014-02-10")
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text  # next to the field it concerns
    assert "专家" in refused.text or "评分" in refused.text  # said in Chinese
    before = events(system)
    passed = do(
        "evaluate-entry", scores="王芳=80\n李强=78\n张敏=75", workspace="M-01", on="2014-02-10"
    )
    assert passed.status_code == 303
    assert events(system) > before

    found = next(r for r in system.read_models.caseload(q="绿色家园"))
    assert found["stage"] == "incubating" and found["workspace"] == "M-01"
    timeline = web.get(case_url).text
    assert "李娜" in timeline and "社工" in timeline  # who, and in which role


def test_a_stale_form_is_a_conflict_that_says_what_was_recorded(
    web: TestClient, system: Incubator
) -> None:
    case_id = new_case(system.service)
    system.read_models.catch_up()
    log_in(web, "李娜")
    page = web.get(f"/orgs/{case_id}")
    seen = re.search(r'name="seen" value="([^"]+)"', page.text)
    assert seen
    drive(system.service, case_id, "inspecting")  # someone else, meanwhile
    before = events(system)
    answer = web.post(
        f"/orgs/{case_id}/do/start-inspection",
        data={"csrf": csrf(page.text), "seen": seen[1], "on": "2014-01-09"},
    )
    assert answer.status_code == 409
    assert "王芳" in answer.text  # who recorded the step in between
    assert events(system) == before


def test_nobody_beyond_their_role_or_site(web: TestClient, system: Incubator) -> None:
    elsewhere = new_case(system.service, name="远方社区", site="branch")
    system.read_models.catch_up()
    log_in(web, "李娜")  # a caseworker at main only
    assert web.get(f"/orgs/{elsewhere}").status_code == 403
    assert "远方社区" not in web.get("/orgs").text
    assert web.get("/admin/users").status_code == 403
    assert web.get("/audit").status_code == 403


def test_a_site_may_be_named_by_its_name_and_an_unknown_one_is_said(
    web: TestClient, system: Incubator
) -> None:
    log_in(web, "李娜")  # a caseworker at main only
    page = web.get("/orgs/new")
    form = {"csrf": csrf(page.text), "name": "绿色家园环保协会", "field": "公益慈善"}
    form |= {"legal_status": "registered", "track": "incubation", "on": "2014-01-02"}
    nowhere = web.post("/orgs", data=form | {"site": "主园"}, follow_redirects=False)
    assert nowhere.status_code == 422
    assert 'aria-invalid="true"' in nowhere.text and "community-1" in nowhere.text
    by_name = web.post("/orgs", data=form | {"site": "主园区"}, follow_redirects=False)
    assert by_name.status_code == 303, by_name.text


def test_sites_and_fields_are_chosen_from_the_park_and_shown_by_their_names(
    web: TestClient, system: Incubator
) -> None:
    """The application form offers the sites the caseworker applies at and the park's fields,
    by their Chinese names; the caseload, its filter and the case page name the site."""
    log_in(web, "李娜")  # a caseworker at main only
    page = web.get("/orgs/new")
    site = re.search(
        r'<select id="new-apply-site" name="site"[^>]*>(.*?)</select>', page.text, re.S
    )
    assert site, page.text[-1500:]
    assert re.findall(r'<option value="([^"]*)"', site[1]) == ["main"]  # hers alone
    assert ">主园区<" in site[1]
    field = re.search(
        r'<select id="new-apply-field" name="field"[^>]*>(.*?)</select>', page.text, re.S
    )
    assert field and 'value="charity"' in field[1] and ">公益慈善<" in field[1]
    form = {"csrf": csrf(page.text), "name": "绿色家园环保协会", "field": "charity", "site": "main"}
    form |= {"legal_status": "registered", "track": "incubation", "on": "2014-01-02"}
    made = web.post("/orgs", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text[-800:]
    case_page = web.get(made.headers["location"])
    assert "<dd>主园区</dd>" in case_page.text
    caseload = web.get("/orgs")
    assert "<td>主园区</td>" in caseload.text and "<td>main</td>" not in caseload.text
    choices = re.search(r'<select id="site" name="site">(.*?)</select>', caseload.text, re.S)
    assert choices and 'value="main"' in choices[1] and 'value="branch"' not in choices[1]


def test_a_filter_value_no_list_offers_is_said_and_left_out(
    web: TestClient, system: Incubator
) -> None:
    """An old bookmark or a hand-made address: each value none of the caseload's lists offers
    is said, in Chinese, and left out, never silently matching nothing (or everything)."""
    new_case(system.service, name="绿色家园环保协会")
    system.read_models.catch_up()
    log_in(web, "园区主任")
    page = web.get("/orgs?stage=bogus&site=nowhere&track=incubation")
    assert page.status_code == 200
    said = re.findall(r'<p class="problem" role="alert">([^<]*)</p>', page.text)
    assert len(said) == 2, said
    assert "阶段“bogus”不在上面可选的范围内" in said[0] and "场地“nowhere”" in said[1], said
    assert "绿色家园环保协会" in page.text  # the known filter (track) kept, the others left out
    assert web.get("/orgs?track=incubation").text.count("<tr><td><a href=") == (
        page.text.count("<tr><td><a href=")
    )


def test_an_auditor_sees_no_form_and_a_forged_post_is_refused(
    web: TestClient, system: Incubator
) -> None:
    case_id = new_case(system.service)
    system.read_models.catch_up()
    log_in(web, "审计员")
    page = web.get(f"/orgs/{case_id}")
    assert page.status_code == 200
    assert "/do/" not in page.text and "/party/" not in page.text  # no command form at all
    before = events(system)
    forged = web.post(
        f"/orgs/{case_id}/do/start-inspection",
        data={"csrf": csrf(page.text), "seen": "1.0", "on": "2014-01-09"},
    )
    assert forged.status_code == 403
    assert events(system) == before
    assert web.get(f"/orgs/{case_id}/dossier.json").status_code == 200
    audit = web.get("/audit")
    assert audit.status_code == 200
    assert "dossier" in audit.text and "history (web)" in audit.text  # its own reads, recorded


def test_a_post_without_the_sessions_csrf_token_records_nothing(
    web: TestClient, system: Incubator
) -> None:
    case_id = new_case(system.service)
    log_in(web, "李娜")
    page = web.get(f"/orgs/{case_id}")
    seen = re.search(r'name="seen" value="([^"]+)"', page.text)
    assert seen
    before = events(system)
    answer = web.post(
        f"/orgs/{case_id}/do/start-inspection",
        data={"csrf": "forged", "seen": seen[1], "on": "2014-01-09"},
    )
    assert answer.status_code == 403
    assert events(system) == before


def test_english_is_one_click_away_and_kept_with_the_account(web: TestClient) -> None:
    log_in(web, "园区主任")
    page = web.get("/orgs")
    assert "案卷" in page.text or "机构" in page.text
    web.post("/language", data={"language": "en", "csrf": csrf(page.text), "next": "/orgs"})
    english = web.get("/orgs")
    assert "Caseload" in english.text
    web.cookies.clear()
    log_in(web, "园区主任")
    assert "Caseload" in web.get("/orgs").text  # the account remembers


def test_an_admin_manages_accounts_through_forms(web: TestClient, system: Incubator) -> None:
    log_in(web, "管理员")
    page = web.get("/admin/users")
    assert page.status_code == 200
    for verb, name in [("add", "name"), ("grant", "account"), ("disable", "account")]:
        form = re.search(rf'action="/admin/users/{verb}".*?</form>', page.text, re.S)
        assert form and f'name="{name}"' in form[0], verb  # which account: asked by each form
    answer = web.post(
        "/admin/users/add",
        data={
            "csrf": csrf(page.text),
            "name": "赵敏",
            "role": "caseworker",
            "sites": "main",
            "password": "a-long-enough-password",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert "赵敏" in web.get("/admin/users").text
    assert web.get("/orgs").status_code == 403  # an admin runs no case
    assert "a-long-enough-password" not in web.get("/admin/users").text


JUNK = [
    "",
    "x" * 5000,
    "'; drop table events; --",
    "../../etc/passwd",
    "\x00",
    "😀",
    "-1",
    "2014-02-30",
    "²",  # a digit to str.isdigit, not to int()
    "１２",  # full-width digits
    "1" * 5000,  # more digits than int() reads
]


@pytest.mark.parametrize("who", ["李娜", "审计员", "管理员", None])
def test_no_page_answers_junk_with_a_server_error(
    web: TestClient, system: Incubator, who: str | None
) -> None:
    """Every page of the web's router, asked with junk in its path, query and form, as each kind
    of person and as nobody: never a 500, and nothing recorded by a refused POST."""
    from web.pages import router

    case_id = str(new_case(system.service))
    system.read_models.catch_up()
    if who is not None:
        log_in(web, who)
    token = (
        csrf(web.get("/login").text)
        if who is None
        else csrf(web.get("/admin/users").text if who == "管理员" else web.get("/orgs").text)
    )
    # logging out last: every POST after it would only be asked to log in
    routes = sorted(router(system).routes, key=lambda r: r.path == "/logout")  # type: ignore[attr-defined]
    for route in routes:
        path_template = route.path  # type: ignore[attr-defined]
        methods = route.methods  # type: ignore[attr-defined]
        for junk in JUNK:
            path = path_template.replace("{case_id}", case_id).replace(
                "{verb}", quote(junk[:40]) or "x"
            )
            if "GET" in methods:
                answer = web.get(
                    path,
                    params={"q": junk, "page": junk, "as_of": junk, "year": junk, "stage": junk},
                )
                assert answer.status_code < 500, (path, junk, answer.text[:300])
            if "POST" in methods:
                before = events(system)
                fields = {
                    "csrf": token,
                    "seen": junk,
                    "on": junk,
                    "name": junk,
                    "scores": junk,
                    "site": junk,
                    "language": junk,
                }
                answer = web.post(path, data=fields, follow_redirects=False)
                assert answer.status_code < 500, (path, junk, answer.text[:300])
                if answer.status_code >= 400:
                    assert events(system) == before, (path, junk)


@pytest.mark.parametrize("who", ["园区主任", "管理员"])
def test_every_form_sent_empty_is_refused_next_to_a_field(
    web: TestClient, system: Incubator, who: str
) -> None:
    """Each command's form, sent with nothing filled in (a person who pressed the button at
    once): a refusal that names the field left empty, in Chinese, and nothing recorded; never
    a server error."""
    case_id = str(new_case(system.service))
    system.read_models.catch_up()
    log_in(web, who)
    group = ("user",) if who == "管理员" else ("org", "party", "privacy")
    for message in [m for m in COMMANDS if m.group in group and m is not Apply]:
        required = [n for n, spec in params(message) if required_param(message, n)]
        if not any(spec.kind not in SUBJECTS for n, spec in params(message) if n in required):
            continue  # nothing to leave empty
        page = web.get("/admin/users" if who == "管理员" else f"/orgs/{case_id}")
        seen = re.search(r'name="seen" value="([^"]+)"', page.text)
        path = {
            "user": f"/admin/users/{message.verb}",
            "org": f"/orgs/{case_id}/do/{message.verb}",
        }.get(message.group, f"/orgs/{case_id}/{message.group}/{message.verb}")
        before = events(system)
        data = {"csrf": csrf(page.text)} | ({"seen": seen[1]} if seen else {})
        answer = web.post(path, data=data, follow_redirects=False)
        assert answer.status_code in (403, 409, 422), (message.verb, answer.text[:300])
        assert events(system) == before, message.verb
        if answer.status_code == 422:
            assert "须填写" in answer.text, (message.verb, answer.text[-800:])
            for beside in re.findall(r'id="[^"]+-problem" role="alert">([^<]*)<', answer.text):
                assert "--" not in beside, (message.verb, beside)  # the field by its label
    page = web.get("/orgs/new")
    if page.status_code == 200:
        answer = web.post("/orgs", data={"csrf": csrf(page.text)}, follow_redirects=False)
        assert answer.status_code == 422 and "须填写" in answer.text
        assert 'aria-invalid="true"' in answer.text  # next to the field it concerns
        beside = re.findall(r'id="[^"]+-problem" role="alert">([^<]*)<', answer.text)
        assert beside and beside[0].startswith("机构或团队的名称"), beside  # not NAME


def test_a_bug_is_a_page_in_chinese_without_its_details(
    system: Incubator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug with a secret inside")

    monkeypatch.setattr(system.read_models, "caseload", broken)
    app = create_app(system)
    with TestClient(app, base_url="https://127.0.0.1", raise_server_exceptions=False) as web:
        log_in(web, "李娜")
        page = web.get("/orgs")
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "服务器出错" in page.text  # said in Chinese, on a page of the site
        assert "secret" not in page.text and "Traceback" not in page.text
        api = web.get("/api/orgs", headers={"Authorization": "Bearer x"})
        assert api.headers["content-type"] == "application/problem+json"  # the API's own
    assert "a bug with a secret inside" in caplog.text


def test_a_page_that_is_not_there_is_a_page_and_the_apis_a_problem(web: TestClient) -> None:
    page = web.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "没有该页面" in page.text  # in Chinese
    problem = web.get("/api/no-such-thing")
    assert problem.status_code == 404
    assert problem.headers["content-type"] == "application/problem+json"
