"""`incubator demo`: a small cohort driven through the whole lifecycle on a SQLite file.

Everything goes through the same application service the command line uses; the printed lines
are the commands a caseworker would type. Two refusals show rules at work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import click
from rich.cells import cell_len

from cli.reminders import inbox_line
from cli.render import (
    console,
    render_case,
    render_caseload,
    render_history,
    render_party,
    render_rows,
)
from commands.audit import Audit
from commands.bootstrap import Incubator, bootstrap
from commands.party import PartyService
from commands.queries import case_view, history, party_view
from commands.service import IncubatorService, Who
from lifecycle.errors import Refused
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.stages import PARTY_STAGE_NAMES_ZH, STAGE_NAMES_ZH

CASEWORKER = "李娜"
EXPERTS_GOOD = ["王建国=82", "刘慧=78", "赵志强=85"]
EXPERTS_WEAK = ["王建国=52", "刘慧=55", "赵志强=58"]


class Cohort:
    def __init__(self, service: IncubatorService, party: PartyService) -> None:
        self.service, self.party = service, party
        self.names: dict[UUID, str] = {}

    def apply(
        self,
        on: str | date,
        name: str,
        field: str,
        legal_status: str,
        site: str,
        track: str = "incubation",
    ) -> UUID:
        case = self.service.apply(
            self._who(on),
            name=name,
            field=field,
            legal_status=legal_status,
            track=track,
            site=site,
            contact="负责人",
        )
        case_id = UUID(str(case.id))
        self.names[case_id] = name
        self._print(on, name, f"apply --track {track} --site {site}", case)
        return case_id

    def do(
        self,
        on: str | date,
        case_id: UUID,
        command: str,
        call: Callable[[IncubatorService, UUID, Who], OrganizationCase],
        reason: str | None = None,
    ) -> None:
        case = call(self.service, case_id, self._who(on, reason))
        self._print(on, self.names[case_id], command, case)

    def party_do(
        self,
        on: str | date,
        case_id: UUID,
        command: str,
        call: Callable[[PartyService, UUID, Who], PartyIncubation],
    ) -> None:
        track = call(self.party, case_id, self._who(on))
        stage = f"{track.stage} {PARTY_STAGE_NAMES_ZH[track.stage]}"
        console.print(f"  {on}  {_pad(self.names[case_id], 18)} party {command:<38} → {stage}")

    def joint_branch(self, on: str, name: str, site: str) -> str:
        branch = self.party.create_joint_branch(self._who(on), name=name, site=site)
        console.print(f"  {on}  party joint-branch create --name {name} --site {site}")
        return branch.name

    def refused(
        self,
        on: str | date,
        case_id: UUID,
        command: str,
        call: Callable[[IncubatorService, UUID, Who], OrganizationCase]
        | Callable[[PartyService, UUID, Who], PartyIncubation],
        party: bool = False,
    ) -> None:
        try:
            call(self.party if party else self.service, case_id, self._who(on))  # type: ignore[arg-type]
        except Refused as e:
            console.print(f"  {on}  {_pad(self.names[case_id], 18)} {command}")
            console.print(f"{'':14}[red]refused, nothing recorded:[/] {e}", soft_wrap=True)
        else:  # pragma: no cover - the demo's script is built to be refused here
            raise AssertionError(f"{command} should have been refused")

    def _who(self, on: str | date, reason: str | None = None) -> Who:
        day = on if isinstance(on, date) else date.fromisoformat(on)
        return Who(actor=CASEWORKER, on=day, reason=reason)

    @staticmethod
    def _print(on: str | date, name: str, command: str, case: OrganizationCase) -> None:
        console.print(
            f"  {on}  {_pad(name, 18)} {command:<44} → {case.stage} {STAGE_NAMES_ZH[case.stage]}"
        )


def _pad(text: str, width: int) -> str:
    """Pad to a display width: a Chinese character takes two columns."""
    return text + " " * max(0, width - cell_len(text))


# The demonstration park's people: name, role, the sites of the demo's cases for the roles that
# work at sites. Their passwords are made anew each time and printed: none ships with the code.
DEMO_SITES = ("main", "branch", "community-1", "community-2", "community-3")
DEMO_PEOPLE = (
    ("管理员", "admin", ()),
    (CASEWORKER, "caseworker", DEMO_SITES),
    ("张建华", "instructor", DEMO_SITES),
    ("园区主任", "director", ()),
    ("审计员", "auditor", ()),
)


READABLE = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679"  # none read as another


def demo_accounts(system: Incubator) -> list[tuple[str, str, str]]:
    """An account for each of the demo's people, with a new random password each."""
    import secrets

    from commands.handlers import Actor
    from commands.messages import AddAccount

    made = []
    for name, role, sites in DEMO_PEOPLE:
        password = "".join(secrets.choice(READABLE) for _ in range(12))
        message = AddAccount(name=name, role=role, sites=sites, password=password)
        system.dispatcher.handle(message, Actor("演示", None))
        made.append((name, role, password))
    return made


