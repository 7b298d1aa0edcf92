"""A province-scale park network, generated day by day through the real application service.

    .venv/bin/python -m benchmarks.generate --organizations 20000 --seed 2014 \\
        --database-url sqlite:///park.sqlite3
    .venv/bin/python -m benchmarks.generate --organizations 500 --database-url \\
        'postgresql://postgres@127.0.0.1:5432/test?schema=park' --json

Thirteen cities of a province, four parks each (a main park, a branch park in the
college-student entrepreneurship park, two community incubators), written as a settings file of
their own. Organizations apply on spread-out days from 2019 on; each case then lives its life
one caseworker's step at a time: inspection and visits, rejections and withdrawals, failed entry
evaluations and coaching resumed, corrected entry dates, growth reviews, terminations, the exit
evaluation, follow-up services and the close; residents are admitted, evaluated and depart.
Every organization that moves in runs its party track: inspection, members counted, instructors,
support, members developed, joint branches joined and independent ones founded, services and
star ratings. Each working day the clock is set to that day, the reminder scan runs as the
scheduler would (so deadlines that some cases miss are reminded and escalated, as events), and
then the day's commands are issued.

Everything comes from `random.Random(seed)` and the simulated days: the same seed and counts
give the same commands and the same events (only the ids the library draws differ).

About 37 commands and 51 events an organization (reminders included). On two shared cores,
SQLite took 277 s for 2,000 organizations (applications over half a year, the density of
20,000 over five years): 270 commands/s and 365 events/s, a third of it in the daily scans;
PostgreSQL is about 2.3 times slower. 20,000 organizations: about a million events, 40 minutes.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import text

from commands.bootstrap import Incubator, bootstrap
from commands.service import Who
from lifecycle.errors import Conflict, Refused
from lifecycle.joint_branch import BRANCH_MINIMUM
from lifecycle.party import SERVICE_KINDS, SUPPORT_KINDS, SUPPORT_KINDS_WITHOUT_MEMBERS
from schedules.clock import FixedClock
from store.audit import events_table

START = date(2019, 1, 1)
SCAN_AT = clock_time(8, 30)  # the scheduler's scan after the day's reminders are due (08:00)
WORK_STARTS = clock_time(9, 0)  # then the caseworkers' commands, a few seconds apart
WORK_ENDS = clock_time(18, 0)
SECONDS_APART = 15
TAIL_YEARS = 2.5  # residents and party tracks live on this long after the last application
RESIDENCY_SHARE = 0.15

P = ParamSpec("P")
T = TypeVar("T")
# A life: yields the days until its next step (0: later the same day), on a working day.
Script = Generator[int, None, None]

# ---- the province ------------------------------------------------------------------------------

# Jiangsu's thirteen prefecture-level cities: key, Chinese name, workspace code, size.
CITIES = [
    ("nanjing", "南京", "NJ", 1.6),
    ("wuxi", "无锡", "WX", 1.2),
    ("xuzhou", "徐州", "XZ", 1.1),
    ("changzhou", "常州", "CZ", 1.0),
    ("suzhou", "苏州", "SZ", 1.6),
    ("nantong", "南通", "NT", 1.0),
    ("lianyungang", "连云港", "LY", 0.7),
    ("huaian", "淮安", "HA", 0.7),
    ("yancheng", "盐城", "YC", 0.8),
    ("yangzhou", "扬州", "YZ", 0.8),
    ("zhenjiang", "镇江", "ZJ", 0.7),
    ("taizhou", "泰州", "TZ", 0.7),
    ("suqian", "宿迁", "SQ", 0.6),
]
# Each city's "1+1+2": key, name (after the city's), workspace code, share of the city's cases.
PARKS = [
    ("main", "市社会组织孵化园", "M", 3.0),
    ("branch", "市大学生创业孵化园分园", "B", 1.5),
    ("community-1", "第一社区社会组织孵化器", "C1", 1.0),
    ("community-2", "第二社区社会组织孵化器", "C2", 1.0),
]


def province_settings(organizations: int, years: float) -> str:
    """The settings file of the network: its sites, with workspaces for the cases expected.

    A site holds about one year's entries at once (ten months in the shell, longer as a
    resident), so it gets a year's worth of applications, and a few more."""
    total = sum(size for *_, size in CITIES) * sum(share for *_, share in PARKS)
    per_year = organizations / max(years, 0.1)
    lines = ['park = "江苏省社会组织孵化网络"', 'timezone = "Asia/Shanghai"', ""]
    for city, city_name, code, size in CITIES:
        for park, park_name, letter, share in PARKS:
            count = max(5, math.ceil(per_year * size * share / total) + 3)
            lines += [
                f"[sites.{city}-{park}]",
                f'name = "{city_name}{park_name}"',
                f'workspace_prefix = "{code}-{letter}-"',
                f"workspace_count = {count}",
                "",
            ]
    return "\n".join(lines)


