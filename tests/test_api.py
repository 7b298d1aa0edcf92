"""The HTTP API in process (FastAPI's test client) on a real database: rights by role for every
route, who acts, If-Match, Idempotency-Key, problems, the record of reads."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

import pytest
from eventsourcing.domain import DomainEvent
from fastapi.routing import APIRoute

from api.app import routes_of
from commands.bootstrap import Incubator
from commands.roles import ROLES, Right
from lifecycle import organization
from lifecycle.organization import OrganizationCase
from schedules.clock import FixedClock
from tests.api_support import APPLY, PASSWORD, PEOPLE, PERSON, ROLE_OF, Api, api_on

GOOD = {"王建国": 82, "刘慧": 78, "赵志强": 85}


@pytest.fixture
def api(incubator: Incubator) -> Iterator[Api]:
    with api_on(incubator) as api:
        yield api


def events(system: Incubator) -> int:
    return system.log.recorder.max_notification_id() or 0


def resident(api: Api, site: str = "main", name: str = "爱心志愿者协会") -> str:
    """A case admitted as a resident at `site` (so it has a party track); its id."""
    applied = api.post(
        "director", "/api/orgs", APPLY | {"site": site, "name": name, "track": "residency"}
    )
    assert applied.status_code == 201, applied.text
    case = applied.json()["id"]
    workspace = {"main": "M-01", "branch": "B-01"}[site]
    admitted = api.post(
        "director", f"/api/orgs/{case}/admit", {"workspace": workspace, "on": "2014-01-08"}
    )
    assert admitted.status_code == 200, admitted.text
    return str(case)


def things(api: Api) -> dict[str, str]:
    """One of each thing a path can name, at site main."""
    case = resident(api, "main", "爱心志愿者协会")
    api.post("director", "/api/orgs", APPLY | {"track": "residency"})
    round_ = api.post(
        "director",
        "/api/rounds",
        {"name": "首届公益创投", "fund": 90000, "opens": "2014-01-01", "closes": "2014-12-31",
         "site": "main", "on": "2014-01-01"},
    )  # fmt: skip
    assert round_.status_code == 201, round_.text
    project = api.post(
        "director",
        f"/api/rounds/{round_.json()['id']}/submit",
        {"org": case, "title": "社区助老送餐", "amount": 50000, "on": "2014-03-05"},
    )
    assert project.status_code == 201, project.text
    branch = api.post(
        "director",
        "/api/joint-branches",
        {"name": "主园区联合党支部", "site": "main", "on": "2014-03-10"},
    )
    assert branch.status_code == 201, branch.text
    someone = {"name": "赵临时", "role": "caseworker", "sites": ["main"]}
    target = api.post("admin", "/api/users", someone | {"password": "another long secret"})
    assert target.status_code == 201, target.text
    assert target.headers["Location"] == "/api/users/%E8%B5%B5%E4%B8%B4%E6%97%B6"
    assert "password" not in target.text and "another long secret" not in target.text
    return {
        "orgs": case,
        "rounds": round_.json()["id"],
        "projects": project.json()["id"],
        "joint-branches": branch.json()["id"],
        "reports": "due",
        "users": "赵临时",
    }


def fill(path: str, found: dict[str, str]) -> str:
    if "{" not in path:
        return path
    return re.sub(r"\{[a-z_]+\}", found[path.split("/")[2]], path)


def api_routes(api: Api) -> list[APIRoute]:
    """The app's route table: every route of its routers."""
    return routes_of(api.app)


def test_every_route_but_the_token_names_its_right(api: Api) -> None:
    routes = api_routes(api)
    public = {r.path for r in routes if "x-right" not in (r.openapi_extra or {})}
    assert public == {"/api/token"}
    assert len(routes) > 55


def test_rights_by_role_for_every_route(api: Api, incubator: Incubator) -> None:
    """Every route as each role and as nobody: 401 without a token, 403 without the right (or
    at another site), else an answer of the route itself; an auditor's POST records nothing."""
    found = things(api)
    checked = 0
    for route in api_routes(api):
        right = (route.openapi_extra or {}).get("x-right")
        if right is None:
            continue
        path = fill(route.path, found)
        for method in route.methods or ():
            for role in (None, *ROLE_OF.values()):
                before = events(incubator)
                answer = api.client.request(
                    method, path, json={} if method == "POST" else None, headers=api.as_(role)
                )
                said = f"{method} {path} as {role}: {answer.status_code} {answer.text[:300]}"
                assert answer.status_code < 500, said
                if role is None:
                    assert answer.status_code == 401, said
                    assert answer.headers["WWW-Authenticate"] == "Bearer"
                elif Right(right) in ROLES[role]:
                    assert answer.status_code not in (401, 403), said
                else:
                    assert answer.status_code == 403, said
                    assert answer.headers["content-type"] == "application/problem+json"
                if role in ("auditor", None) and method == "POST":
                    assert events(incubator) == before, said
                checked += 1
    assert checked > 55 * 6