def run_demo(database: str | None, settings: str | None) -> tuple[str, list[tuple[str, str, str]]]:
    """Drives the demonstration cohort; returns the database's URL and the demo's logins."""
    from platformdirs import user_data_path

    path = Path(database) if database else user_data_path("incubator") / "demo.sqlite3"
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    # A database of its own, marked a demonstration: INCUBATOR_NOW may fix its clock.
    system = bootstrap(f"sqlite:///{path.resolve()}", settings, create_for="demonstration")
    try:
        console.print(f"[bold]{system.park.name}[/]: a demonstration cohort on {path}\n")
        first, corrected = drive_cohort(Cohort(system.service, system.party))
        system.read_models.catch_up()
        console.print()
        render_caseload(system.read_models.caseload())
        case = system.service.case(corrected)
        today = system.service.today()
        render_case(case_view(case, system.park, today, system.service.party_track(case)))
        render_party(party_view(system.party.track(first)))
        figures = system.read_models.party_coverage()
        console.print(
            f"party coverage (入驻一家, 覆盖一家): {figures['covered']} of "
            f"{figures['organizations']} organizations in the park, "
            f"{figures['formal_members']} formal members, branches {figures['branches']}\n"
        )
        recorded = system.reminders.scan()
        console.print(
            f"reminders scan: {len(recorded)} reminders and escalations recorded "
            f"(`incubator reminders scan`); the inboxes (`incubator inbox`):"
        )
        render_rows("inboxes", [inbox_line(i) for i in system.read_models.inbox(today)])
        case = system.service.case(first)
        render_history(case.name, history(system.log, first))
        verdict = Audit(system).verify()
        console.print(
            f"\naudit verify (`incubator audit verify`): "
            f"{'ok' if verdict['ok'] else 'FAILED'}, {verdict['sealed']} events in the hash chain"
        )
        console.print(
            f"\nExplore it: INCUBATOR_DATABASE_URL=sqlite:///{path.resolve()} incubator org list"
        )
        logins = demo_accounts(system)
        system.read_models.catch_up()
    finally:
        system.close_all()
    return f"sqlite:///{path.resolve()}", logins


