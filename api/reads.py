"""The reads: cases (a page of the caseload, one case now or as of a date, its history, its
party track, its dossier), the caller's inbox, the reports, the audit, the rounds.

Each route's right is checked by the one dependency (api/auth.py `allowed`), at the site of the
case, round or project the path names; lists show only the caller's sites.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response

from api import models
from api.auth import (
    UNAUTHORIZED,
    Grant,
    allowed,
    branch_id_site,
    case_id_site,
    project_id_site,
    round_id_site,
    x_right,
)
from api.encoding import Json
from api.problems import problem_doc
from commands.exports import history_csv
from commands.reads import PAGE_LIMIT, REPORTS
from commands.roles import Right
from lifecycle.stages import ALL_STAGES

router = APIRouter(prefix="/api")
FAILS: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    403: problem_doc("the account's roles do not allow it here"),
    404: problem_doc("no such case, round or project"),
    422: problem_doc("invalid input"),
}
Id = Annotated[UUID, Path(description="编号 — the id")]
Site = Annotated[str | None, Query(max_length=100, description="场地 — only this site")]
Name = Annotated[str | None, Query(min_length=1, max_length=100)]
Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT, description="每页条数 — rows per page")]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="上一页的 next_cursor — from the page before")
]


def _reads(request: Request) -> Any:
    return request.app.state.reads


def _record(request: Request, grant: Grant, what: str, case_id: UUID) -> None:
    """A read of a case's history, dossier or export: who, when, what (GET /api/audit/reads)."""
    request.app.state.requests.record_read(grant.principal.name, grant.role, what, str(case_id))


# ---- cases ------------------------------------------------------------------------------------


@router.get(
    "/orgs",
    response_model=models.CasePage,
    responses=FAILS,
    openapi_extra=x_right(Right.READ_ORG),
    tags=["organizations"],
    summary="机构案卷列表(分页) — the caseload at the caller's sites, a page at a time",
)
def list_orgs(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_ORG)],
    stage: Annotated[Literal[tuple(ALL_STAGES)] | None, Query()] = None,  # type: ignore[valid-type]
    site: Site = None,
    caseworker: Name = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="名称包含 — name contains")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    page = _reads(request).caseload(
        grant.sites,
        stage=stage,
        site=site,
        caseworker=caseworker,
        q=q,
        limit=limit,
        cursor=cursor,
    )
    return Json(page)


@router.get(
    "/orgs/{id}",
    response_model=models.CaseView,
    responses=FAILS,
    openapi_extra=x_right(Right.READ_ORG),
    tags=["organizations"],
    summary="一个案卷, 现在或某日 — a case now (ETag: its version) or as of a date",
)
def show_org(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_ORG, case_id_site)],
    id: Id,
    as_of: Annotated[
        date | None, Query(description="某个业务日期的状态 — as it stood on this day")
    ] = None,
) -> Any:
    view = _reads(request).case(id, as_of, grant.subject)
    headers = {} if as_of else {"ETag": f'"{view["version"]}"'}
    return Json(view, headers=headers)


@router.get(
    "/orgs/{id}/history",
    response_model=list[models.HistoryEntry],
    responses={
        **FAILS,
        200: {
            "description": "every event, oldest first (JSON; or CSV with Accept: text/csv)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
    openapi_extra=x_right(Right.READ_HISTORY),
    tags=["organizations"],
    summary="案卷的全部事件 — every event of the case with its reminders (recorded as read)",
)
def org_history(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_HISTORY, case_id_site)],
    id: Id,
) -> Any:
    events = _reads(request).history(id)
    as_csv = "text/csv" in request.headers.get("accept", "")
    _record(request, grant, "history.csv" if as_csv else "history", id)
    if as_csv:
        return Response(history_csv(events), media_type="text/csv; charset=utf-8")
    return Json(events)


@router.get(
    "/orgs/{id}/party",
    response_model=models.PartyView,
    responses=FAILS,
    openapi_extra=x_right(Right.READ_PARTY),
    tags=["party"],
    summary="党建孵化 — the case's party track (ETag: its version)",
)
def org_party(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_PARTY, case_id_site)],
    id: Id,
) -> Any:
    view = _reads(request).party(id)
    return Json(view, headers={"ETag": f'"{view["version"]}"'})


@router.get(
    "/orgs/{id}/dossier",
    response_model=models.Dossier,
    responses=FAILS,
    openapi_extra=x_right(Right.AUDIT),
    tags=["audit"],
    summary="审计档案 — the case's dossier: its events as stored, their hashes (recorded as read)",
)
def org_dossier(
    request: Request,
    grant: Annotated[Grant, allowed(Right.AUDIT, case_id_site)],
    id: Id,
) -> Any:
    dossier = _reads(request).dossier(id)
    _record(request, grant, "dossier", id)
    return Json(dossier)


@router.get(
    "/joint-branches/{id}",
    response_model=models.BranchView,
    responses=FAILS,
    openapi_extra=x_right(Right.READ_PARTY),
    tags=["party"],
    summary="联合党支部 — a joint branch and its members",
)
def joint_branch(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_PARTY, branch_id_site)],
    id: Id,
) -> Any:
    return Json(_reads(request).branch(id, grant.subject))


# ---- work, reports, audit -----------------------------------------------------------------------


