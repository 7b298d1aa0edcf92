"""Drive a case to a stage through the real service, with dates a caseworker would use."""

from __future__ import annotations

from uuid import UUID

from commands.service import IncubatorService
from tests.conftest import who

PANEL_PASS = ["王芳=78", "李强=82", "张敏=70"]
PANEL_FAIL = ["王芳=50", "李强=55", "张敏=40"]
ENTRY_ON = "2014-02-10"

# Each stage of the incubation track and the steps that reach it from the one before.
PATH = ["applied", "inspecting", "entry_review", "incubating", "reviewed", "follow_up", "closed"]


def new_case(
    service: IncubatorService,
    *,
    name: str = "爱心志愿者协会",
    site: str = "main",
    track: str = "incubation",
) -> UUID:
    case = service.apply(
        who("2014-01-02"),
        name=name,
        field="公益慈善",
        legal_status="registered",
        track=track,
        site=site,
    )
    return UUID(str(case.id))


def drive(service: IncubatorService, case_id: UUID, to: str, workspace: str = "M-01") -> None:
    """Take an incubation case from `applied` to `to` (one of PATH; `reviewed` is `incubating`
    with a growth review)."""
    steps = {
        "inspecting": lambda: service.start_inspection(case_id, who("2014-01-08")),
        "entry_review": lambda: service.submit_for_entry(case_id, who("2014-01-20")),
        "incubating": lambda: service.evaluate_entry(case_id, who(ENTRY_ON), PANEL_PASS, workspace),
        "reviewed": lambda: service.record_growth_review(case_id, who("2014-07-10"), ["王芳=75"]),
        "follow_up": lambda: service.evaluate_exit(case_id, who("2014-12-10"), PANEL_PASS),
        "closed": lambda: service.close_case(case_id, who("2015-12-10")),
    }
    for stage in PATH[1 : PATH.index(to) + 1]:
        steps[stage]()


def new_resident(
    service: IncubatorService, *, name: str = "青年创业服务中心", site: str = "branch"
) -> UUID:
    return new_case(service, name=name, site=site, track="residency")