def drive_cohort(c: Cohort) -> tuple[UUID, UUID]:
    """Seven organizations, one for each way through the lifecycle, and their party tracks."""
    s = IncubatorService
    good, weak = EXPERTS_GOOD, EXPERTS_WEAK

    a = c.apply("2014-01-06", "爱心志愿者协会", "公益慈善", "registered", "main")
    c.do("2014-01-08", a, "start-inspection", s.start_inspection)
    c.do(
        "2014-01-08",
        a,
        f"assign --caseworker {CASEWORKER}",
        lambda sv, i, w: sv.assign(i, w, CASEWORKER),
    )
    c.do(
        "2014-01-15",
        a,
        "record-visit --note 走访",
        lambda sv, i, w: sv.record_visit(i, w, "走访: 团队 12 人, 服务计划清晰"),
    )
    c.do("2014-02-20", a, "submit-for-entry", s.submit_for_entry)
    c.do(
        "2014-03-03",
        a,
        "evaluate-entry --score ×3 --workspace M-01",
        lambda sv, i, w: sv.evaluate_entry(i, w, good, "M-01"),
    )

    b = c.apply("2014-01-10", "阳光助残服务队", "社区服务", "unregistered", "branch")
    c.do("2014-01-15", b, "start-inspection", s.start_inspection)
    c.do("2014-03-01", b, "submit-for-entry", s.submit_for_entry)
    c.do(
        "2014-03-03",
        b,
        "evaluate-entry --score ×3 (mean 55)",
        lambda sv, i, w: sv.evaluate_entry(i, w, weak),
    )
    c.do("2014-03-10", b, "resume-coaching", s.resume_coaching)
    c.do(
        "2014-04-10",
        b,
        "record-visit --note 辅导项目设计",
        lambda sv, i, w: sv.record_visit(i, w, "辅导项目设计"),
    )
    c.do("2014-05-05", b, "submit-for-entry", s.submit_for_entry)
    c.do(
        "2014-05-12",
        b,
        "evaluate-entry --score ×3 --workspace B-01",
        lambda sv, i, w: sv.evaluate_entry(i, w, good, "B-01"),
    )
    c.do(
        "2014-05-20",
        b,
        "correct-entry-date --to 2014-05-15",
        lambda sv, i, w: sv.correct_entry_date(i, w, date(2014, 5, 15)),
        reason="入壳协议实际签订日为 5 月 15 日",
    )
    cc = c.apply("2014-02-01", "社区老年文体队", "文化体育", "filed", "community-1")
    c.do("2014-02-05", cc, "start-inspection", s.start_inspection)
    c.do("2014-02-20", cc, "reject --reason …", s.reject, reason="无固定成员, 暂不符合孵化条件")

    d = c.apply("2014-01-20", "青年创业服务中心", "社会事务", "registered", "branch", "residency")
    c.do("2014-02-01", d, "admit --workspace B-02", lambda sv, i, w: sv.admit(i, w, "B-02"))
    c.do(
        "2014-08-01",
        d,
        "record-service-evaluation --score ×2",
        lambda sv, i, w: sv.record_service_evaluation(i, w, ["王建国=88", "刘慧=90"]),
    )

    e = c.apply("2014-02-12", "心理疏导工作室", "疏导维权", "filed", "main")
    c.do("2014-02-14", e, "start-inspection", s.start_inspection)
    c.do("2014-02-28", e, "submit-for-entry", s.submit_for_entry)
    c.refused(
        "2014-03-03",
        e,
        "evaluate-entry --score ×3 --workspace M-01",
        lambda sv, i, w: sv.evaluate_entry(i, w, good, "M-01"),
    )
    c.do(
        "2014-03-03",
        e,
        "evaluate-entry --score ×3 --workspace M-02",
        lambda sv, i, w: sv.evaluate_entry(i, w, good, "M-02"),
    )

    party_tracks(c, a, b, d, e)

    f = c.apply("2014-03-01", "市民学堂", "市民教育", "unregistered", "community-2")
    c.do("2014-03-05", f, "start-inspection", s.start_inspection)
    c.do("2014-03-20", f, "withdraw --reason …", s.withdraw, reason="团队决定暂缓, 明年再申请")

    review = ["王建国=75", "刘慧=80"]
    c.do(
        "2014-08-05",
        a,
        "record-growth-review --score ×2",
        lambda sv, i, w: sv.record_growth_review(i, w, review),
    )
    c.do(
        "2014-08-20",
        e,
        "record-growth-review --score ×2",
        lambda sv, i, w: sv.record_growth_review(i, w, review),
    )
    c.do("2014-09-30", e, "terminate --reason …", s.terminate, reason="违反园区管理规定, 提前出壳")
    c.refused(
        "2014-10-01", a, "evaluate-exit --score ×3", lambda sv, i, w: sv.evaluate_exit(i, w, good)
    )
    c.do(
        "2014-10-12",
        b,
        "record-growth-review --score ×2",
        lambda sv, i, w: sv.record_growth_review(i, w, review),
    )
    exit_beside_the_star_rating(c, a)
    c.do("2015-01-31", d, "depart --reason …", s.depart, reason="入驻期满")
    c.do(
        "2015-03-10",
        a,
        "record-follow-up --service …",
        lambda sv, i, w: sv.record_follow_up(i, w, "协助竞标政府购买服务: 社区居家养老项目"),
    )
    c.party_do(
        "2015-03-15",
        b,
        "rate --stars 3 --note …",
        lambda ps, i, w: ps.rate(i, w, 3, "联合支部活动参与积极"),
    )
    c.do(
        "2015-03-20",
        b,
        "evaluate-exit --score ×3 (mean 55)",
        lambda sv, i, w: sv.evaluate_exit(i, w, weak),
    )
    c.do(
        "2015-09-01",
        a,
        "record-follow-up --service …",
        lambda sv, i, w: sv.record_follow_up(i, w, "对接民政局资源, 申请社区公益创投"),
    )
    c.do("2016-01-05", a, "close", s.close_case)

    a_recent_entry(c)
    click.echo()
    return a, b


