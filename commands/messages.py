"""Every command a person can give, as a message: its parameters with their types, bounds and
help (Chinese and English), and the stages it applies to.

One frozen dataclass per command, named in the imperative. The command line is generated from
these declarations (cli/commands.py); the HTTP API and the web forms are to be generated from the
same ones. Who acts is not a field: the dispatcher takes it from whoever is authenticated. A
message checks its own bounds when it is made, so no caller can hand a handler what the domain
would refuse as malformed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from lifecycle import bounds
from lifecycle.account import LANGUAGES, PASSWORD_MAX, ROLE_NAMES
from lifecycle.bounds import Invalid
from lifecycle.credit_code import credit_code
from lifecycle.errors import Term
from lifecycle.organization import IMPORTED_STAGES
from lifecycle.park import LEGAL_STATUSES
from lifecycle.party import SERVICE_KINDS, SUPPORT_KINDS
from lifecycle.project import REPORT_KINDS
from lifecycle.stages import (
    ACCOUNT_WORKFLOW,
    PARTY_WORKFLOW,
    PROJECT_WORKFLOW,
    ROUND_WORKFLOW,
    TRACKS,
    WORKFLOWS,
    Workflow,
)


@dataclass(frozen=True)
class Kind:
    """What a parameter holds: how to read it as typed (`parse`), how to check a value given
    already typed (`check`, from JSON or code), and how it is shown in help."""

    name: str
    parse: Callable[[str, str], Any]
    check: Callable[[Any, str], Any]
    metavar: str
    choices: tuple[str, ...] = ()
    pair: tuple[str, str] | None = None  # a yes/no flag: --pass/--fail
    # A secret (a password): never an option's value, never shown, never repeated by a refusal;
    # the command line reads it from standard input (--password-stdin).
    secret: bool = False


def _choice(name: str, options: tuple[str, ...]) -> Kind:
    def check(value: Any, param: str) -> str:
        if value not in options:
            raise Invalid(param, value, "must be one of {options}", options=", ".join(options))
        return str(value)

    return Kind(name, check, check, "|".join(options), options)


def _case_id(value: Any, param: str) -> UUID:
    if not isinstance(value, UUID):
        raise Invalid(param, value, "must be a case id (a UUID)")
    return value


def _id_of(what: str) -> Callable[[Any, str], UUID]:
    def check(value: Any, param: str) -> UUID:
        if not isinstance(value, UUID):
            raise Invalid(param, value, "must be {what} (a UUID)", what=what)
        return value

    return check


def _case_ids(value: Any, param: str) -> tuple[UUID, ...]:
    if isinstance(value, str | UUID) or not all(isinstance(v, UUID) for v in value):
        raise Invalid(param, value, "must be case ids (UUIDs), one per option")
    return tuple(dict.fromkeys(value))


def _score(value: Any, param: str) -> Decimal:
    """One expert's score, typed (78.5) or as a number from code or JSON (never a float)."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid(param, value, "must be a number from 0 to 100 with at most 2 decimals")
    return bounds.score(value, param)


