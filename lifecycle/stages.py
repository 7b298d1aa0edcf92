"""The two organization workflows, each declared once as data and shared by every case.

The machines only validate commands and name transitions (LIBRARIES.md: one module-level
machine driven with a throwaway probe); a case's stage is what its events say, and replay never
goes through a machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from transitions import Machine, MachineError

from lifecycle.errors import Term, WrongStage

INCUBATION = "incubation"
RESIDENCY = "residency"
TRACKS = (INCUBATION, RESIDENCY)

OPEN_INCUBATION = ["applied", "inspecting", "entry_review", "declined", "incubating", "follow_up"]
BEFORE_ENTRY = ["applied", "inspecting", "entry_review", "declined"]


def legal_status_steps(open_stages: list[str]) -> list[dict[str, object]]:
    """登记/备案: the legal status moves, or is corrected, and the park helps with it, while the
    case is open (lifecycle/organization.py says which way it may move)."""
    triggers = (
        "record_filing",
        "record_registration",
        "correct_legal_status",
        "record_registration_help",
    )
    return [{"trigger": t, "source": open_stages, "dest": None} for t in triggers]


# trigger, source(s), destination (None: stays), condition on the probe
INCUBATION_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "start_inspection", "source": "applied", "dest": "inspecting"},
    {"trigger": "assign", "source": OPEN_INCUBATION, "dest": None},
    {"trigger": "record_visit", "source": "inspecting", "dest": None},
    {"trigger": "submit_for_entry", "source": "inspecting", "dest": "entry_review"},
    {
        "trigger": "evaluate_entry",
        "source": "entry_review",
        "dest": "incubating",
        "conditions": "passed",
    },
    {"trigger": "evaluate_entry", "source": "entry_review", "dest": "declined", "unless": "passed"},
    {"trigger": "resume_coaching", "source": "declined", "dest": "inspecting"},
    {"trigger": "record_growth_review", "source": "incubating", "dest": None},
    {"trigger": "correct_entry_date", "source": ["incubating", "follow_up"], "dest": None},
    # the party track of a case that entered before party tracks started automatically
    {"trigger": "start_party_track", "source": ["incubating", "follow_up"], "dest": None},
    {
        "trigger": "evaluate_exit",
        "source": "incubating",
        "dest": "follow_up",
        "conditions": "passed",
    },
    {"trigger": "evaluate_exit", "source": "incubating", "dest": "exited", "unless": "passed"},
    {"trigger": "record_follow_up", "source": "follow_up", "dest": None},
    {"trigger": "close", "source": "follow_up", "dest": "closed"},
    {"trigger": "reject", "source": BEFORE_ENTRY, "dest": "rejected"},
    {"trigger": "withdraw", "source": [*BEFORE_ENTRY, "incubating"], "dest": "withdrawn"},
    {"trigger": "terminate", "source": "incubating", "dest": "terminated"},
    *legal_status_steps(OPEN_INCUBATION),
]
INCUBATION_STAGES = [*OPEN_INCUBATION, "closed", "rejected", "withdrawn", "exited", "terminated"]

RESIDENCY_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "assign", "source": ["applied", "resident"], "dest": None},
    {"trigger": "admit", "source": "applied", "dest": "resident"},
    {"trigger": "record_service_evaluation", "source": "resident", "dest": None},
    {"trigger": "correct_entry_date", "source": "resident", "dest": None},
    {"trigger": "start_party_track", "source": "resident", "dest": None},
    {"trigger": "depart", "source": "resident", "dest": "departed"},
    {"trigger": "reject", "source": "applied", "dest": "rejected"},
    {"trigger": "withdraw", "source": "applied", "dest": "withdrawn"},
    *legal_status_steps(["applied", "resident"]),
]
RESIDENCY_STAGES = ["applied", "resident", "departed", "rejected", "withdrawn"]

ALL_STAGES = list(dict.fromkeys(INCUBATION_STAGES + RESIDENCY_STAGES))

# The party-branch track (社会组织党组织孵化) of an organization that entered the park.
PARTY = "party"
PARTY_OPEN = ["entry_inspection", "member_discovery", "support", "formation", "follow_up"]
PARTY_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "record_inspection", "source": "entry_inspection", "dest": "member_discovery"},
    {"trigger": "count_members", "source": "member_discovery", "dest": "support"},
    {"trigger": "count_members", "source": ["support", "formation", "follow_up"], "dest": None},
    {"trigger": "assign_instructor", "source": PARTY_OPEN, "dest": None},
    {"trigger": "record_support", "source": ["support", "formation"], "dest": None},
    {"trigger": "record_development", "source": ["support", "formation"], "dest": "formation"},
    # from follow_up: an organization in a joint branch that grew to 3 founds its own
    {
        "trigger": "found_branch",
        "source": ["support", "formation", "follow_up"],
        "dest": "follow_up",
    },
    {"trigger": "join_branch", "source": ["support", "formation"], "dest": "follow_up"},
    {"trigger": "record_service", "source": "follow_up", "dest": None},
    {"trigger": "rate", "source": "follow_up", "dest": None},
    # the system's own, following the organization's case: its entry date corrected, its end
    {"trigger": "correct_start", "source": PARTY_OPEN, "dest": None},
    {"trigger": "close", "source": PARTY_OPEN, "dest": "closed"},
]
PARTY_STAGES = [*PARTY_OPEN, "closed"]

# A venture-philanthropy round (公益创投): open for submissions (between its dates), screening,
# expert scores and determinations; closed once every project is determined. Tracking of the
# awarded projects goes on after it closes.
ROUND = "round"
ROUND_DECIDING = ["add_expert", "declare_conflict", "submit", "screen", "score", "award", "decline"]
ROUND_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": trigger, "source": "open", "dest": None} for trigger in ROUND_DECIDING
]
ROUND_TRANSITIONS.append({"trigger": "close", "source": "open", "dest": "closed"})
ROUND_STAGES = ["open", "closed"]

# A project submitted to a round: screened (初审) in or out, scored by the panel while screened in,
# then awarded or declined once; an awarded project is tracked until a mid-term check stops it.
PROJECT = "project"
PROJECT_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "screen", "source": "submitted", "dest": "screened_in", "conditions": "passed"},
    {"trigger": "screen", "source": "submitted", "dest": "screened_out", "unless": "passed"},
    {"trigger": "score", "source": "screened_in", "dest": None},
    {"trigger": "award", "source": "screened_in", "dest": "awarded"},
    {"trigger": "decline", "source": "screened_in", "dest": "declined"},
    {"trigger": "disburse", "source": "awarded", "dest": None},
    {"trigger": "report", "source": ["awarded", "stopped"], "dest": None},
    {"trigger": "stop", "source": "awarded", "dest": "stopped"},
    # the system's own: a conflict declared on the round is noted on the project it concerns
    {"trigger": "note_conflict", "source": ["submitted", "screened_in"], "dest": None},
]
PROJECT_STAGES = ["submitted", "screened_in", "screened_out", "awarded", "declined", "stopped"]
# An account (lifecycle/account.py): active, or disabled (it cannot log in) until enabled again.
# Its grants, password and language may change in either state.
ACCOUNT = "account"
ACCOUNT_CHANGES = ["grant", "revoke", "passwd", "language"]
ACCOUNT_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": t, "source": ["active", "disabled"], "dest": None} for t in ACCOUNT_CHANGES
]
ACCOUNT_TRANSITIONS += [
    {"trigger": "disable", "source": "active", "dest": "disabled"},
    {"trigger": "enable", "source": "disabled", "dest": "active"},
]
ACCOUNT_STATES = ["active", "disabled"]
ACCOUNT_STATE_NAMES_ZH = {"active": "启用", "disabled": "停用"}
PROJECT_STAGE_NAMES_ZH = {
    "submitted": "已申报",
    "screened_in": "初审通过",
    "screened_out": "初审未通过",
    "awarded": "立项资助",
    "declined": "未获资助",
    "stopped": "中止拨付",
}
STAGE_NAMES_ZH = {
    "applied": "项目申请",
    "inspecting": "考察辅导",
    "entry_review": "入壳评估",
    "declined": "评估未通过",
    "incubating": "壳内孵化",
    "follow_up": "后续服务",
    "closed": "结案",
    "rejected": "不予孵化",
    "withdrawn": "主动退出",
    "exited": "出壳(未通过)",
    "terminated": "提前终止",
    "resident": "入驻",
    "departed": "迁出",
}
PARTY_STAGE_NAMES_ZH = {
    "entry_inspection": "入壳考察",
    "member_discovery": "发现党员",
    "support": "支持帮扶",
    "formation": "发展组建",
    "follow_up": "后续服务",
    "closed": "结束",
}


class Move(NamedTuple):
    """One transition of a workflow: `trigger` from `source` to `dest` (None: it stays), when
    the decided outcome `passed` is `when` (None: whatever it is)."""

    trigger: str
    source: str
    dest: str | None
    when: bool | None = None


@dataclass
class _Probe:
    """Carries a case's stage (and a decided outcome) through the shared machine."""

    state: str
    passed: bool = False