def test_a_caseworker_acts_only_at_their_sites(api: Api) -> None:
    elsewhere = resident(api, "branch", "阳光助残服务队")
    here = resident(api, "main")
    refused = api.post("caseworker", f"/api/orgs/{elsewhere}/record-service-evaluation",
                       {"scores": GOOD, "on": "2014-06-01"})  # fmt: skip
    assert refused.status_code == 403
    assert "at site 'branch'" in refused.json()["detail"]
    assert api.get("caseworker", f"/api/orgs/{elsewhere}").status_code == 403
    created = api.post("caseworker", "/api/orgs", APPLY | {"site": "branch"})
    assert created.status_code == 403
    listed = api.get("caseworker", "/api/orgs").json()["items"]
    assert [row["id"] for row in listed] == [here]
    assert len(api.get("director", "/api/orgs").json()["items"]) == 2


def test_the_logged_in_account_acts_in_its_role_and_no_body_can_say_otherwise(
    api: Api, incubator: Incubator
) -> None:
    case = resident(api)
    before = events(incubator)
    for field in ("actor", "role"):
        answer = api.post("caseworker", f"/api/orgs/{case}/assign",
                          {"caseworker": "王芳", field: "园区主任"})  # fmt: skip
        assert answer.status_code == 422
        assert answer.json()["field"] == field
    assert events(incubator) == before
    body = {"caseworker": "王芳", "on": "2014-01-09"}
    done = api.post("caseworker", f"/api/orgs/{case}/assign", body, **{"X-Actor": "director"})
    assert done.status_code == 200
    last = api.get("auditor", f"/api/orgs/{case}/history").json()[-1]
    assert (last["type"], last["actor"], last["role"]) == (
        "CaseworkerAssigned",
        PERSON["caseworker"],
        "caseworker",
    )