# ---- people and names ------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴"
)
GIVEN = words(
    "芳 娜 伟 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 平 刚 桂英 "
    "建国 志强 慧 晓东 海燕 文博 雨欣 子涵 婷 浩 宇 欣怡 俊杰 佳怡 建华 红梅 "
    "国庆 晓明 丹 鹏 飞 玲 斌 凤英 学军 春燕 立新 卫东 秀兰 玉兰 志明 振华 德胜 "
    "丽华 晓燕 思远 梓萱"
)
COMMUNITIES = words(
    "幸福里 和平 新华 友谊 光明 团结 朝阳 东风 建设 长江 运河 梅园 桂花 翠竹 银杏 "
    "湖滨 南湖 北苑 东关 西城 文昌 解放 人民 中山 紫金 锦绣 康乐 花园 龙湾 清河"
)
SPIRITS = words(
    "阳光 爱心 同心 邻里 夕阳红 青苗 彩虹 暖心 和美 乐活 启明 益行 向日葵 春晖 "
    "银龄 善行 微光 连心 久久 星火"
)
FOCUS = {
    "charity": ["助老", "助残", "济困", "助学", "关爱留守儿童", "慈善救助"],
    "culture_sports": ["书法", "舞蹈", "合唱", "太极", "读书", "摄影", "戏曲", "健步走"],
    "counselling_rights": ["心理疏导", "维权服务", "法律援助", "情绪关怀"],
    "citizen_education": ["家庭教育", "科普", "文明实践", "社区学堂", "国学"],
    "community_service": ["邻里互助", "楼道自治", "环境保护", "垃圾分类", "社区服务"],
    "social_affairs": ["社工服务", "禁毒宣传", "安置帮教", "退役军人服务"],
    "life_service": ["便民服务", "家政互助", "养老照护", "社区食堂"],
    "professional_mediation": ["人民调解", "矛盾调处", "物业纠纷调解", "婚姻家庭调解"],
}
ANY_FOCUS = [focus for foci in FOCUS.values() for focus in foci]
KINDS_OF_ORGANIZATION = words("协会 服务队 服务中心 志愿者协会 促进会 工作室 社 发展中心")
# How often an applicant works in each field (the others, if a park has more, weigh 1).
FIELD_WEIGHTS = {"charity": 4, "culture_sports": 5, "community_service": 5, "life_service": 3}

VISITS = [
    "走访: 了解团队构成与服务计划",
    "辅导: 项目书撰写",
    "辅导: 财务制度建设",
    "走访: 查看服务现场",
    "辅导: 登记备案材料准备",
    "座谈: 理事会议事规则",
]
FOLLOW_UPS = [
    "协助竞标政府购买服务",
    "对接政府资源",
    "协助申报公益创投项目",
    "组织能力建设培训",
    "协助年检与等级评估",
    "品牌项目推介",
]
SUPPORT_NOTES = {
    "space": "提供党员活动室",
    "instructor": "党建指导员上门指导",
    "training": "党务知识培训",
    "information": "党建政策宣讲",
    "project": "党建项目支持",
    "funds": "党建工作经费补助",
}
SERVICE_NOTES = {
    "joint_meeting": "联席会议",
    "model_selection": "示范党组织评选",
    "project_priority": "党建项目优先推荐",
}
RATING_NOTES = ["支部活动记录齐全", "三会一课落实到位", "党员作用发挥明显", "组织生活有待加强"]


def person(rng: random.Random, taken: set[str]) -> str:
    """A Chinese name nobody in `taken` has yet."""
    while True:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        if name not in taken:
            taken.add(name)
            return name