def party_tracks(c: Cohort, a: UUID, b: UUID, d: UUID, e: UUID) -> None:
    """The party track of each organization that moved in (入驻一家, 覆盖一家): 3 members found
    their own branch, 1 + 2 form a joint branch, 0 need an instructor and member development."""
    p = PartyService
    for org in (a, e, d):
        c.party_do("2014-03-05", org, "record-inspection", p.record_inspection)
    c.party_do(
        "2014-03-10",
        a,
        "count-members --formal 3 --transferred 3",
        lambda ps, i, w: ps.count_members(i, w, 3, transferred=3),
    )
    c.party_do(
        "2014-04-01",
        a,
        "found-branch --name 爱心志愿者协会党支部",
        lambda ps, i, w: ps.found_branch(i, w, "爱心志愿者协会党支部"),
    )
    c.party_do(
        "2014-06-30",
        a,
        "rate --stars 4 --note …",
        lambda ps, i, w: ps.rate(i, w, 4, "组织生活规范, 党员作用发挥好"),
    )
    c.party_do(
        "2014-03-10", e, "count-members --formal 0", lambda ps, i, w: ps.count_members(i, w, 0)
    )
    c.refused(
        "2014-03-11",
        e,
        "party record-development --note …",
        lambda ps, i, w: ps.record_development(i, w, "培养入党积极分子"),
        party=True,
    )
    c.party_do(
        "2014-03-12",
        e,
        "assign-instructor --instructor 张建华",
        lambda ps, i, w: ps.assign_instructor(i, w, "张建华"),
    )
    c.party_do(
        "2014-04-01",
        e,
        "record-development --note …",
        lambda ps, i, w: ps.record_development(i, w, "培养入党积极分子 2 名"),
    )
    c.party_do(
        "2014-03-10",
        d,
        "count-members --formal 1 --transferred 1",
        lambda ps, i, w: ps.count_members(i, w, 1, transferred=1),
    )
    joint = c.joint_branch("2014-05-20", "分园联合党支部", "branch")
    c.party_do("2014-05-20", b, "record-inspection", p.record_inspection)
    c.party_do(
        "2014-05-25",
        b,
        "count-members --formal 2 --transferred 2",
        lambda ps, i, w: ps.count_members(i, w, 2, transferred=2),
    )
    for org in (d, b):  # 1 + 2 formal members: the joint branch is constituted
        c.party_do(
            "2014-06-01",
            org,
            f"join-branch --branch {joint}",
            lambda ps, i, w: ps.join_branch(i, w, joint),
        )


def a_recent_entry(c: Cohort) -> None:
    """One case entered three months ago: its deadlines still lie ahead."""
    s = IncubatorService
    today = c.service.today()
    g = c.apply(today - timedelta(days=120), "青少年科学社", "市民教育", "filed", "community-3")
    c.do(today - timedelta(days=115), g, "start-inspection", s.start_inspection)
    c.do(today - timedelta(days=100), g, "submit-for-entry", s.submit_for_entry)
    c.do(
        today - timedelta(days=90),
        g,
        "evaluate-entry --score ×3 --workspace C3-01",
        lambda sv, i, w: sv.evaluate_entry(i, w, EXPERTS_GOOD, "C3-01"),
    )


def exit_beside_the_star_rating(c: Cohort, a: UUID) -> None:
    """四个同步: the exit evaluation waits for a star rating newer than the growth review."""
    good = EXPERTS_GOOD
    c.refused(  # the party's rating of 2014-06-30 is older than the growth review
        "2014-12-20", a, "evaluate-exit --score ×3", lambda sv, i, w: sv.evaluate_exit(i, w, good)
    )
    c.party_do(
        "2014-12-18",
        a,
        "rate --stars 5 --note …",
        lambda ps, i, w: ps.rate(i, w, 5, "年度星级评定: 五星"),
    )
    c.do("2014-12-20", a, "evaluate-exit --score ×3", lambda sv, i, w: sv.evaluate_exit(i, w, good))
    c.party_do(
        "2014-12-28",
        a,
        "record-service --kind model_selection",
        lambda ps, i, w: ps.record_service(i, w, "model_selection", "评为园区示范党支部"),
    )