def test_if_match_refuses_a_command_on_a_case_that_moved_on(api: Api, incubator: Incubator) -> None:
    case = resident(api)
    read = api.get("caseworker", f"/api/orgs/{case}")
    etag = read.headers["ETag"]
    assert etag == f'"{read.json()["version"]}"'
    api.post("director", f"/api/orgs/{case}/assign", {"caseworker": "王芳", "on": "2014-01-09"})
    before = events(incubator)
    stale = api.post("caseworker", f"/api/orgs/{case}/assign",
                     {"caseworker": "李娜", "on": "2014-01-10"}, **{"If-Match": etag})  # fmt: skip
    assert stale.status_code == 412
    assert (
        stale.json()["field"] == "If-Match"
        and "changed since it was read" in stale.json()["detail"]
    )
    assert events(incubator) == before
    fresh = api.get("caseworker", f"/api/orgs/{case}").headers["ETag"]
    done = api.post("caseworker", f"/api/orgs/{case}/assign",
                    {"caseworker": "李娜", "on": "2014-01-10"}, **{"If-Match": fresh})  # fmt: skip
    assert done.status_code == 200 and done.json()["caseworker"] == "李娜"
    assert done.headers["ETag"] == f'"{int(fresh.strip(chr(34))) + 1}"'


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(
    api: Api, incubator: Incubator
) -> None:
    key = {"Idempotency-Key": "apply-爱心-1".encode().hex()}
    first = api.post("caseworker", "/api/orgs", APPLY, **key)
    assert first.status_code == 201
    after_first = events(incubator)
    again = api.post("caseworker", "/api/orgs", APPLY, **key)
    assert (again.status_code, again.json(), again.headers["Location"]) == (
        201,
        first.json(),
        first.headers["Location"],
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert events(incubator) == after_first
    other = api.post("caseworker", "/api/orgs", APPLY | {"name": "另一个机构"}, **key)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    # a refusal is an answer too: the retry gets it again, and nothing is recorded
    case = first.json()["id"]
    refusal = api.post("caseworker", f"/api/orgs/{case}/close", {}, **{"Idempotency-Key": "k2"})
    assert refusal.status_code == 422
    assert (
        api.post("caseworker", f"/api/orgs/{case}/close", {}, **{"Idempotency-Key": "k2"}).json()
        == refusal.json()
    )
    # another account's key is its own
    theirs = api.post("director", "/api/orgs", APPLY | {"name": "第三个机构"}, **key)
    assert theirs.status_code == 201 and theirs.json()["id"] != case
    assert events(incubator) == after_first + 1


def test_problems_say_what_is_wrong_and_what_is_allowed(api: Api, incubator: Incubator) -> None:
    case = resident(api)
    before = events(incubator)
    wrong = api.post("director", "/api/orgs", APPLY | {"track": "hatching"})
    body = wrong.json()
    assert wrong.status_code == 422 and wrong.headers["content-type"] == "application/problem+json"
    assert body["field"] == "track" and "incubation" in body["allowed"]
    assert set(body) >= {"type", "title", "status", "detail"}
    bad_date = api.post("director", "/api/orgs", APPLY | {"on": "1999-12-31"}).json()
    assert bad_date["field"] == "on" and "2000-01-01" in bad_date["detail"]
    bad_score = api.post("director", "/api/orgs", APPLY | {"party_members": -1}).json()
    assert bad_score["field"] == "party_members"
    missing = api.get("director", "/api/orgs/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "no organization case" in missing.json()["detail"]
    assert api.get("director", "/api/orgs/not-a-uuid").status_code == 422
    assert api.get("director", "/api/nowhere").status_code == 404
    stage = api.post("director", f"/api/orgs/{case}/start-inspection", {}).json()
    assert "commands allowed from 'resident'" in stage["detail"]
    assert events(incubator) == before


def test_an_unexpected_error_is_a_500_problem_without_its_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug with a secret inside")

    monkeypatch.setattr(api.app.state.reads, "caseload", broken)
    answer = api.get("director", "/api/orgs")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "secret" not in answer.text and "Traceback" not in answer.text
    assert "a bug with a secret inside" in caplog.text


def test_reads_of_history_and_dossiers_are_recorded_for_auditors(
    api: Api, incubator: Incubator
) -> None:
    case = resident(api)
    assert api.get("caseworker", f"/api/orgs/{case}/history").status_code == 200
    csv = api.get("director", f"/api/orgs/{case}/history", Accept="text/csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1].startswith("1,,ApplicationReceived,2014-01-06")
    assert api.get("auditor", f"/api/orgs/{case}/dossier").json()["case_id"] == case
    assert api.get("caseworker", f"/api/orgs/{case}").status_code == 200  # not recorded
    page = api.get("auditor", f"/api/audit/reads?case_id={case}").json()
    seen = [(r["account"], r["role"], r["what"]) for r in page["items"]]
    assert seen == [
        (PERSON["caseworker"], "caseworker", "history"),
        (PERSON["director"], "director", "history.csv"),
        (PERSON["auditor"], "auditor", "dossier"),
    ]
    assert {r["at"] for r in page["items"]} == {incubator.clock.now().isoformat()}
    first = api.get("auditor", "/api/audit/reads?limit=2").json()
    rest = api.get("auditor", f"/api/audit/reads?limit=2&cursor={first['next_cursor']}").json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


def test_a_site_is_named_by_key_or_by_name_and_an_unknown_one_is_named_as_such(
    api: Api, incubator: Incubator
) -> None:
    """A caseworker at main may apply at 主园区, its name; a site that does not exist is a 422
    that lists the sites, not a 403 that blames the caseworker's roles."""
    by_name = api.post("caseworker", "/api/orgs", APPLY | {"site": "主园区"})
    assert by_name.status_code == 201, by_name.text
    assert by_name.json()["site"] == "main"
    before = events(incubator)
    nowhere = api.post("caseworker", "/api/orgs", APPLY | {"site": "nowhere"})
    assert nowhere.status_code == 422, nowhere.text
    assert nowhere.json()["field"] == "site" and "community-1" in nowhere.json()["detail"]
    elsewhere = api.post("caseworker", "/api/orgs", APPLY | {"site": "大学生创业孵化园分园"})
    assert elsewhere.status_code == 403, elsewhere.text  # the branch park: not hers
    assert events(incubator) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/orgs", APPLY | {"party_members": True}),  # not 1 member
        ("/api/orgs", APPLY | {"party_members": 2.0}),
        ("/api/orgs", APPLY | {"party_members": "2"}),
    ],
)
def test_a_count_is_a_json_number_not_true_or_text(
    api: Api, incubator: Incubator, path: str, body: dict[str, Any]
) -> None:
    before = events(incubator)
    answer = api.post("caseworker", path, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "party_members"
    assert events(incubator) == before


def test_a_panel_of_thousands_of_experts_is_refused(api: Api, incubator: Incubator) -> None:
    case = api.post("caseworker", "/api/orgs", APPLY).json()["id"]
    api.post("caseworker", f"/api/orgs/{case}/start-inspection", {"on": "2014-01-08"})
    api.post("caseworker", f"/api/orgs/{case}/submit-for-entry", {"on": "2014-01-20"})
    before = events(incubator)
    crowd = {f"专家{i}": 80 for i in range(5000)}
    body = {"scores": crowd, "workspace": "M-01", "on": "2014-02-10"}
    answer = api.post("caseworker", f"/api/orgs/{case}/evaluate-entry", body)
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["field"] == "scores" and "50" in answer.json()["detail"]
    assert events(incubator) == before


def test_a_history_as_csv_never_holds_a_formula(api: Api) -> None:
    """Text that a spreadsheet would run (=, +, -, @ first) is exported led by an apostrophe,
    which a spreadsheet shows as text; the JSON keeps it as written."""
    import csv

    applied = api.post("caseworker", "/api/orgs", APPLY | {"reason": '=HYPERLINK("http://x","y")'})
    case = applied.json()["id"]
    visit = {"note": "@SUM(1+1)"}
    assert api.post("caseworker", f"/api/orgs/{case}/start-inspection", {}).status_code == 200
    assert api.post("caseworker", f"/api/orgs/{case}/record-visit", visit).status_code == 200
    rows = list(
        csv.DictReader(
            api.get("director", f"/api/orgs/{case}/history", Accept="text/csv").text.splitlines()
        )
    )
    assert rows[0]["reason"] == '\'=HYPERLINK("http://x","y")'
    assert not any(cell[:1] in ("=", "+", "-", "@") for row in rows for cell in row.values())
    history = api.get("director", f"/api/orgs/{case}/history").json()
    assert history[0]["reason"] == '=HYPERLINK("http://x","y")'


def test_the_record_of_reads_is_append_only(database_url: str, clock: Any) -> None:
    from sqlalchemy import text

    from commands.bootstrap import bootstrap

    system = bootstrap(database_url, clock=clock)
    try:
        with api_on(system) as api:
            case = resident(api)
            api.get("director", f"/api/orgs/{case}/history")
        engine = system.read_models.engine
        for statement in ("UPDATE api_reads SET account = 'x'", "DELETE FROM api_reads"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT account FROM api_reads")).scalars().all() == [
                PERSON["director"]
            ]
    finally:
        system.close_all()


def test_the_caseload_comes_a_page_at_a_time(api: Api) -> None:
    for n in range(7):
        api.post("director", "/api/orgs", APPLY | {"name": f"机构{n}", "on": f"2014-01-{n + 10}"})
    seen: list[str] = []
    cursor = ""
    while True:
        page = api.get("auditor", f"/api/orgs?limit=3{cursor}").json()
        seen += [row["name"] for row in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [f"机构{n}" for n in range(7)]
    assert api.get("auditor", "/api/orgs?q=机构3").json()["items"][0]["name"] == "机构3"
    bad = api.get("auditor", "/api/orgs?cursor=garbage")
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"
    assert api.get("auditor", "/api/orgs?limit=0").status_code == 422
    assert api.get("auditor", "/api/orgs?site=nowhere").json()["field"] == "site"


def test_the_openapi_description_has_a_schema_for_every_body(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    posts = {path: ops["post"] for path, ops in spec["paths"].items() if "post" in ops}
    assert (
        "/api/orgs/{id}/evaluate-entry" in posts and "/api/orgs/{id}/party/count-members" in posts
    )
    for path, op in posts.items():
        if path == "/api/token":
            continue
        assert "$ref" in op["requestBody"]["content"]["application/json"]["schema"], path
        assert op["x-right"] in {r.value for r in Right}
    body = spec["components"]["schemas"]["ApplyBody"]
    assert body["properties"]["track"]["enum"] == ["incubation", "residency"]
    assert "孵化方式" in body["properties"]["track"]["description"]
    assert body["additionalProperties"] is False
    assert spec["paths"]["/api/orgs/{id}"]["get"]["x-right"] == "read-org"
    assert PEOPLE  # the people of api_support are the ones the routes were walked as


def test_a_token_expires_with_its_session(api: Api, incubator: Incubator) -> None:
    headers = api.as_("caseworker")
    assert api.client.get("/api/orgs", headers=headers).status_code == 200
    clock = incubator.clock
    assert isinstance(clock, FixedClock)
    clock.at += timedelta(minutes=incubator.park.accounts.session.total_seconds() / 60 + 1)
    expired = api.client.get("/api/orgs", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_failed_logins_are_slowed_down_then_locked_out(api: Api, incubator: Incubator) -> None:
    name = PERSON["caseworker"]
    answers = [
        api.client.post("/api/token", data={"username": name, "password": "wrong password!"})
        for _ in range(incubator.park.accounts.lock_after_failures)
    ]
    assert [a.status_code for a in answers[:-1]] == [401] * (len(answers) - 1)
    assert int(answers[1].headers["Retry-After"]) >= 1  # slowed down
    locked = answers[-1]
    assert locked.status_code == 429 and "locked until" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 60
    right = api.client.post("/api/token", data={"username": name, "password": PASSWORD})
    assert right.status_code == 429  # the right password too, while locked
    assert api.client.post("/api/token", data={"username": name}).status_code == 422


def test_a_disabled_accounts_token_stops_working(api: Api) -> None:
    headers = api.as_("caseworker")
    assert api.client.get("/api/inbox", headers=headers).status_code == 200
    name = quote(PERSON["caseworker"])
    disabled = api.post("admin", f"/api/users/{name}/disable", {})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert api.client.get("/api/inbox", headers=headers).status_code == 401
    assert api.post("admin", "/api/users/nobody-here/disable", {}).status_code == 404


def test_a_case_s_site_is_set_by_its_application_alone() -> None:
    """The API keeps the site of each case it has seen, to check rights there without loading
    the case again (commands/reads.py): no event after the application names or sets a site."""
    events = [
        e
        for e in vars(OrganizationCase).values()
        if isinstance(e, type) and issubclass(e, DomainEvent)
    ]
    later = [e for e in events if not issubclass(e, OrganizationCase.ApplicationReceived)]
    assert len(later) > 20
    for event in later:
        assert "site" not in typing.get_type_hints(event), event.__name__
        apply = event.apply  # type: ignore[attr-defined]
        assert "site" not in apply.__code__.co_names, event.__name__
    assignments = [
        line
        for line in inspect.getsource(organization).splitlines()
        if re.search(r"\.site\b", line.split(" = ")[0]) and " = " in line
    ]
    assert assignments == [
        "            case.track, case.site, case.contact = self.track, self.site, self.contact"
    ]


def test_a_read_of_a_case_loads_it_once(api: Api, incubator: Incubator) -> None:
    """Its site (where the rights are checked) and the answer come from one load."""
    case = resident(api)
    loads: list[UUID] = []
    repository = incubator.log.repository
    get = repository.get

    def counted(aggregate_id: UUID, **options: Any) -> Any:
        loads.append(aggregate_id)
        return get(aggregate_id, **options)

    repository.get = counted  # type: ignore[method-assign]
    api.app.state.reads._sites.clear()  # as a worker that has not seen the case yet
    answer = api.client.get(f"/api/orgs/{case}", headers=api.as_("director"))
    assert answer.status_code == 200 and answer.json()["id"] == case
    assert loads.count(UUID(case)) == 1
    answer = api.client.get(f"/api/orgs/{case}", headers=api.as_("caseworker"))
    assert answer.status_code == 200 and loads.count(UUID(case)) == 2  # its site was kept
    elsewhere = resident(api, "branch", "分园志愿者协会")
    assert api.client.get(f"/api/orgs/{elsewhere}", headers=api.as_("director")).status_code == 200
    refused = api.client.get(f"/api/orgs/{elsewhere}", headers=api.as_("caseworker"))
    assert refused.status_code == 403  # checked at the site kept, as before: main only