class Workflow:
    """One shared machine per track; answers 'may this command run now, and where does it lead?'"""

    def __init__(
        self,
        track: str,
        stages: list[str],
        transitions: list[dict[str, object]],
        subject: str = Term("the case"),
        internal: tuple[str, ...] = (),
    ):
        """`internal` triggers are the system's own (a party track closes with its case): they
        are not offered as commands."""
        self.track, self.subject, self.internal = track, subject, internal
        self.stages = stages
        self._machine = Machine(
            model=None,
            states=stages,
            initial=None,
            transitions=transitions,
            auto_transitions=False,
            send_event=True,
        )

    def advance(self, stage: str, command: str, *, passed: bool = False) -> str:
        """The stage after `command`, or WrongStage naming what is allowed from `stage`."""
        probe = _Probe(stage, passed)
        event = self._machine.events.get(command)
        try:
            if event is None or not event.trigger(probe):
                raise WrongStage(cli_name(command), stage, self.allowed(stage), self.subject)
        except MachineError:
            raise WrongStage(cli_name(command), stage, self.allowed(stage), self.subject) from None
        return probe.state

    def allowed(self, stage: str) -> list[str]:
        """Commands structurally possible from `stage`, as the command line spells them."""
        triggers = self._machine.get_triggers(stage)
        return sorted(cli_name(t) for t in triggers if t not in self.internal)

    def sources(self, trigger: str) -> list[str]:
        """The stages `trigger` may be given in, in the order the stages are declared."""
        event = self._machine.events.get(trigger)
        found = set(event.transitions) if event is not None else set()
        return [stage for stage in self.stages if stage in found]

    def is_final(self, stage: str) -> bool:
        return not self._machine.get_triggers(stage)

    def moves(self) -> list[Move]:
        """Every transition the machine holds, by trigger in the order declared (what a
        diagram of the workflow draws, so that it cannot drift from the code)."""
        return [
            Move(trigger, source, t.dest, next((c.target for c in t.conditions), None))
            for trigger, event in self._machine.events.items()
            for source, transitions in event.transitions.items()
            for t in transitions
        ]

    def triggers(self) -> list[str]:
        """Every trigger of the workflow, in the order declared."""
        return list(self._machine.events)


