"""The shapes of what the API answers, for its OpenAPI description (the answers themselves are
the views of commands/queries.py and commands/reads.py; further keys may come with them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class View(BaseModel):
    model_config = ConfigDict(extra="allow")


class Deadline(View):
    kind: str
    start_on: str | None
    due_on: str
    status: str = Field(description="pending, overdue, done or cancelled")
    met_on: str | None


class CaseView(View):
    """An organization case (`incubator org show --json`)."""

    id: str
    name: str
    track: str
    stage: str
    site: str
    workspace: str | None
    field: str
    legal_status: str
    caseworker: str | None
    contact: str | None
    applied_on: str
    entered_on: str | None
    deadlines: list[Deadline]
    allowed_commands: list[str] | None = None
    version: int = Field(description="案卷的版本(ETag) — the case's version, its ETag")
    party: dict[str, Any] | None


class PartyView(View):
    """A party track (`incubator party show --json`)."""

    id: str
    case_id: str
    organization: str
    site: str
    stage: str
    formal_members: int | None
    instructor: str | None
    branch: dict[str, Any]
    stars: int | None
    allowed_commands: list[str]
    version: int


class BranchView(View):
    """A joint party branch."""

    id: str
    name: str
    site: str
    formal_members: int
    constituted: bool
    members: list[dict[str, Any]]


class RoundView(View):
    """A venture-philanthropy round (`incubator round show --json`)."""

    id: str
    name: str
    fund: float
    awarded_total: float
    remaining: float
    stage: str
    site: str | None
    projects: dict[str, int]
    allowed_commands: list[str]
    version: int


class ProjectView(View):
    """A project of a round (`incubator round project --json`)."""

    id: str
    round: str
    org: str
    title: str
    amount: float
    status: str
    awarded: float | None
    allowed_commands: list[str]
    version: int


class CaseRow(View):
    id: str
    name: str
    track: str
    stage: str
    site: str
    workspace: str | None
    caseworker: str | None
    applied_on: str


class CasePage(BaseModel):
    items: list[CaseRow]
    next_cursor: str | None = Field(
        description="下一页的游标, 没有下一页时为空 — ?cursor= for the next page; null on the last"
    )


class HistoryEntry(View):
    version: int
    type: str
    on: str | None
    recorded_at: str
    actor: str
    role: str | None
    reason: str | None
    data: dict[str, Any]
    changed: dict[str, Any]


class InboxItem(View):
    case_id: str
    organization: str
    site: str
    kind: str
    due_on: str
    status: str


class Verdict(View):
    ok: bool


class Dossier(View):
    format: str
    case_id: str
    organization: str
    events: list[dict[str, Any]]


class ReadRecord(BaseModel):
    id: int
    account: str
    role: str | None
    at: str
    what: str
    case_id: str


class ReadPage(BaseModel):
    items: list[ReadRecord]
    next_cursor: str | None


class RoundRow(View):
    id: str
    name: str
    stage: str


class AccountView(View):
    """An account: its roles with their sites, whether it is active (never its password)."""

    name: str
    roles: dict[str, list[str]]
    active: bool
    language: str | None
    created_on: str
