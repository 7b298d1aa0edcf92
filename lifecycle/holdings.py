"""What a case holds outside itself, and how each of those aggregates is asked in turn when the
case moves in or lets go. No aggregate calls another's methods: these policies ask each one to
decide, and the handler saves them all with the case in one transaction (the eventsourcing
library's `transfer_funds`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from eventsourcing.domain import Aggregate

from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.step import Step
from lifecycle.workspace import Workspace


@dataclass
class Holdings:
    """A case's workspace, its party track and the joint branch that track belongs to."""

    workspace: Workspace | None = None
    party: PartyIncubation | None = None
    branch: JointBranch | None = None

    def all(self) -> list[Aggregate]:
        return [a for a in (self.workspace, self.party, self.branch) if a is not None]


def move_in(case: OrganizationCase, workspace: Workspace, step: Step) -> PartyIncubation:
    """The case entered the shell or was admitted: the workspace is taken (it refuses when it
    is not free) and its party track starts (入驻一家, 覆盖一家)."""
    case_id = UUID(str(case.id))
    workspace.allocate(case_id, case.name, step)
    return PartyIncubation.start(case_id, case.name, case.site, step)


def let_go(case: OrganizationCase, step: Step, held: Holdings) -> list[Aggregate]:
    """After a step that ends the in-shell period or the case: the workspace is released; when
    the case has ended, its party track closes and leaves its joint branch. Returns every
    aggregate held, to be saved with the case."""
    case_id = UUID(str(case.id))
    if case.workspace is None and held.workspace is not None:
        held.workspace.release(case_id, step)
    if not case.is_open and held.party is not None and held.party.is_open:
        held.party.close(step, case.stage)
        if held.branch is not None:
            closed = replace(step, on=held.party.last_on)  # never before a step the track had
            held.branch.leave(case_id, closed, f"the organization's case ended ({case.stage})")
    return held.all()


def evaluation_noted(party: PartyIncubation | None, step: Step, evaluation: str) -> list[Aggregate]:
    """The party track notes the case's evaluation beside its star rating (四个同步)."""
    if party is None:
        return []
    party.note_evaluation(step, evaluation)
    return [party]
