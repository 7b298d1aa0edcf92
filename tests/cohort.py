"""A known cohort, driven through the real services, for the pictures and their read models.

As of 2015-06-01 (noon in Shanghai):
- 2014 applications (incubation): 爱心志愿者协会 (main) entered, exited successfully, closed;
  阳光助残服务队 (branch) entered, still in the shell past its exit deadline; 心理疏导工作室 (main)
  entered, then terminated; 社区老年文体队 (community-1) rejected; 市民学堂 (community-2) withdrew
  before entering; 伊金霍洛读书会 (main) imported as incubating since 2014-06-03, without a party
  track.
- 2015: 青少年科学社 (community-3) applied and entered.
- residency: 青年创业服务中心 (branch), admitted in 2014.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

from commands.bootstrap import Incubator, bootstrap
from commands.service import IncubatorService, Who
from commands.workbooks import Table
from schedules.clock import FixedClock
from tests.builders import PANEL_PASS
from tests.conftest import who

TODAY = date(2015, 6, 1)
NOW = datetime(2015, 6, 1, 4, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Known:
    system: Incubator
    ids: dict[str, UUID]  # by organization name


def known_cohort(tmp_path: Path, database_url: str | None = None) -> Known:
    url = database_url or f"sqlite:///{tmp_path / 'cohort.sqlite3'}"
    system = bootstrap(url, clock=FixedClock(NOW))
    s = system.service
    ids: dict[str, UUID] = {}

    def apply(name: str, on: str, site: str, track: str = "incubation") -> UUID:
        case = s.apply(
            who(on),
            name=name,
            field="公益慈善",
            legal_status="registered",
            track=track,
            site=site,
        )
        ids[name] = UUID(str(case.id))
        return ids[name]

    def enter(case: UUID, applied: str, entered: str, workspace: str) -> None:
        s.start_inspection(case, who(applied))
        s.submit_for_entry(case, who(applied))
        s.evaluate_entry(case, who(entered), PANEL_PASS, workspace)

    a = apply("爱心志愿者协会", "2014-01-02", "main")
    enter(a, "2014-01-08", "2014-02-10", "M-01")
    s.record_growth_review(a, who("2014-07-10"), ["王芳=75"])
    s.evaluate_exit(a, who("2014-12-10"), PANEL_PASS)
    s.close_case(a, who("2015-05-04", reason="机构迁往市区, 后续服务由市孵化中心接续"))

    b = apply("阳光助残服务队", "2014-01-10", "branch")
    enter(b, "2014-01-15", "2014-03-03", "B-01")

    c = apply("心理疏导工作室", "2014-02-12", "main")
    enter(c, "2014-02-14", "2014-03-03", "M-02")
    s.terminate(c, who("2014-09-30", reason="违反园区管理规定, 提前出壳"))

    d = apply("社区老年文体队", "2014-02-01", "community-1")
    s.reject(d, who("2014-02-20", reason="无固定成员, 暂不符合孵化条件"))

    e = apply("市民学堂", "2014-03-01", "community-2")
    s.start_inspection(e, who("2014-03-05"))
    s.withdraw(e, who("2014-03-20", reason="团队决定暂缓, 明年再申请"))

    f = apply("青少年科学社", "2015-01-05", "community-3")
    enter(f, "2015-01-20", "2015-03-02", "C3-01")

    g = apply("青年创业服务中心", "2014-01-20", "branch", track="residency")
    s.admit(g, who("2014-02-01"), "B-02")

    imported = system.importing.import_table(Who("李娜"), _records())
    assert not imported.problems, imported.as_json()
    ids["伊金霍洛读书会"] = imported.imported[0]
    system.read_models.catch_up()
    return Known(system, ids)


def _records() -> Table:
    header = ["机构名称", "领域", "孵化方式", "场地", "阶段", "申请日期", "考察开始日期"]
    header += ["提交入壳评估日期", "入壳日期", "工位", "登记状态"]
    row = ["伊金霍洛读书会", "市民教育", "孵化", "main", "壳内孵化", "2014-04-01", "2014-04-10"]
    row += ["2014-05-20", "2014-06-03", "M-03", "备案"]
    return Table("园区台账.csv", "0" * 64, header, [(2, row)])


def in_shell_of_the_log(service: IncubatorService, case_id: UUID) -> tuple[date, date | None]:
    """A case's entry date and the day it left the shell, as its own events say."""
    case = service.case(case_id)
    assert case.entered_on is not None
    return case.entered_on, case.exit_on or case.ended_on