def cli_name(trigger: str) -> str:
    return trigger.replace("_", "-")


WORKFLOWS = {
    INCUBATION: Workflow(
        INCUBATION, INCUBATION_STAGES, INCUBATION_TRANSITIONS, internal=("start_party_track",)
    ),
    RESIDENCY: Workflow(
        RESIDENCY, RESIDENCY_STAGES, RESIDENCY_TRANSITIONS, internal=("start_party_track",)
    ),
}
PARTY_WORKFLOW = Workflow(
    PARTY,
    PARTY_STAGES,
    PARTY_TRANSITIONS,
    subject=Term("the party track"),
    internal=("correct_start", "close"),
)
# What a party track's branch is once formed: its own (3+ members) or a joint one (1–2).
INDEPENDENT, JOINT = "independent", "joint"
ROUND_WORKFLOW = Workflow(ROUND, ROUND_STAGES, ROUND_TRANSITIONS, subject=Term("the round"))
PROJECT_WORKFLOW = Workflow(
    PROJECT,
    PROJECT_STAGES,
    PROJECT_TRANSITIONS,
    subject=Term("the project"),
    internal=("note_conflict",),
)
ACCOUNT_WORKFLOW = Workflow(
    ACCOUNT, ACCOUNT_STATES, ACCOUNT_TRANSITIONS, subject=Term("the account")
)