@router.get(
    "/inbox",
    response_model=list[models.InboxItem],
    responses=FAILS,
    openapi_extra=x_right(Right.READ_ORG),
    tags=["organizations"],
    summary="我的待办 — the caller's due, overdue and escalated work, soonest first",
)
def inbox(request: Request, grant: Annotated[Grant, allowed(Right.READ_ORG)]) -> Any:
    people = [grant.principal.name]
    if grant.principal.may(Right.READ_ESCALATIONS):
        people.append(request.app.state.system.park.reminders.director)
    return Json(_reads(request).inbox(people, grant.sites))


@router.get(
    "/reports/{name}",
    response_model=Any,
    responses=FAILS,
    openapi_extra=x_right(Right.READ_REPORTS),
    tags=["reports"],
    summary="报表 — a report, as `incubator report NAME --json` gives it",
)
def report(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_REPORTS)],
    name: Annotated[Literal[tuple(REPORTS)], Path()],  # type: ignore[valid-type]
    site: Site = None,
    until: Annotated[date | None, Query(description="due: 截止日期 — due on or before")] = None,
    caseworker: Name = None,
    track: Annotated[Literal["incubation", "residency"] | None, Query()] = None,
    round: Annotated[UUID | None, Query(description="awards: 只看这一轮 — one round")] = None,
) -> Any:
    figures = _reads(request).report(
        name, site=site, until=until, caseworker=caseworker, track=track, round=round
    )
    return Json(figures)


@router.get(
    "/audit/verify",
    response_model=models.Verdict,
    responses=FAILS,
    openapi_extra=x_right(Right.AUDIT),
    tags=["audit"],
    summary="核验 — the whole log against its hash chain and signed checkpoints",
)
def verify(request: Request, grant: Annotated[Grant, allowed(Right.AUDIT)]) -> Any:
    return Json(_reads(request).verify())


@router.get(
    "/audit/reads",
    response_model=models.ReadPage,
    responses=FAILS,
    openapi_extra=x_right(Right.AUDIT),
    tags=["audit"],
    summary="查阅记录 — who read which case's history or dossier, and when, oldest first",
)
def reads_of_cases(
    request: Request,
    grant: Annotated[Grant, allowed(Right.AUDIT)],
    case_id: Annotated[UUID | None, Query(description="只看这个案卷 — one case")] = None,
    limit: Limit = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> Any:
    after = int(cursor) if cursor else 0
    rows = request.app.state.requests.reads(after, limit + 1, str(case_id) if case_id else None)
    more = len(rows) > limit
    rows = rows[:limit]
    return Json({"items": rows, "next_cursor": str(rows[-1]["id"]) if more else None})


# ---- rounds -----------------------------------------------------------------------------------


@router.get(
    "/rounds",
    response_model=list[models.RoundRow],
    responses=FAILS,
    openapi_extra=x_right(Right.READ_ROUNDS),
    tags=["rounds"],
    summary="公益创投轮次 — every round, the latest first",
)
def rounds(request: Request, grant: Annotated[Grant, allowed(Right.READ_ROUNDS)]) -> Any:
    return Json(_reads(request).rounds())


@router.get(
    "/rounds/{id}",
    response_model=models.RoundView,
    responses=FAILS,
    openapi_extra=x_right(Right.READ_ROUNDS),
    tags=["rounds"],
    summary="一轮公益创投 — a round: fund, awards, projects, panel (ETag: its version)",
)
def show_round(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_ROUNDS, round_id_site)],
    id: Id,
) -> Any:
    view = _reads(request).round(id, grant.subject)
    return Json(view, headers={"ETag": f'"{view["version"]}"'})


@router.get(
    "/rounds/{id}/ranking",
    response_model=list[dict[str, Any]],
    responses=FAILS,
    openapi_extra=x_right(Right.READ_ROUNDS),
    tags=["rounds"],
    summary="排名 — the round's projects, best mean first",
)
def ranking(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_ROUNDS, round_id_site)],
    id: Id,
) -> Any:
    return Json(_reads(request).ranking(id, grant.subject))


@router.get(
    "/projects/{id}",
    response_model=models.ProjectView,
    responses=FAILS,
    openapi_extra=x_right(Right.READ_ROUNDS),
    tags=["rounds"],
    summary="项目 — a project: scores, award, tranches, reports (ETag: its version)",
)
def show_project(
    request: Request,
    grant: Annotated[Grant, allowed(Right.READ_ROUNDS, project_id_site)],
    id: Id,
) -> Any:
    view = _reads(request).project(id, grant.subject)
    return Json(view, headers={"ETag": f'"{view["version"]}"'})


# ---- accounts ---------------------------------------------------------------------------------


@router.get(
    "/users",
    response_model=list[models.AccountView],
    responses=FAILS,
    openapi_extra=x_right(Right.ACCOUNTS),
    tags=["accounts"],
    summary="账户 — every account: its roles with their sites, active or not",
)
def users(request: Request, grant: Annotated[Grant, allowed(Right.ACCOUNTS)]) -> Any:
    return Json(_reads(request).accounts())


@router.get(
    "/users/{name}",
    response_model=models.AccountView,
    responses=FAILS,
    openapi_extra=x_right(Right.ACCOUNTS),
    tags=["accounts"],
    summary="一个账户 — an account",
)
def user(
    request: Request,
    grant: Annotated[Grant, allowed(Right.ACCOUNTS)],
    name: Annotated[str, Path(max_length=100)],
) -> Any:
    return Json(_reads(request).account(name))