def _verdict(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(param, value, "must be given: --pass or --fail")
    return value


def _scores(value: Any, param: str) -> dict[str, Decimal]:
    """Each expert's score: {"王建国": 82, ...}, or as typed, ["王建国=82", ...]."""
    from lifecycle.scores import Panel

    if isinstance(value, Mapping):
        value = [f"{expert}={score}" for expert, score in value.items()]
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise Invalid(param, value, "must be EXPERT=N scores (for example 王芳=78)")
    return Panel.parse(list(value)).scores


def _names(value: Any, param: str) -> tuple[str, ...]:
    """Names given one per option (--site main --site branch), or a list of them from JSON."""
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise Invalid(param, value, "must be names, one per option")
    return tuple(dict.fromkeys(bounds.NAME.check(v, param) for v in value))


def _password(value: Any, param: str) -> str:
    """Text of 1 to PASSWORD_MAX characters; its rules are the account's (lifecycle/account.py).
    A refusal never repeats it."""
    if not isinstance(value, str) or not value:
        raise Invalid(param, None, "must be given, as text", secret=True)
    if len(value) > PASSWORD_MAX:
        raise Invalid(param, None, "must be at most {n} characters", secret=True, n=PASSWORD_MAX)
    return value


NAME = Kind("name", bounds.NAME.check, bounds.NAME.check, "NAME")
NOTE = Kind("text", bounds.NOTE.check, bounds.NOTE.check, "TEXT")
MEMBERS = Kind("count", bounds.MEMBERS.parse, bounds.MEMBERS.check, "K")
STARS = Kind("stars", bounds.STARS.parse, bounds.STARS.check, "N")
DAY = Kind("date", bounds.parse_day, bounds.day, "YYYY-MM-DD")
CASE = Kind("case", bounds.id_prefix, _case_id, "ORG")
SCORES = Kind("scores", _scores, _scores, "EXPERT=N")
LEGAL_STATUS = _choice("legal status", LEGAL_STATUSES)
CREDIT_CODE = Kind("credit code", credit_code, credit_code, "CODE")
# Venture-philanthropy rounds (公益创投)
ROUND = Kind("round", bounds.id_prefix, _id_of(Term("a round id")), "ROUND")
PROJECT = Kind("project", bounds.id_prefix, _id_of(Term("a project id")), "PROJECT")
ORG = Kind("organization", bounds.id_prefix, _case_id, "ORG")  # a case named by an option
ORGS = Kind("organizations", bounds.id_prefix, _case_ids, "ORG")
MONEY = Kind("yuan", bounds.MONEY.parse, bounds.MONEY.check, "YUAN")
SCORE = Kind("score", _score, _score, "N")
MIN_SCORES = Kind("count", bounds.MIN_SCORES.parse, bounds.MIN_SCORES.check, "K")
VERDICT = Kind("verdict", _verdict, _verdict, "", pair=("pass", "fail"))
# Accounts and roles (issue #14)
ACCOUNT = Kind("account", bounds.NAME.check, bounds.NAME.check, "NAME")  # an account there is
NEW_ACCOUNT = Kind("new account", bounds.NAME.check, bounds.NAME.check, "NAME")
ROLE = _choice("role", ROLE_NAMES)
SITES = Kind("sites", bounds.NAME.check, _names, "SITE")
LANGUAGE = _choice("language", LANGUAGES)
PASSWORD = Kind("password", _password, _password, "", secret=True)
# What a command is about (a case, a round, a project, an account): its stages are declared.
SUBJECTS = (CASE, ROUND, PROJECT, ACCOUNT)
# These come first on its command line: incubator org show ORG, incubator user add NAME.
POSITIONAL = (*SUBJECTS, NEW_ACCOUNT)


@dataclass(frozen=True)
class Param:
    kind: Kind
    zh: str
    en: str
    option: str | None = None  # the command line's name, when it is not the field's
    many: bool = False  # given once per item (--score per expert)


def param(kind: Kind, zh: str, en: str, *, default: Any = dataclasses.MISSING, **more: Any) -> Any:
    """A message field with its kind and help; `default` makes it optional. A secret is left
    out of the message's repr."""
    return field(
        default=default, repr=not kind.secret, metadata={"param": Param(kind, zh, en, **more)}
    )


@dataclass(frozen=True, kw_only=True)
class Command:
    """What every command carries besides its own parameters."""

    group: ClassVar[str]  # "org", "party", "party joint-branch"
    verb: ClassVar[str]  # as the command line spells it: "evaluate-entry"
    zh: ClassVar[str]
    en: ClassVar[str]
    # The trigger of its track's workflow, whose declaration says the stages it applies to.
    trigger: ClassVar[str | None] = None

    on: date | None = param(
        DAY, "生效的业务日期(默认今天)", "effective business date (default: today)", default=None
    )
    reason: str | None = param(
        NOTE, "原因(部分命令必填)", "why (required by some commands)", default=None
    )

    def __post_init__(self) -> None:
        for name, spec in params(type(self)):
            value = getattr(self, name)
            try:
                if value is not None:
                    object.__setattr__(self, name, spec.kind.check(value, flag(name, spec)))
                elif required(type(self), name):  # None is no answer (--pass/--fail, say)
                    raise Invalid(flag(name, spec), "", "must be given")  # nothing was given
            except Invalid as refusal:
                refusal.field = name  # the message's own name for it (ROUND is `round`)
                raise

    @classmethod
    def workflows(cls) -> tuple[Workflow, ...]:
        return ()

    @classmethod
    def stages(cls) -> list[str]:
        """The stages this command may be given in, from its workflow's declaration."""
        if cls.trigger is None:
            return []
        found = (w.sources(cls.trigger) for w in cls.workflows())
        return list(dict.fromkeys(stage for stages in found for stage in stages))


def params(message: type[Command]) -> Iterator[tuple[str, Param]]:
    for f in dataclasses.fields(message):
        if "param" in f.metadata:
            yield f.name, f.metadata["param"]


def flag(name: str, spec: Param) -> str:
    """The parameter as the command line names it: --workspace, --score, ORG, --pass/--fail."""
    if spec.kind in POSITIONAL:
        return spec.kind.metavar
    if spec.kind.pair is not None:
        return "/".join(f"--{word}" for word in spec.kind.pair)
    if spec.kind.secret:
        return f"--{(spec.option or name).replace('_', '-')}-stdin"
    return f"--{(spec.option or name).replace('_', '-')}"


def required(message: type[Command], name: str) -> bool:
    f = next(f for f in dataclasses.fields(message) if f.name == name)
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


# ---- organization incubation (社会组织孵化) ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseCommand(Command):
    group = "org"
    org: UUID = param(
        CASE, "机构案卷的编号(或其前 4 位以上)", "the case id (or its first 4+ characters)"
    )

    @classmethod
    def workflows(cls) -> tuple[Workflow, ...]:
        return tuple(WORKFLOWS.values())


@dataclass(frozen=True, kw_only=True)
class Apply(Command):
    group, verb, trigger = "org", "apply", None
    zh = "项目申请: 新的孵化案卷, 阶段 applied; 打印其编号。"
    en = "A new case in `applied`; prints its id."
    name: str = param(NAME, "机构或团队的名称", "the organization's or team's name")
    field: str = param(
        NAME, "领域: 中文名(公益慈善)或英文键(charity)", "field, by Chinese name or English key"
    )
    legal_status: str = param(LEGAL_STATUS, "登记状态", "legal status (登记/备案)")
    track: str = param(_choice("track", TRACKS), "孵化方式: 孵化或入驻", "incubation or residency")
    site: str = param(NAME, "园区场地: main, branch, community-1 …", "the site")
    contact: str | None = param(NAME, "联系人", "the contact person", default=None)
    party_members: int | None = param(
        MEMBERS, "已知的正式党员人数", "formal party members, if known", default=None
    )


@dataclass(frozen=True, kw_only=True)
class StartInspection(CaseCommand):
    verb, trigger = "start-inspection", "start_inspection"
    zh = "开始考察辅导: applied → inspecting。"
    en = "applied → inspecting (考察辅导)."


@dataclass(frozen=True, kw_only=True)
class Assign(CaseCommand):
    verb, trigger = "assign", "assign"
    zh = "指定负责的社工(任何未结束的阶段)。"
    en = "The caseworker in charge (any open stage)."
    caseworker: str = param(NAME, "负责的社工", "the caseworker")


@dataclass(frozen=True, kw_only=True)
class RecordVisit(CaseCommand):
    verb, trigger = "record-visit", "record_visit"
    zh = "一次走访或辅导; 阶段不变(inspecting)。"
    en = "A visit or coaching session; stays inspecting."
    note: str = param(NOTE, "看到或做了什么", "what was seen or done")


@dataclass(frozen=True, kw_only=True)
class SubmitForEntry(CaseCommand):
    verb, trigger = "submit-for-entry", "submit_for_entry"
    zh = "提交入壳评估: inspecting → entry_review。"
    en = "inspecting → entry_review (入壳评估)."


@dataclass(frozen=True, kw_only=True)
class EvaluateEntry(CaseCommand):
    verb, trigger = "evaluate-entry", "evaluate_entry"
    zh = "入壳评估: 专家平均分及格 → incubating(占用工位), 否则 → declined。"
    en = "Entry evaluation: → incubating if the mean passes (taking the workspace), else declined."
    scores: dict[str, Decimal] = param(
        SCORES,
        "一位专家的评分, 0-100; 每位专家一次",
        "one expert's score, 0-100; repeat per expert",
        option="score",
        many=True,
    )
    workspace: str | None = param(
        NAME, "通过时占用的工位", "the workspace it takes if it passes", default=None
    )


@dataclass(frozen=True, kw_only=True)
class ResumeCoaching(CaseCommand):
    verb, trigger = "resume-coaching", "resume_coaching"
    zh = "评估未通过后重新辅导: declined → inspecting。"
    en = "declined → inspecting: coaching again."


@dataclass(frozen=True, kw_only=True)
class RecordGrowthReview(CaseCommand):
    verb, trigger = "record-growth-review", "record_growth_review"
    zh = "成长评估; 阶段不变(incubating)。"
    en = "A growth evaluation (成长评估); stays incubating."
    scores: dict[str, Decimal] = param(
        SCORES, "一位专家的评分, 0-100", "one expert's score, 0-100", option="score", many=True
    )


@dataclass(frozen=True, kw_only=True)
class CorrectEntryDate(CaseCommand):
    verb, trigger = "correct-entry-date", "correct_entry_date"
    zh = "更正记错的入壳日期(须 --reason); 期限随之移动。"
    en = "Fix a wrongly recorded entry date (--reason required); the deadlines move."
    to: date = param(DAY, "正确的入壳日期", "the right entry date")


@dataclass(frozen=True, kw_only=True)
class EvaluateExit(CaseCommand):
    verb, trigger = "evaluate-exit", "evaluate_exit"
    zh = "出壳评估: 及格 → follow_up, 否则 → exited; 释放工位。"
    en = "Exit evaluation (出壳评估): → follow_up if it passes, else exited."
    scores: dict[str, Decimal] = param(
        SCORES, "一位专家的评分, 0-100", "one expert's score, 0-100", option="score", many=True
    )


@dataclass(frozen=True, kw_only=True)
class RecordFollowUp(CaseCommand):
    verb, trigger = "record-follow-up", "record_follow_up"
    zh = "一次后续服务; 阶段不变(follow_up)。"
    en = "A follow-up service (后续服务); stays follow_up."
    service: str = param(NOTE, "提供的服务", "the service given")


@dataclass(frozen=True, kw_only=True)
class Close(CaseCommand):
    verb, trigger = "close", "close"
    zh = "结案: follow_up → closed; 后续服务年未满时须 --reason。"
    en = "follow_up → closed; before the follow-up year ends, only with --reason."


@dataclass(frozen=True, kw_only=True)
class Reject(CaseCommand):
    verb, trigger = "reject", "reject"
    zh = "不予孵化(须 --reason)。"
    en = "Reject the application (--reason required)."


@dataclass(frozen=True, kw_only=True)
class Withdraw(CaseCommand):
    verb, trigger = "withdraw", "withdraw"
    zh = "机构主动退出(须 --reason)。"
    en = "The organization withdraws (--reason required)."


@dataclass(frozen=True, kw_only=True)
class Terminate(CaseCommand):
    verb, trigger = "terminate", "terminate"
    zh = "提前终止壳内孵化(须 --reason)。"
    en = "End the in-shell period early (--reason required)."


@dataclass(frozen=True, kw_only=True)
class Admit(CaseCommand):
    verb, trigger = "admit", "admit"
    zh = "入驻: applied → resident, 占用工位(入驻方式)。"
    en = "applied → resident, taking a workspace (residency track)."
    workspace: str = param(NAME, "占用的工位", "the workspace it takes")


@dataclass(frozen=True, kw_only=True)
class RecordServiceEvaluation(CaseCommand):
    verb, trigger = "record-service-evaluation", "record_service_evaluation"
    zh = "入驻机构的服务评估。"
    en = "A service evaluation (服务评估) of a resident."
    scores: dict[str, Decimal] = param(
        SCORES, "一位专家的评分, 0-100", "one expert's score, 0-100", option="score", many=True
    )


@dataclass(frozen=True, kw_only=True)
class Depart(CaseCommand):
    verb, trigger = "depart", "depart"
    zh = "迁出: resident → departed(入驻方式)。"
    en = "resident → departed: the resident leaves (residency track)."


@dataclass(frozen=True, kw_only=True)
class RecordFiling(CaseCommand):
    verb, trigger = "record-filing", "record_filing"
    zh = "备案: unregistered → filed, 附备案编号和备案机关。"
    en = "Filed (备案) with a community-level authority: unregistered → filed."
    number: str = param(NAME, "备案编号", "the filing number")
    authority: str = param(NAME, "备案机关(如某街道办事处)", "the authority it was filed with")


@dataclass(frozen=True, kw_only=True)
class RecordRegistration(CaseCommand):
    verb, trigger = "record-registration", "record_registration"
    zh = "登记: → registered, 附统一社会信用代码和登记管理机关。"
    en = "Registered (登记) with the civil-affairs bureau: → registered, with its credit code."
    credit_code: str = param(
        CREDIT_CODE,
        "统一社会信用代码, 18 位(GB 32100-2015)",
        "the unified social credit code, 18 characters (GB 32100-2015)",
    )
    authority: str = param(
        NAME, "登记管理机关(如某民政局)", "the registration authority (a civil-affairs bureau)"
    )


@dataclass(frozen=True, kw_only=True)
class CorrectLegalStatus(CaseCommand):
    verb, trigger = "correct-legal-status", "correct_legal_status"
    zh = "更正记错的登记状态(须 --reason); 登记状态只有这样才能回退。"
    en = "Fix a wrongly recorded legal status (--reason required): the only way it moves back."
    to: str = param(LEGAL_STATUS, "正确的登记状态", "the right legal status")


@dataclass(frozen=True, kw_only=True)
class RecordRegistrationHelp(CaseCommand):
    verb, trigger = "record-registration-help", "record_registration_help"
    zh = "注册协助: 园区为备案或登记提供的帮助; 阶段不变。"
    en = "Registration help (注册协助) the park gave towards filing or registration."
    note: str = param(NOTE, "提供的帮助", "the help given")


@dataclass(frozen=True, kw_only=True)
class ImportCase(Command):
    """A row of a park's existing records, as `incubator import` checks it: not a command of
    the command line (it is not in COMMANDS), but each cell is bounded as a command's would be
    (commands/importing.py)."""

    group, verb = "org", "import"
    zh = "导入园区已有的一个案卷(一行)。"
    en = "A case the park had already (a row of its records)."
    name: str = param(NAME, "机构或团队的名称", "the organization's or team's name")
    field: str = param(NAME, "领域", "the field")
    track: str = param(_choice("track", TRACKS), "孵化方式", "incubation or residency")
    site: str = param(NAME, "场地", "the site")
    stage: str = param(
        _choice("stage", tuple(dict.fromkeys(s for t in IMPORTED_STAGES.values() for s in t))),
        "当前阶段",
        "the stage it is in",
    )
    applied_on: date = param(DAY, "申请日期", "the day it applied")
    inspected_on: date | None = param(DAY, "考察开始日期", "inspection started", default=None)
    submitted_on: date | None = param(
        DAY, "提交入壳评估日期", "submitted for entry evaluation", default=None
    )
    entered_on: date | None = param(DAY, "入壳(入驻)日期", "entered or admitted", default=None)
    reviewed_on: date | None = param(DAY, "最近成长评估日期", "last growth review", default=None)
    exit_on: date | None = param(DAY, "出壳日期", "the exit evaluation", default=None)
    workspace: str | None = param(NAME, "工位", "the workspace it holds", default=None)
    caseworker: str | None = param(NAME, "负责社工", "the caseworker", default=None)
    contact: str | None = param(NAME, "联系人", "the contact person", default=None)
    legal_status: str = param(LEGAL_STATUS, "登记状态", "legal status")
    filing_number: str | None = param(NAME, "备案编号", "the filing number", default=None)
    filing_authority: str | None = param(NAME, "备案机关", "the filing authority", default=None)
    credit_code: str | None = param(CREDIT_CODE, "统一社会信用代码", "credit code", default=None)
    registration_authority: str | None = param(
        NAME, "登记管理机关", "the registration authority", default=None
    )
    party_members: int | None = param(MEMBERS, "正式党员人数", "formal party members", default=None)


# ---- personal data (个人信息) ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ErasePersonalData(CaseCommand):
    """个人信息删除权 (PIPL art. 47): the data subject is the contact person of a case, named by
    the case's id. Recorded on the case; its stage and deadlines stay as they were."""

    group, verb, trigger = "privacy", "erase", None
    zh = "删除案卷联系人的个人信息(个人信息删除权): 销毁其密钥, 须 --reason; 删除本身记录在案。"
    en = (
        "Erase the personal data of a case's contact person (PIPL): destroys its key; "
        "--reason required; the erasure itself is recorded."
    )
    org: UUID = param(
        CASE,
        "数据主体: 其联系人所在案卷的编号(或其前 4 位以上)",
        "the data subject: the case whose contact person it is (its id or first 4+ characters)",
    )

    @classmethod
    def stages(cls) -> list[str]:
        """Any stage, an ended case's too: a data subject's request does not wait on the case."""
        found = (stage for workflow in WORKFLOWS.values() for stage in workflow.stages)
        return list(dict.fromkeys(found))


# ---- the party-branch track (社会组织党组织孵化) -------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PartyCommand(CaseCommand):
    group = "party"

    @classmethod
    def workflows(cls) -> tuple[Workflow, ...]:
        return (PARTY_WORKFLOW,)


@dataclass(frozen=True, kw_only=True)
class RecordInspection(PartyCommand):
    verb, trigger = "record-inspection", "record_inspection"
    zh = "入壳考察: entry_inspection → member_discovery。"
    en = "Entry inspection (入壳考察): entry_inspection → member_discovery."
    note: str | None = param(NOTE, "考察的发现", "what the entry inspection found", default=None)


@dataclass(frozen=True, kw_only=True)
class CountMembers(PartyCommand):
    verb, trigger = "count-members", "count_members"
    zh = "发现党员: 党员人数; 第一次 → support; 人数变化时再记。"
    en = "Member discovery (发现党员): the count; the first one → support. Again when it changes."
    formal: int = param(MEMBERS, "正式党员人数", "formal party members (正式党员)")
    probationary: int = param(
        MEMBERS, "预备党员人数, 默认 0", "probationary members (预备党员); default 0", default=0
    )
    transferred: int = param(
        MEMBERS,
        "已接转组织关系的正式党员, 默认 0",
        "formal members whose relations were transferred (接转); default 0",
        default=0,
    )


@dataclass(frozen=True, kw_only=True)
class AssignInstructor(PartyCommand):
    verb, trigger = "assign-instructor", "assign_instructor"
    zh = "党建指导员或联络员; 没有党员时, 支持帮扶之前必须指定。"
    en = "The instructor or liaison; required before support when there are no members."
    instructor: str = param(NAME, "党建指导员或联络员", "the party-building instructor or liaison")


@dataclass(frozen=True, kw_only=True)
class RecordSupport(PartyCommand):
    verb, trigger = "record-support", "record_support"
    zh = "支持帮扶; 阶段不变。没有党员时: instructor 或 information。"
    en = "Support (支持帮扶) given; stays support. With no members: instructor or information."
    kind: str = param(_choice("support kind", SUPPORT_KINDS), "支持的种类", "the kind of support")
    note: str = param(NOTE, "给了什么", "what was given")


@dataclass(frozen=True, kw_only=True)
class RecordDevelopment(PartyCommand):
    verb, trigger = "record-development", "record_development"
    zh = "发展党员: → formation。"
    en = "Developing members (发展党员): → formation."
    note: str = param(NOTE, "发展党员的工作", "the member development work")


@dataclass(frozen=True, kw_only=True)
class FoundBranch(PartyCommand):
    verb, trigger = "found-branch", "found_branch"
    zh = "成立独立党支部(3 名以上正式党员) → follow_up; 如在联合党支部则退出。"
    en = "Its own independent branch (3+ formal members) → follow_up; leaves its joint branch."
    name: str = param(NAME, "支部的名称", "the branch's name")


@dataclass(frozen=True, kw_only=True)
class JoinBranch(PartyCommand):
    verb, trigger = "join-branch", "join_branch"
    zh = "加入本场地的联合党支部(1-2 名正式党员) → follow_up。"
    en = "Join a joint branch of its site (联合党支部, 1–2 formal members) → follow_up."
    branch: str = param(
        NAME,
        "联合党支部的编号, 或其在本场地的名称",
        "the joint branch's id, or its name at the site",
    )


@dataclass(frozen=True, kw_only=True)
class RecordService(PartyCommand):
    verb, trigger = "record-service", "record_service"
    zh = "一次后续服务(联席会议, 示范评选, 项目优先); 阶段不变。"
    en = "A follow-up service (联席会议, 示范评选, 项目优先); stays follow_up."
    kind: str = param(_choice("service kind", SERVICE_KINDS), "服务的种类", "the kind of service")
    note: str = param(NOTE, "提供的服务", "the service given")


@dataclass(frozen=True, kw_only=True)
class Rate(PartyCommand):
    verb, trigger = "rate", "rate"
    zh = "党组织星级评定(follow_up), 1-5 星, 附依据。"
    en = "A star rating of the party organization (follow_up), 1 to 5, with its evidence."
    stars: int = param(STARS, "星级, 1 到 5", "1 to 5 (星级评定)")
    note: str = param(NOTE, "评定的依据", "the evidence of the rating")


@dataclass(frozen=True, kw_only=True)
class StartPartyTrack(CaseCommand):
    group, verb, trigger = "party", "start", "start_party_track"
    zh = "为自动开始之前入壳的机构开始党建孵化(一次)。"
    en = "Start the party track of a case that entered before tracks started automatically."


@dataclass(frozen=True, kw_only=True)
class CreateJointBranch(Command):
    group, verb = "party joint-branch", "create"
    zh = "在一个场地新建联合党支部; 打印其编号。"
    en = "A new joint branch at a site; prints its id."
    name: str = param(NAME, "支部的名称", "the branch's name")
    site: str = param(NAME, "场地: main, branch, community-1 …", "the site")


# ---- venture-philanthropy rounds (公益创投) ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RoundCommand(Command):
    group = "round"
    round: UUID = param(
        ROUND, "公益创投轮次的编号(或其前 4 位以上)", "the round's id (or its first 4+ characters)"
    )

    @classmethod
    def workflows(cls) -> tuple[Workflow, ...]:
        return (ROUND_WORKFLOW,)


@dataclass(frozen=True, kw_only=True)
class ProjectCommand(Command):
    group = "round"
    project: UUID = param(
        PROJECT, "项目的编号(或其前 4 位以上)", "the project's id (or its first 4+ characters)"
    )

    @classmethod
    def workflows(cls) -> tuple[Workflow, ...]:
        return (PROJECT_WORKFLOW,)


@dataclass(frozen=True, kw_only=True)
class CreateRound(Command):
    group, verb, trigger = "round", "create", None
    zh = "发布一轮公益创投: 资金总额, 申报起止日期; 打印其编号。"
    en = "A new venture-philanthropy round: its fund and submission dates; prints its id."
    name: str = param(NAME, "轮次的名称", "the round's name")
    fund: Decimal = param(MONEY, "资金总额(元)", "the fund, in yuan")
    opens: date = param(DAY, "开始申报的日期", "the first day projects are taken")
    closes: date = param(DAY, "截止申报的日期", "the last day projects are taken")
    max_award: Decimal | None = param(
        MONEY, "每个项目最多资助(元)", "the most one project may ask, in yuan", default=None
    )
    pass_mark: Decimal | None = param(
        SCORE,
        "资助所需的平均分(默认见设置, 60)",
        "the mean score an award needs (default from the settings: 60)",
        default=None,
    )
    min_scores: int | None = param(
        MIN_SCORES,
        "资助所需的专家评分个数(默认 3)",
        "the expert scores an award needs (default from the settings: 3)",
        default=None,
    )
    site: str | None = param(NAME, "主办的园区场地", "the site that runs the round", default=None)


@dataclass(frozen=True, kw_only=True)
class AddExpert(RoundCommand):
    verb, trigger = "add-expert", "add_expert"
    zh = "评审专家加入本轮评审组, 可同时申报关联回避的机构。"
    en = "An expert joins the round's panel, with the organizations they declare conflicts with."
    expert: str = param(NAME, "评审专家的姓名", "the expert's name")
    conflicts: tuple[UUID, ...] = param(
        ORGS,
        "与之关联须回避的机构(案卷编号); 每个机构一次",
        "an organization (case id) they have a conflict with; repeat per organization",
        option="conflict",
        many=True,
        default=(),
    )


@dataclass(frozen=True, kw_only=True)
class DeclareConflict(RoundCommand):
    verb, trigger = "declare-conflict", "declare_conflict"
    zh = "评审专家事后申报关联回避; 已打的分不再计入。"
    en = "An expert declares a conflict later (关联回避); a score they gave no longer counts."
    expert: str = param(NAME, "评审专家的姓名", "the expert's name")
    org: UUID = param(ORG, "须回避的机构(案卷编号)", "the organization (case id)")


@dataclass(frozen=True, kw_only=True)
class SubmitProject(RoundCommand):
    verb, trigger = "submit", "submit"
    zh = "机构申报项目(申报期内, 每轮每个机构一个); 打印项目编号。"
    en = "An organization submits a project (in the dates, one per round); prints its id."
    org: UUID = param(ORG, "申报的机构(案卷编号)", "the organization (its case id)")
    title: str = param(NAME, "项目名称", "the project's title")
    amount: Decimal = param(MONEY, "申请资助的金额(元)", "the amount asked, in yuan")
    category: str | None = param(
        NAME, "项目类别(为老, 助残, 青少年, 社区…)", "the project's category", default=None
    )


@dataclass(frozen=True, kw_only=True)
class CloseRound(RoundCommand):
    verb, trigger = "close", "close"
    zh = "结束本轮评审(所有项目已初审淘汰, 资助或不予资助); 项目跟踪继续。"
    en = "Close the round once every project is determined; tracking the awards goes on."


@dataclass(frozen=True, kw_only=True)
class ScreenProject(ProjectCommand):
    verb, trigger = "screen", "screen"
    zh = "初审: --pass 通过, 或 --fail 不通过(须 --reason)。"
    en = "Preliminary review (初审): --pass, or --fail with --reason."
    passed: bool = param(VERDICT, "初审通过或不通过", "in (--pass) or out (--fail)")


@dataclass(frozen=True, kw_only=True)
class ScoreProject(ProjectCommand):
    verb, trigger = "score", "score"
    zh = "评审组专家打分, 0-100, 每人一次; 更正须 --reason。"
    en = "A panel expert's score, 0-100, once; a correction needs --reason."
    expert: str = param(NAME, "评审专家的姓名", "the expert's name")
    score: Decimal = param(SCORE, "分数, 0-100", "the score, 0-100")


@dataclass(frozen=True, kw_only=True)
class AwardProject(ProjectCommand):
    verb, trigger = "award", "award"
    zh = "立项资助: 评分足够且平均分及格, 不超过申请额, 各项目合计不超过资金总额。"
    en = "Award: enough scores, mean at the pass mark, not above the ask, within the fund."
    amount: Decimal = param(MONEY, "资助金额(元)", "the amount awarded, in yuan")


@dataclass(frozen=True, kw_only=True)
class DeclineProject(ProjectCommand):
    verb, trigger = "decline", "decline"
    zh = "不予资助(须 --reason)。"
    en = "Decline the project (--reason required)."


@dataclass(frozen=True, kw_only=True)
class DisburseTranche(ProjectCommand):
    verb, trigger = "disburse", "disburse"
    zh = "拨付一笔资金; 各笔合计不超过资助金额。"
    en = "Pay a tranche of the award; all tranches together never above it."
    amount: Decimal = param(MONEY, "本笔金额(元)", "the tranche, in yuan")


@dataclass(frozen=True, kw_only=True)
class ReceiveReport(ProjectCommand):
    verb, trigger = "report", "report"
    zh = "收到中期报告或结项报告(各一次)。"
    en = "A mid-term or final report came in (each once)."
    kind: str = param(
        _choice("report kind", REPORT_KINDS), "报告种类", "midterm (中期) or final (结项)"
    )
    note: str = param(NOTE, "报告的要点", "what the report says")


@dataclass(frozen=True, kw_only=True)
class StopTranches(ProjectCommand):
    verb, trigger = "stop", "stop"
    zh = "中期检查后停止后续拨付(须 --reason)。"
    en = "The mid-term check stops further tranches (--reason required)."


# ---- accounts and roles (账户与角色) -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AccountCommand(Command):
    group = "user"
    account: str = param(ACCOUNT, "账户名", "the account's name")

    @classmethod
    def workflows(cls) -> tuple[Workflow, ...]:
        return (ACCOUNT_WORKFLOW,)


SITES_HELP = (
    "角色限于的场地, 每个场地一次(社工和党建指导员至少一个)",
    "a site the role is limited to; repeat per site (caseworker and instructor need one)",
)


@dataclass(frozen=True, kw_only=True)
class AddAccount(Command):
    group, verb, trigger = "user", "add", None
    zh = "新建账户: 一个角色(及其场地)和密码。"
    en = "A new account with a role (and its sites) and a password."
    name: str = param(NEW_ACCOUNT, "账户名(唯一)", "the account's name (unique)")
    role: str = param(ROLE, "角色", "the role")
    sites: tuple[str, ...] = param(SITES, *SITES_HELP, option="site", many=True, default=())
    password: str = param(
        PASSWORD,
        "密码(至少 10 个字符)",
        "the password (at least 10 characters)",
    )


@dataclass(frozen=True, kw_only=True)
class GrantRole(AccountCommand):
    verb, trigger = "grant", "grant"
    zh = "授予角色(及其场地); 已有的角色改为这些场地。"
    en = "Grant a role (at its sites); a role held already is limited to these sites instead."
    role: str = param(ROLE, "角色", "the role")
    sites: tuple[str, ...] = param(SITES, *SITES_HELP, option="site", many=True, default=())


@dataclass(frozen=True, kw_only=True)
class RevokeRole(AccountCommand):
    verb, trigger = "revoke", "revoke"
    zh = "收回一个角色; 至少保留一个启用的管理员。"
    en = "Revoke a role; at least one active admin remains."
    role: str = param(ROLE, "角色", "the role")


@dataclass(frozen=True, kw_only=True)
class SetPassword(AccountCommand):
    verb, trigger = "passwd", "passwd"
    zh = "设置新密码。"
    en = "Set a new password."
    password: str = param(
        PASSWORD,
        "密码(至少 10 个字符)",
        "the password (at least 10 characters)",
    )


@dataclass(frozen=True, kw_only=True)
class DisableAccount(AccountCommand):
    verb, trigger = "disable", "disable"
    zh = "停用账户: 不能再登录, 已登录的会话失效。"
    en = "Disable the account: it can no longer log in, and its sessions stop working."


@dataclass(frozen=True, kw_only=True)
class EnableAccount(AccountCommand):
    verb, trigger = "enable", "enable"
    zh = "重新启用停用的账户。"
    en = "Enable a disabled account again."


@dataclass(frozen=True, kw_only=True)
class ChooseLanguage(AccountCommand):
    verb, trigger = "language", "language"
    zh = "选择界面语言: zh_CN 或 en。"
    en = "The language its pages are shown in: zh_CN or en."
    language: str = param(LANGUAGE, "界面语言", "the language")


# The whole catalogue, in the order the command line lists it.
COMMANDS: tuple[type[Command], ...] = (
    Apply,
    StartInspection,
    Assign,
    RecordVisit,
    SubmitForEntry,
    EvaluateEntry,
    ResumeCoaching,
    RecordGrowthReview,
    CorrectEntryDate,
    EvaluateExit,
    RecordFollowUp,
    Close,
    Reject,
    Withdraw,
    Terminate,
    Admit,
    RecordServiceEvaluation,
    Depart,
    RecordFiling,
    RecordRegistration,
    CorrectLegalStatus,
    RecordRegistrationHelp,
    ErasePersonalData,
    RecordInspection,
    CountMembers,
    AssignInstructor,
    RecordSupport,
    RecordDevelopment,
    FoundBranch,
    JoinBranch,
    RecordService,
    Rate,
    StartPartyTrack,
    CreateJointBranch,
    CreateRound,
    AddExpert,
    DeclareConflict,
    SubmitProject,
    ScreenProject,
    ScoreProject,
    AwardProject,
    DeclineProject,
    DisburseTranche,
    ReceiveReport,
    StopTranches,
    CloseRound,
    AddAccount,
    GrantRole,
    RevokeRole,
    SetPassword,
    DisableAccount,
    EnableAccount,
    ChooseLanguage,
)