@dataclass
class Staff:
    """The people of the network: caseworkers and party-building instructors per site, and the
    province's expert reviewers."""

    caseworkers: dict[str, list[str]]
    instructors: dict[str, list[str]]
    experts: list[str]

    @classmethod
    def hire(cls, rng: random.Random, sites: dict[str, int]) -> Staff:
        """`sites`: each site's workspaces; a caseworker for about fifteen of them."""
        taken: set[str] = set()
        caseworkers, instructors = {}, {}
        for site, workspaces in sites.items():
            count = min(16, max(2, workspaces // 15))
            caseworkers[site] = [person(rng, taken) for _ in range(count)]
            instructors[site] = [person(rng, taken) for _ in range(max(1, count // 2))]
        return cls(caseworkers, instructors, [person(rng, taken) for _ in range(40)])


# ---- what the generator knows of each organization ---------------------------------------------


@dataclass
class Org:
    """One organization as the generator drove it (a mirror of its case and its party track, to
    choose valid next steps without reading them back)."""

    number: int
    rng: random.Random
    name: str
    field: str
    site: str
    track: str
    members: int  # formal party members, as the application says
    caseworker: str
    case_id: UUID | None = None
    applied_on: date = START
    open: bool = True
    stage: str = "applied"
    workspace: str | None = None
    submitted_on: date | None = None
    entered_on: date | None = None
    last_review: date | None = None
    party: str | None = None  # the party track's stage
    instructor: str | None = None
    counted: bool = False  # the party members were counted
    formal: int = 0
    probationary: int = 0
    transferred: int = 0
    joint: JointSeat | None = None
    rated_on: date | None = None

    @property
    def id(self) -> UUID:
        assert self.case_id is not None
        return self.case_id

    @property
    def party_actor(self) -> str:
        return self.instructor or self.caseworker


@dataclass
class JointSeat:
    """A joint branch of a site and its member organizations (by number)."""

    name: str
    id: UUID
    members: set[int] = field(default_factory=set)


class Holdings:
    """The network's free workspaces and its joint branches, as the generator's commands left
    them: an entry takes the lowest free workspace of its site."""

    def __init__(self, sites: dict[str, tuple[str, ...]]) -> None:
        self.free = {site: list(codes) for site, codes in sites.items()}
        self.order = {site: {c: n for n, c in enumerate(codes)} for site, codes in sites.items()}
        self.joint: dict[str, list[JointSeat]] = {site: [] for site in sites}

    def take(self, site: str) -> str | None:
        free = self.free[site]
        return free.pop(0) if free else None

    def give_back(self, site: str, code: str) -> None:
        free, order = self.free[site], self.order[site]
        free.append(code)
        free.sort(key=order.__getitem__)

    def branch_to_join(self, site: str) -> JointSeat | None:
        """The site's joint branch with the fewest member organizations, if one has room (a
        joint branch of neighbours meets as one: four or five organizations)."""
        seats = [s for s in self.joint[site] if len(s.members) < 5]
        return min(seats, key=lambda s: len(s.members)) if seats else None


# ---- the summary -------------------------------------------------------------------------------


@dataclass
class Tick:
    """Where the simulation stands, for a progress bar."""

    day: date
    days_done: int
    days_total: int  # an estimate until the last day
    commands: int
    reminders: int


@dataclass
class Summary:
    organizations: int
    seed: int
    first_day: str
    last_day: str
    days: int  # working days simulated
    scans: int  # reminder scans: one every working day, or every few
    commands: int
    refusals: list[str]
    events: int
    aggregates: int
    reminders: int  # reminders and escalations the scans recorded
    workspace_waits: int  # days a passed case waited for a free workspace, one week at a time
    stages: dict[str, int]
    seconds: float
    scan_seconds: float  # of which the reminder scans (and the read models catching up)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.seconds if self.seconds else 0.0

    @property
    def events_per_organization(self) -> float:
        return self.events / self.organizations if self.organizations else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "events_per_second": round(self.events_per_second, 1),
            "commands_per_second": round(self.commands_per_second, 1),
            "events_per_organization": round(self.events_per_organization, 1),
        }

    def lines(self) -> list[str]:
        return [
            f"{self.organizations:,} organizations (seed {self.seed}), {self.first_day} to "
            f"{self.last_day}: {self.days:,} working days",
            f"{self.commands:,} commands, {len(self.refusals)} refused; "
            f"{self.reminders:,} reminders and escalations",
            f"{self.events:,} events of {self.aggregates:,} aggregates "
            f"({self.events_per_organization:.1f} events per organization)",
            f"{self.seconds:,.1f} s: {self.events_per_second:,.0f} events/s, "
            f"{self.commands_per_second:,.0f} commands/s; {self.scans:,} reminder scans "
            f"took {self.scan_seconds:,.1f} s",
            "stages: " + ", ".join(f"{s} {n:,}" for s, n in sorted(self.stages.items())),
            *(f"refused: {r}" for r in self.refusals[:20]),
        ]


# ---- the simulation: days, the clock, the agenda ---------------------------------------------


@dataclass(order=True)
class Task:
    day: date
    seq: int
    script: Script = field(compare=False)
    org: Org = field(compare=False)
    bound: bool = field(compare=False)  # ends with the organization's case


class Simulation:
    """The simulated days: each working day the scan, then every step due that day, in the
    order they were planned."""

    def __init__(self, system: Incubator, start: date, scan_every: int = 1) -> None:
        self.system, self.scan_every = system, scan_every
        self.zone = ZoneInfo(system.park.timezone)
        self.days = system.park.reminders.days
        self.today = self.days.on_or_after(start)
        # One clock for every service, moved as the day's commands go out.
        self.clock = FixedClock(self._at(SCAN_AT))
        system.clock = system.service.clock = system.party.clock = self.clock
        system.reminders.clock = self.clock
        self.agenda: list[Task] = []
        self.planned = 0
        self.commands = self.reminders = self.scans = self.issued_today = self.days_done = 0
        self.scan_seconds = 0.0
        self.refusals: list[str] = []

    def plan(self, script: Script, org: Org, wait: int = 0, bound: bool = False) -> None:
        day = self.days.on_or_after(self.today + timedelta(days=wait))
        self.planned += 1
        heapq.heappush(self.agenda, Task(day, self.planned, script, org, bound))

    def issue(self, command: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """One caseworker's command, a few seconds after the last one of the day."""
        self.commands += 1
        self.issued_today += 1
        start = datetime.combine(self.today, WORK_STARTS, self.zone)
        ends = datetime.combine(self.today, WORK_ENDS, self.zone)
        self.clock.at = min(start + timedelta(seconds=SECONDS_APART * self.issued_today), ends)
        return command(*args, **kwargs)

    def run(self, progress: Callable[[Tick], None] | None, days_total: int) -> None:
        while self.agenda:
            self.issued_today = 0
            if self.days_done % self.scan_every == 0:
                self._scan()
            while self.agenda and self.agenda[0].day <= self.today:
                self._step(heapq.heappop(self.agenda))
            self.days_done += 1
            if progress is not None:
                total = max(days_total, self.days_done + 1) if self.agenda else self.days_done
                progress(Tick(self.today, self.days_done, total, self.commands, self.reminders))
            if self.agenda:
                self.today = self.days.on_or_after(self.today + timedelta(days=1))
        self.system.read_models.catch_up()

    def _scan(self) -> None:
        """The scheduler's scan in the morning: it records the reminders and escalations due by
        now (the read models catch up with yesterday's commands first)."""
        started = time.perf_counter()
        self.clock.at = self._at(SCAN_AT)
        self.reminders += len(self.system.reminders.scan())
        self.scans += 1
        self.scan_seconds += time.perf_counter() - started

    def _step(self, task: Task) -> None:
        if task.bound and not task.org.open:
            task.script.close()  # a party track ends with its organization's case
            return
        try:
            wait = next(task.script)
        except StopIteration:
            return
        except (Refused, Conflict) as e:
            self.refusals.append(f"{task.org.name} on {self.today}: {type(e).__name__}: {e}")
            return
        day = self.days.on_or_after(self.today + timedelta(days=max(0, wait)))
        heapq.heappush(self.agenda, Task(day, task.seq, task.script, task.org, task.bound))

    def _at(self, moment: clock_time) -> datetime:
        return datetime.combine(self.today, moment, self.zone).astimezone(UTC)


# ---- the lives of organizations ---------------------------------------------------------------


def late(rng: random.Random, on_time: tuple[int, int], overdue: tuple[int, int], p: float) -> int:
    """Days until a step that has a deadline: usually in time, with chance `p` after it."""
    return rng.randint(*overdue) if rng.random() < p else rng.randint(*on_time)


class Network:
    """The organizations' lives: what a caseworker would do next, and when. A life is a
    generator that issues the commands of a day and yields the days until its next step."""

    def __init__(
        self, system: Incubator, rng: random.Random, start: date, years: float, scan_every: int
    ) -> None:
        self.rng, self.rules = rng, system.park.rules
        self.park, self.service, self.party = system.park, system.service, system.party
        self.sim = Simulation(system, start, scan_every)
        sites = {key: site.workspaces for key, site in self.park.sites.items()}
        self.staff = Staff.hire(rng, {key: len(codes) for key, codes in sites.items()})
        self.holdings = Holdings(sites)
        self.window = max(1, round(years * 365))
        self.horizon = start + timedelta(days=self.window + round(TAIL_YEARS * 365))
        self.orgs: list[Org] = []
        self.names: set[str] = set()
        self.workspace_waits = 0

    # ---- the network's organizations ---------------------------------------------------------

    def populate(self, organizations: int) -> None:
        """Every organization's application day, spread over the window, and its life."""
        days = sorted(self.rng.randrange(self.window) for _ in range(organizations))
        for number, day in enumerate(days):
            org = self._organization(number)
            self.orgs.append(org)
            self.sim.plan(self._life(org), org, wait=day)

    def _organization(self, number: int) -> Org:
        rng = random.Random(self.rng.getrandbits(64))  # its own: one life does not shift another
        sites, fields = list(self.park.sites), list(self.park.fields)
        site = rng.choices(sites, [len(self.park.sites[s].workspaces) for s in sites])[0]
        field_key = rng.choices(fields, [FIELD_WEIGHTS.get(f, 1) for f in fields])[0]
        return Org(
            number=number,
            rng=rng,
            name=self._name(rng, site, field_key),
            field=field_key,
            site=site,
            track="residency" if rng.random() < RESIDENCY_SHARE else "incubation",
            members=rng.choices(range(6), [30, 25, 15, 12, 10, 8])[0],
            caseworker=rng.choice(self.staff.caseworkers[site]),
        )

    def _name(self, rng: random.Random, site: str, field_key: str) -> str:
        city = next((name for key, name, *_ in CITIES if site.startswith(f"{key}-")), "")
        focus = rng.choice(FOCUS.get(field_key, ANY_FOCUS))
        name = ""
        for _ in range(20):
            community, spirit = rng.choice(COMMUNITIES), rng.choice(SPIRITS)
            name = f"{city}{community}{spirit}{focus}{rng.choice(KINDS_OF_ORGANIZATION)}"
            if name not in self.names:
                break
        while name in self.names:
            name += "分会"
        self.names.add(name)
        return name

    # ---- what the lives share --------------------------------------------------------------

    @property
    def today(self) -> date:
        return self.sim.today

    def until(self, day: date) -> int:
        return max(0, (day - self.today).days)

    def who(self, org: Org, actor: str | None = None, reason: str | None = None) -> Who:
        return Who(actor or org.caseworker, on=self.today, reason=reason)

    def lead(self, org: Org) -> str:
        """The site's first caseworker takes applications in and hands cases out."""
        return self.staff.caseworkers[org.site][0]

    def panel(self, rng: random.Random, size: int, passing: bool) -> list[str]:
        """Each expert's score, with one decimal: all of them above the pass mark, or below."""
        mark = int(self.rules.pass_mark)
        if passing:
            low = min(100, mark + 2)
            high = max(low, 96)
        else:
            low, high = max(0, mark - 28), max(0, mark - 2)
        experts = rng.sample(self.staff.experts, size)
        return [f"{e}={Decimal(rng.randint(low * 10, high * 10)) / 10}" for e in experts]

    def board(self, rng: random.Random) -> int:
        """How many experts score an entry or an exit: the minimum, sometimes more."""
        return self.rules.min_experts + rng.choice([0, 0, 1, 2])

    def end(self, org: Org, command: Callable[[UUID, Who], Any], stage: str, why: str) -> None:
        self.sim.issue(command, org.id, self.who(org, reason=why))
        self.ended(org, stage)

    def ended(self, org: Org, stage: str) -> None:
        """The case ended: its workspace is free again, its party track left its joint branch."""
        org.open, org.stage = False, stage
        self.release(org)
        self.leave_joint(org)

    def release(self, org: Org) -> None:
        if org.workspace is not None:
            self.holdings.give_back(org.site, org.workspace)
            org.workspace = None

    def leave_joint(self, org: Org) -> None:
        if org.joint is not None:
            org.joint.members.discard(org.number)
            org.joint = None

    def workspace(self, org: Org) -> Script:
        """Waits, a week at a time and two months at most, for a free workspace at the
        organization's site; leaves it in `org.workspace` (None: none came free)."""
        for _ in range(9):
            org.workspace = self.holdings.take(org.site)
            if org.workspace is not None:
                return
            self.workspace_waits += 1
            yield 7

    # ---- an organization's case ------------------------------------------------------------

    def _life(self, org: Org) -> Script:
        rng = org.rng
        if org.track == "residency":
            rng.random()  # drawn still, so that the rest of the park is generated as before
            status = "registered"  # the residency area takes registered organizations only
        else:
            status = rng.choices(["unregistered", "filed", "registered"], [4, 4, 2])[0]
        case = self.sim.issue(
            self.service.apply,
            self.who(org, actor=self.lead(org)),
            name=org.name,
            field=org.field,
            legal_status=status,
            track=org.track,
            site=org.site,
            contact=person(rng, set()),
            party_members=org.members,
        )
        org.case_id, org.applied_on = UUID(str(case.id)), self.today
        self.sim.issue(self.service.assign, org.id, self.who(org, self.lead(org)), org.caseworker)
        if org.track == "residency":
            yield from self._residency(org, rng)
        else:
            yield from self._incubation(org, rng)

    def _incubation(self, org: Org, rng: random.Random) -> Script:
        yield late(rng, (1, 10), (15, 35), 0.07)  # the inspection starts within 14 days
        self.sim.issue(self.service.start_inspection, org.id, self.who(org))
        org.stage = "inspecting"
        if rng.random() < 0.04:
            yield rng.randint(5, 30)
            self.end(org, self.service.withdraw, "withdrawn", "团队成员流失, 主动退出")
            return
        yield from self._visits(org, rng, rng.randint(2, 8))
        if rng.random() < 0.08:
            yield rng.randint(1, 10)
            self.end(org, self.service.reject, "rejected", "不符合孵化条件")
            return
        if not (yield from self._entry(org, rng)):
            return
        self.sim.plan(self._party_track(org, rng), org, rng.choice([0, 0, 1, 2, 3]), bound=True)
        yield from self._in_shell(org, rng)
        if org.stage == "follow_up":
            yield from self._follow_up(org, rng)

    def _visits(self, org: Org, rng: random.Random, count: int) -> Script:
        for _ in range(count):
            yield rng.randint(3, 15)
            self.sim.issue(self.service.record_visit, org.id, self.who(org), rng.choice(VISITS))
        others = [c for c in self.staff.caseworkers[org.site] if c != org.caseworker]
        if others and rng.random() < 0.05:  # another caseworker of the site takes it over
            org.caseworker = rng.choice(others)
            self.sim.issue(
                self.service.assign, org.id, self.who(org, self.lead(org)), org.caseworker
            )

    def _entry(self, org: Org, rng: random.Random) -> Generator[int, None, bool]:
        """Submissions and entry evaluations until it enters the shell (True) or not."""
        for attempt in range(3):
            yield rng.randint(1, 10)
            self.sim.issue(self.service.submit_for_entry, org.id, self.who(org))
            org.stage, org.submitted_on = "entry_review", self.today
            yield late(rng, (5, 25), (31, 50), 0.06)  # evaluated within 30 days
            if attempt < 2 and rng.random() < 0.18:
                scores = self.panel(rng, self.board(rng), passing=False)
                self.sim.issue(self.service.evaluate_entry, org.id, self.who(org), scores)
                org.stage = "declined"
                yield rng.randint(3, 15)
                if rng.random() < 0.25:
                    self.end(org, self.service.reject, "rejected", "入壳评估未通过, 不再辅导")
                    return False
                self.sim.issue(self.service.resume_coaching, org.id, self.who(org))
                org.stage = "inspecting"
                yield from self._visits(org, rng, rng.randint(1, 3))
                continue
            yield from self.workspace(org)
            if org.workspace is None:
                self.end(org, self.service.withdraw, "withdrawn", "园区工位已满, 未能入壳")
                return False
            scores = self.panel(rng, self.board(rng), passing=True)
            self.sim.issue(
                self.service.evaluate_entry, org.id, self.who(org), scores, org.workspace
            )
            org.stage, org.entered_on, org.party = "incubating", self.today, "entry_inspection"
            return True
        return False

    def _in_shell(self, org: Org, rng: random.Random) -> Script:
        """Ten months in the shell: a corrected entry date now and then, growth reviews, an
        early end for some, and the exit evaluation."""
        if rng.random() < 0.05:
            yield from self._correct_entry(org, rng)
        assert org.entered_on is not None
        review = self.rules.growth_review_due(org.entered_on)
        review += timedelta(days=rng.randint(3, 30) if rng.random() < 0.1 else -rng.randint(0, 40))
        yield self.until(review)
        self._growth_review(org, rng)
        exit_on = self._exit_day(org, rng)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            room = self.until(exit_on) - 10
            if room < 30:
                break
            yield rng.randint(30, room)
            self._growth_review(org, rng)
        if rng.random() < 0.05:
            yield rng.randint(1, max(1, self.until(exit_on)))
            why = rng.choice(["连续三个月未开展活动", "违反入壳协议"])
            self.end(org, self.service.terminate, "terminated", why)
            return
        yield self.until(exit_on)
        self._exit(org, rng)

    def _correct_entry(self, org: Org, rng: random.Random) -> Script:
        """The entry was recorded a few days late: the agreement was signed earlier."""
        yield rng.randint(3, 20)
        assert org.entered_on is not None
        earliest = org.submitted_on or org.applied_on
        to = max(earliest, org.entered_on - timedelta(days=rng.randint(1, 7)))
        if to < org.entered_on:
            who = self.who(org, reason=rng.choice(["协议日期有误", "补录入壳协议签订日期"]))
            self.sim.issue(self.service.correct_entry_date, org.id, who, to)
            org.entered_on = to

    def _exit_day(self, org: Org, rng: random.Random) -> date:
        assert org.entered_on is not None
        if rng.random() < 0.1:  # late: the exit evaluation's deadline escalates
            return self.rules.exit_due(org.entered_on) + timedelta(days=rng.randint(3, 30))
        opens = self.rules.exit_opens(org.entered_on)
        return max(self.today + timedelta(days=1), opens + timedelta(days=rng.randint(2, 28)))

    def _growth_review(self, org: Org, rng: random.Random) -> None:
        if org.party == "follow_up" and rng.random() < 0.5:
            self._rate(org, rng)  # 四个同步: the star rating beside the review
        scores = self.panel(rng, rng.choice([2, 3]), passing=rng.random() < 0.9)
        self.sim.issue(self.service.record_growth_review, org.id, self.who(org), scores)
        org.last_review = self.today

    def _exit(self, org: Org, rng: random.Random) -> None:
        rated = (
            org.rated_on is not None
            and org.last_review is not None
            and org.last_review <= org.rated_on
        )
        if org.party == "follow_up" and not rated:
            self._rate(org, rng)  # the exit waits for the party organization's star rating
        passed = rng.random() < 0.9
        scores = self.panel(rng, self.board(rng), passing=passed)
        self.sim.issue(self.service.evaluate_exit, org.id, self.who(org), scores)
        if passed:
            org.stage = "follow_up"
            self.release(org)
        else:
            self.ended(org, "exited")

    def _follow_up(self, org: Org, rng: random.Random) -> Script:
        """A year of services after the exit, then the close: mostly on time, some late, a few
        early (with a reason)."""
        close_on, why = self._close_day(self.rules.follow_up_end(self.today), rng)
        for _ in range(rng.randint(4, 12)):
            room = self.until(close_on) - 5
            if room < 15:
                break
            yield rng.randint(15, min(room, 60))
            service = rng.choice(FOLLOW_UPS)
            self.sim.issue(self.service.record_follow_up, org.id, self.who(org), service)
        yield self.until(close_on)
        self.sim.issue(self.service.close_case, org.id, self.who(org, reason=why))
        self.ended(org, "closed")

    def _close_day(self, ends: date, rng: random.Random) -> tuple[date, str | None]:
        """When the case closes, and why if before the follow-up year `ends`: a close before
        it needs a reason, so when it ends on a day off the caseworker closes the working day
        before (with one) or after (late: it escalates)."""
        if rng.random() < 0.05:
            return ends - timedelta(days=rng.randint(20, 90)), "已独立承接政府购买服务, 提前结案"
        if rng.random() < 0.08:
            return ends + timedelta(days=rng.randint(10, 40)), None
        if self.sim.days.is_working(ends) or rng.random() < 0.5:
            return ends, None
        return self.sim.days.on_or_before(ends), "后续服务期满日为休息日, 提前结案"

    def _residency(self, org: Org, rng: random.Random) -> Script:
        yield rng.randint(3, 25)
        if rng.random() < 0.08:
            self.end(org, self.service.reject, "rejected", "不符合入驻条件")
            return
        yield from self.workspace(org)
        if org.workspace is None:
            self.end(org, self.service.withdraw, "withdrawn", "园区工位已满, 未能入驻")
            return
        self.sim.issue(self.service.admit, org.id, self.who(org), org.workspace)
        org.stage, org.entered_on, org.party = "resident", self.today, "entry_inspection"
        self.sim.plan(self._party_track(org, rng), org, rng.choice([0, 1, 2, 5]), bound=True)
        if rng.random() < 0.03:
            yield from self._correct_entry(org, rng)
        leaves = min(self.horizon, self.today + timedelta(days=rng.randint(360, 1400)))
        while self.until(leaves) > 120:
            yield rng.randint(90, 120)
            scores = self.panel(rng, rng.choice([2, 3]), passing=rng.random() < 0.95)
            self.sim.issue(self.service.record_service_evaluation, org.id, self.who(org), scores)
        if leaves < self.horizon:
            yield self.until(leaves)
            why = rng.choice(["入驻期满", "迁入新办公场所"])
            self.end(org, self.service.depart, "departed", why)

    # ---- its party track -----------------------------------------------------------------

    def _party_track(self, org: Org, rng: random.Random) -> Script:
        """入壳考察, 发现党员, 支持帮扶, 发展组建, 后续服务; the agenda drops it when the case
        ends, and it stops at the horizon."""
        note = rng.choice(["入壳考察", "入驻考察: 了解党员情况"])
        self.sim.issue(self.party.record_inspection, org.id, self.who(org), note)
        org.party = "member_discovery"
        yield late(rng, (2, 25), (31, 60), 0.08)  # members counted within 30 days of entry
        formal = org.members if rng.random() < 0.85 else max(0, org.members + rng.choice([-1, 1]))
        transferred = formal if rng.random() < 0.8 else rng.randint(0, formal)
        self._count(org, formal, rng.choice([0, 0, 0, 1]), transferred)
        org.party = "support"
        if formal == 0 or rng.random() < 0.4:
            self._instructor(org, rng)
        for _ in range(rng.randint(1, 4)):
            yield rng.randint(7, 30)
            self._support(org, rng)
        if org.formal == 0:
            yield from self._develop(org, rng)
        yield rng.randint(5, 40)
        if org.formal >= BRANCH_MINIMUM:
            self._found(org)
        else:
            self._join(org)
        org.party = "follow_up"
        yield from self._party_follow_up(org, rng)

    def _count(self, org: Org, formal: int, probationary: int, transferred: int) -> None:
        counted = (org.formal, org.probationary, org.transferred)
        if org.counted and (formal, probationary, transferred) == counted:
            probationary += 1  # a count is recorded again only when it changed
        who = self.who(org, actor=org.party_actor)
        self.sim.issue(self.party.count_members, org.id, who, formal, probationary, transferred)
        org.formal, org.probationary, org.transferred = formal, probationary, transferred
        org.counted = True

    def _instructor(self, org: Org, rng: random.Random) -> None:
        """一岗双责: often the caseworker, else one of the site's party-building instructors."""
        pool = [org.caseworker, *self.staff.instructors[org.site]]
        org.instructor = rng.choice([p for p in pool if p != org.instructor])
        self.sim.issue(self.party.assign_instructor, org.id, self.who(org), org.instructor)

    def _support(self, org: Org, rng: random.Random) -> None:
        kind = rng.choice(SUPPORT_KINDS_WITHOUT_MEMBERS if org.formal == 0 else SUPPORT_KINDS)
        who = self.who(org, actor=org.party_actor)
        self.sim.issue(self.party.record_support, org.id, who, kind, SUPPORT_NOTES[kind])

    def _develop(self, org: Org, rng: random.Random) -> Script:
        """No members: the instructor helps develop some, probationary for a year, then formal;
        meanwhile the instructor's advice, about monthly."""
        yield rng.randint(10, 40)
        note = rng.choice(["培养入党积极分子", "确定发展对象"])
        who = self.who(org, actor=org.party_actor)
        self.sim.issue(self.party.record_development, org.id, who, note)
        org.party = "formation"
        yield from self._advise(org, rng, rng.randint(120, 240))
        self._count(org, 0, rng.randint(1, 2), 0)
        yield from self._advise(org, rng, rng.randint(365, 400))
        self._count(org, rng.choice([1, 1, 2, 3]), 0, 0)

    def _advise(self, org: Org, rng: random.Random, days: int) -> Script:
        """Support every month or two for `days`."""
        until = self.today + timedelta(days=days)
        while self.until(until) > 30:
            yield rng.randint(20, 60)
            self._support(org, rng)
        yield self.until(until)

    def _found(self, org: Org) -> None:
        who = self.who(org, actor=org.party_actor)
        self.sim.issue(self.party.found_branch, org.id, who, f"{org.name}党支部")
        self.leave_joint(org)

    def _join(self, org: Org) -> None:
        """The site's joint branch with the fewest organizations, or a new one."""
        seat = self.holdings.branch_to_join(org.site)
        if seat is None:
            seats = self.holdings.joint[org.site]
            name = f"{self.park.site(org.site).name}第{len(seats) + 1}联合党支部"
            who = self.who(org, actor=self.staff.instructors[org.site][0])
            branch = self.sim.issue(self.party.create_joint_branch, who, name=name, site=org.site)
            seat = JointSeat(name, UUID(str(branch.id)))
            seats.append(seat)
        who = self.who(org, actor=org.party_actor)
        self.sim.issue(self.party.join_branch, org.id, who, str(seat.id))
        seat.members.add(org.number)
        org.joint = seat

    def _party_follow_up(self, org: Org, rng: random.Random) -> Script:
        """Joint meetings, model selections, project priority and star ratings; a member of a
        joint branch that grows to three founds its own branch."""
        while True:
            yield rng.randint(15, 45)  # a joint meeting a month, give or take
            if self.today >= self.horizon:
                return
            chance = rng.random()
            if chance < 0.25:
                self._rate(org, rng)
            elif chance < 0.29 and org.joint is not None:
                self._count(org, org.formal + 1, 0, org.transferred)
                if org.formal >= BRANCH_MINIMUM:
                    self._found(org)
            else:
                kind = rng.choices(SERVICE_KINDS, [6, 1, 1])[0]
                who = self.who(org, actor=org.party_actor)
                self.sim.issue(self.party.record_service, org.id, who, kind, SERVICE_NOTES[kind])

    def _rate(self, org: Org, rng: random.Random) -> None:
        stars = rng.choices(range(1, 6), [1, 3, 6, 5, 2])[0]
        who = self.who(org, actor=org.party_actor)
        self.sim.issue(self.party.rate, org.id, who, stars, rng.choice(RATING_NOTES))
        org.rated_on = self.today


# ---- generating --------------------------------------------------------------------------------


def generate(
    system: Incubator,
    organizations: int,
    seed: int,
    progress: Callable[[Tick], None] | None = None,
    *,
    start: date = START,
    years: float = 5.0,
    scan_every: int = 1,
) -> Summary:
    """Drive `organizations` lives through `system`'s services, applications spread over
    `years` from `start`, with a reminder scan every `scan_every` working days. The system's
    clock is replaced by the simulation's; the sites, workspaces and fields are the system's
    park (see `province_settings`)."""
    started = time.perf_counter()
    events_before, aggregates_before = counts(system)
    network = Network(system, random.Random(seed), start, years, scan_every)
    network.populate(organizations)
    sim = network.sim
    sim.run(progress, working_days(start, network.horizon))
    events, aggregates = counts(system)
    return Summary(
        organizations=organizations,
        seed=seed,
        first_day=sim.days.on_or_after(start).isoformat(),
        last_day=sim.today.isoformat(),
        days=sim.days_done,
        scans=sim.scans,
        commands=sim.commands,
        refusals=sim.refusals,
        events=events - events_before,
        aggregates=aggregates - aggregates_before,
        reminders=sim.reminders,
        workspace_waits=network.workspace_waits,
        stages=dict(Counter(org.stage for org in network.orgs)),
        seconds=round(time.perf_counter() - started, 3),
        scan_seconds=round(sim.scan_seconds, 3),
    )


def counts(system: Incubator) -> tuple[int, int]:
    """Events and aggregates in the log."""
    table = events_table(system.database)
    with system.read_models.engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT COUNT(*), COUNT(DISTINCT originator_id) FROM {table}")
        ).one()
    return int(row[0]), int(row[1])


def working_days(start: date, until: date) -> int:
    """About how many working days lie between: no weekends, and some ten holidays a year."""
    return max(1, round((until - start).days * 5 / 7 * 0.96))


# ---- the command line --------------------------------------------------------------------------


def command_line() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument(
        "--database-url",
        default="sqlite:///park.sqlite3",
        help="a new database: sqlite:///PATH or postgresql://USER@HOST:PORT/DB?schema=NAME",
    )
    parser.add_argument("--years", type=float, default=5.0, help="applications over these years")
    parser.add_argument("--start", type=date.fromisoformat, default=START, help="YYYY-MM-DD")
    parser.add_argument(
        "--scan-every",
        type=int,
        default=1,
        help="working days between reminder scans (1: every morning, as the scheduler does)",
    )
    parser.add_argument(
        "--settings-out",
        type=Path,
        help="where to write the network's settings file (default: a new temporary folder); "
        "point INCUBATOR_SETTINGS at it to use the generated park with `incubator`",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = command_line()
    args = parser.parse_args(argv)
    if args.organizations < 1 or args.scan_every < 1 or args.years <= 0:
        parser.error("--organizations and --scan-every must be 1 or more, --years above 0")

    settings = province_settings(args.organizations, args.years)
    path = args.settings_out or Path(tempfile.mkdtemp(prefix="incubator-generate-")) / "park.toml"
    if path.exists() and path.read_text(encoding="utf-8") != settings:
        parser.error(f"{path} holds other settings: give a new --settings-out")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings, encoding="utf-8")
    start = datetime.combine(args.start, SCAN_AT, ZoneInfo("Asia/Shanghai"))
    system = bootstrap(args.database_url, settings_path=path, clock=FixedClock(start))
    try:
        if system.read_models.head():
            parser.error(f"{system.database.url} already holds events: give a new database")
        with reporting(args.quiet) as progress:
            summary = generate(
                system,
                args.organizations,
                args.seed,
                progress,
                start=args.start,
                years=args.years,
                scan_every=args.scan_every,
            )
    finally:
        system.close_all()
    if args.json:
        print(json.dumps({**summary.as_json(), "settings": str(path)}, ensure_ascii=False))
    else:
        print("\n".join([*summary.lines(), f"settings: {path}"]))


@contextmanager
def reporting(quiet: bool) -> Iterator[Callable[[Tick], None] | None]:
    """A progress bar on a terminal; elsewhere a line a simulated quarter; nothing if quiet."""
    if quiet:
        yield None
    elif not sys.stderr.isatty():
        yield QuarterLines()
    else:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("working days · {task.fields[commands]:,} commands"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as bar:
            task = bar.add_task("", total=None, commands=0)

            def advance(tick: Tick) -> None:
                bar.update(
                    task,
                    description=str(tick.day),
                    completed=tick.days_done,
                    total=tick.days_total,
                    commands=tick.commands,
                )

            yield advance


class QuarterLines:
    """Progress as a line on stderr when a simulated quarter begins."""

    def __init__(self) -> None:
        self.quarter: tuple[int, int] | None = None

    def __call__(self, tick: Tick) -> None:
        quarter = (tick.day.year, (tick.day.month - 1) // 3)
        if quarter != self.quarter:
            self.quarter = quarter
            print(
                f"{tick.day}: working day {tick.days_done:,} of about {tick.days_total:,}, "
                f"{tick.commands:,} commands, {tick.reminders:,} reminders",
                file=sys.stderr,
                flush=True,
            )


if __name__ == "__main__":
    main()
