"""One handler per command message, and the dispatcher that reaches them.

The whole catalogue is readable in `HANDLERS`. A handler hands its message to the application
service (load, decide, save: commands/service.py, commands/party.py). Who acts is the caller's
identity, given to `Dispatcher.handle` by the adapter from whoever is authenticated (the command
line: --actor or INCUBATOR_ACTOR), never a field of the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from commands import messages as m
from commands.accounts import AccountService
from commands.party import PartyService
from commands.rounds import RoundService
from commands.service import IncubatorService, Who
from lifecycle.account import Account
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.project import Project
from lifecycle.round import Round

C = TypeVar("C", bound=m.Command)
Result = OrganizationCase | PartyIncubation | JointBranch | Round | Project | Account


@dataclass(frozen=True)
class Services:
    cases: IncubatorService
    party: PartyService
    rounds: RoundService
    accounts: AccountService


Handler = Callable[[Services, C, Who], Result]
HANDLERS: dict[type[m.Command], Handler[Any]] = {}


def handles(message: type[C]) -> Callable[[Handler[C]], Handler[C]]:
    """Registers the handler of `message`; mypy checks that it takes that message."""

    def register(handler: Handler[C]) -> Handler[C]:
        assert message not in HANDLERS, f"{message.__name__} has two handlers"
        HANDLERS[message] = handler
        return handler

    return register


@dataclass(frozen=True)
class Actor:
    """Whoever is authenticated: the one who acts."""

    name: str | None
    role: str | None = None


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self.services = services

    def handle(self, message: m.Command, actor: Actor) -> Result:
        handler = HANDLERS[type(message)]
        return handler(
            self.services, message, Who(actor.name, message.on, message.reason, actor.role)
        )


# ---- organization incubation ---------------------------------------------------------------


@handles(m.Apply)
def apply(s: Services, c: m.Apply, who: Who) -> OrganizationCase:
    return s.cases.apply(
        who,
        name=c.name,
        field=c.field,
        legal_status=c.legal_status,
        track=c.track,
        site=c.site,
        contact=c.contact,
        party_members=c.party_members,
    )


@handles(m.StartInspection)
def start_inspection(s: Services, c: m.StartInspection, who: Who) -> OrganizationCase:
    return s.cases.start_inspection(c.org, who)


@handles(m.Assign)
def assign(s: Services, c: m.Assign, who: Who) -> OrganizationCase:
    return s.cases.assign(c.org, who, c.caseworker)


@handles(m.RecordVisit)
def record_visit(s: Services, c: m.RecordVisit, who: Who) -> OrganizationCase:
    return s.cases.record_visit(c.org, who, c.note)


@handles(m.SubmitForEntry)
def submit_for_entry(s: Services, c: m.SubmitForEntry, who: Who) -> OrganizationCase:
    return s.cases.submit_for_entry(c.org, who)


@handles(m.EvaluateEntry)
def evaluate_entry(s: Services, c: m.EvaluateEntry, who: Who) -> OrganizationCase:
    return s.cases.evaluate_entry(c.org, who, c.scores, c.workspace)


@handles(m.ResumeCoaching)
def resume_coaching(s: Services, c: m.ResumeCoaching, who: Who) -> OrganizationCase:
    return s.cases.resume_coaching(c.org, who)


@handles(m.RecordGrowthReview)
def record_growth_review(s: Services, c: m.RecordGrowthReview, who: Who) -> OrganizationCase:
    return s.cases.record_growth_review(c.org, who, c.scores)


@handles(m.CorrectEntryDate)
def correct_entry_date(s: Services, c: m.CorrectEntryDate, who: Who) -> OrganizationCase:
    return s.cases.correct_entry_date(c.org, who, c.to)


@handles(m.EvaluateExit)
def evaluate_exit(s: Services, c: m.EvaluateExit, who: Who) -> OrganizationCase:
    return s.cases.evaluate_exit(c.org, who, c.scores)


@handles(m.RecordFollowUp)
def record_follow_up(s: Services, c: m.RecordFollowUp, who: Who) -> OrganizationCase:
    return s.cases.record_follow_up(c.org, who, c.service)


@handles(m.Close)
def close(s: Services, c: m.Close, who: Who) -> OrganizationCase:
    return s.cases.close_case(c.org, who)


@handles(m.Reject)
def reject(s: Services, c: m.Reject, who: Who) -> OrganizationCase:
    return s.cases.reject(c.org, who)


@handles(m.Withdraw)
def withdraw(s: Services, c: m.Withdraw, who: Who) -> OrganizationCase:
    return s.cases.withdraw(c.org, who)


@handles(m.Terminate)
def terminate(s: Services, c: m.Terminate, who: Who) -> OrganizationCase:
    return s.cases.terminate(c.org, who)


@handles(m.Admit)
def admit(s: Services, c: m.Admit, who: Who) -> OrganizationCase:
    return s.cases.admit(c.org, who, c.workspace)


@handles(m.RecordServiceEvaluation)
def record_service_evaluation(
    s: Services, c: m.RecordServiceEvaluation, who: Who
) -> OrganizationCase:
    return s.cases.record_service_evaluation(c.org, who, c.scores)


@handles(m.Depart)
def depart(s: Services, c: m.Depart, who: Who) -> OrganizationCase:
    return s.cases.depart(c.org, who)


@handles(m.RecordFiling)
def record_filing(s: Services, c: m.RecordFiling, who: Who) -> OrganizationCase:
    return s.cases.record_filing(c.org, who, c.number, c.authority)


@handles(m.RecordRegistration)
def record_registration(s: Services, c: m.RecordRegistration, who: Who) -> OrganizationCase:
    return s.cases.record_registration(c.org, who, c.credit_code, c.authority)


@handles(m.CorrectLegalStatus)
def correct_legal_status(s: Services, c: m.CorrectLegalStatus, who: Who) -> OrganizationCase:
    return s.cases.correct_legal_status(c.org, who, c.to)


@handles(m.RecordRegistrationHelp)
def record_registration_help(
    s: Services, c: m.RecordRegistrationHelp, who: Who
) -> OrganizationCase:
    return s.cases.record_registration_help(c.org, who, c.note)


@handles(m.ErasePersonalData)
def erase_personal_data(s: Services, c: m.ErasePersonalData, who: Who) -> OrganizationCase:
    return s.cases.erase_personal_data(c.org, who)


# ---- the party-branch track ----------------------------------------------------------------


@handles(m.RecordInspection)
def record_inspection(s: Services, c: m.RecordInspection, who: Who) -> PartyIncubation:
    return s.party.record_inspection(c.org, who, c.note)


@handles(m.CountMembers)
def count_members(s: Services, c: m.CountMembers, who: Who) -> PartyIncubation:
    return s.party.count_members(c.org, who, c.formal, c.probationary, c.transferred)


@handles(m.AssignInstructor)
def assign_instructor(s: Services, c: m.AssignInstructor, who: Who) -> PartyIncubation:
    return s.party.assign_instructor(c.org, who, c.instructor)


@handles(m.RecordSupport)
def record_support(s: Services, c: m.RecordSupport, who: Who) -> PartyIncubation:
    return s.party.record_support(c.org, who, c.kind, c.note)


@handles(m.RecordDevelopment)
def record_development(s: Services, c: m.RecordDevelopment, who: Who) -> PartyIncubation:
    return s.party.record_development(c.org, who, c.note)


@handles(m.FoundBranch)
def found_branch(s: Services, c: m.FoundBranch, who: Who) -> PartyIncubation:
    return s.party.found_branch(c.org, who, c.name)


@handles(m.JoinBranch)
def join_branch(s: Services, c: m.JoinBranch, who: Who) -> PartyIncubation:
    return s.party.join_branch(c.org, who, c.branch)


@handles(m.RecordService)
def record_service(s: Services, c: m.RecordService, who: Who) -> PartyIncubation:
    return s.party.record_service(c.org, who, c.kind, c.note)


@handles(m.Rate)
def rate(s: Services, c: m.Rate, who: Who) -> PartyIncubation:
    return s.party.rate(c.org, who, c.stars, c.note)


@handles(m.StartPartyTrack)
def start_party_track(s: Services, c: m.StartPartyTrack, who: Who) -> PartyIncubation:
    return s.party.start_missing(c.org, who)


@handles(m.CreateJointBranch)
def create_joint_branch(s: Services, c: m.CreateJointBranch, who: Who) -> JointBranch:
    return s.party.create_joint_branch(who, name=c.name, site=c.site)


# ---- venture-philanthropy rounds -----------------------------------------------------------


@handles(m.CreateRound)
def create_round(s: Services, c: m.CreateRound, who: Who) -> Round:
    return s.rounds.create_round(
        who,
        name=c.name,
        fund=c.fund,
        opens=c.opens,
        closes=c.closes,
        max_award=c.max_award,
        pass_mark=c.pass_mark,
        min_scores=c.min_scores,
        site=c.site,
    )


@handles(m.AddExpert)
def add_expert(s: Services, c: m.AddExpert, who: Who) -> Round:
    return s.rounds.add_expert(c.round, who, c.expert, c.conflicts)


@handles(m.DeclareConflict)
def declare_conflict(s: Services, c: m.DeclareConflict, who: Who) -> Round:
    return s.rounds.declare_conflict(c.round, who, c.expert, c.org)


@handles(m.SubmitProject)
def submit_project(s: Services, c: m.SubmitProject, who: Who) -> Project:
    return s.rounds.submit(
        c.round, who, org=c.org, title=c.title, amount=c.amount, category=c.category
    )


@handles(m.CloseRound)
def close_round(s: Services, c: m.CloseRound, who: Who) -> Round:
    return s.rounds.close_round(c.round, who)


@handles(m.ScreenProject)
def screen_project(s: Services, c: m.ScreenProject, who: Who) -> Project:
    return s.rounds.screen(c.project, who, c.passed)


@handles(m.ScoreProject)
def score_project(s: Services, c: m.ScoreProject, who: Who) -> Project:
    return s.rounds.score(c.project, who, c.expert, c.score)


@handles(m.AwardProject)
def award_project(s: Services, c: m.AwardProject, who: Who) -> Project:
    return s.rounds.award(c.project, who, c.amount)


@handles(m.DeclineProject)
def decline_project(s: Services, c: m.DeclineProject, who: Who) -> Project:
    return s.rounds.decline(c.project, who)


@handles(m.DisburseTranche)
def disburse_tranche(s: Services, c: m.DisburseTranche, who: Who) -> Project:
    return s.rounds.disburse(c.project, who, c.amount)


@handles(m.ReceiveReport)
def receive_report(s: Services, c: m.ReceiveReport, who: Who) -> Project:
    return s.rounds.report(c.project, who, c.kind, c.note)


@handles(m.StopTranches)
def stop_tranches(s: Services, c: m.StopTranches, who: Who) -> Project:
    return s.rounds.stop(c.project, who)


# ---- accounts and roles --------------------------------------------------------------------


@handles(m.AddAccount)
def add_account(s: Services, c: m.AddAccount, who: Who) -> Account:
    return s.accounts.add(who, name=c.name, role=c.role, sites=c.sites, password=c.password)


@handles(m.GrantRole)
def grant_role(s: Services, c: m.GrantRole, who: Who) -> Account:
    return s.accounts.grant(c.account, who, c.role, c.sites)


@handles(m.RevokeRole)
def revoke_role(s: Services, c: m.RevokeRole, who: Who) -> Account:
    return s.accounts.revoke(c.account, who, c.role)


@handles(m.SetPassword)
def set_password(s: Services, c: m.SetPassword, who: Who) -> Account:
    return s.accounts.set_password(c.account, who, c.password)


@handles(m.DisableAccount)
def disable_account(s: Services, c: m.DisableAccount, who: Who) -> Account:
    return s.accounts.disable(c.account, who)


@handles(m.EnableAccount)
def enable_account(s: Services, c: m.EnableAccount, who: Who) -> Account:
    return s.accounts.enable(c.account, who)


@handles(m.ChooseLanguage)
def choose_language(s: Services, c: m.ChooseLanguage, who: Who) -> Account:
    return s.accounts.choose_language(c.account, who, c.language)
