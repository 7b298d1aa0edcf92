"""The audit as every adapter offers it: verify the record against its hash chain and signed
checkpoints, seal, sign a checkpoint, export a case's dossier and check one offline.

The command line, the API and the web pages call these and only render what they return; the
chain itself is the store's (store/audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from commands import dossier
from lifecycle.errors import Refused
from lifecycle.party import PartyIncubation
from store import audit as chain

if TYPE_CHECKING:
    from commands.bootstrap import Incubator


class NoSigningKey(Refused):
    """The settings name no key to sign checkpoints with."""


@dataclass(frozen=True)
class Audit:
    system: Incubator

    def verify(self, kept: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole log against its chain, then against `kept` (a checkpoint an auditor kept)
        or else the latest one recorded; the verdict as JSON (`ok`, `problem`...)."""
        engine = self.system.read_models.engine
        verdict = chain.verify(engine, self.system.log)
        held = [chain.latest_checkpoint(engine)] if kept is None else [kept]
        for checkpoint in (c for c in held if c):
            problem = chain.check_checkpoint(engine, checkpoint)
            if problem and verdict.ok:
                verdict.ok = False
                verdict.problem = {"kind": "checkpoint", "detail": problem}
        return verdict.as_json()

    def seal(self) -> int:
        return chain.seal(self.system.read_models.engine, self.system.log)

    def checkpoint(self) -> dict[str, Any]:
        """The head of the log signed with the settings' key, recorded and returned."""
        system = self.system
        if system.park.signing_key is None:
            raise NoSigningKey(
                "no signing key: write one with `incubator audit keygen --out FILE` and name it "
                "under [audit] signing_key in the settings file"
            )
        try:
            key = chain.load_signing_key(system.park.signing_key)
            return chain.checkpoint(system.read_models.engine, system.log, key, system.clock.now())
        except chain.AuditError as e:
            raise Refused(str(e)) from e

    def dossier(self, case_id: UUID) -> dict[str, Any]:
        """The case's dossier: the events of the case, its party track and its reminders, as
        stored, with their hashes and the latest checkpoint."""
        system = self.system
        case = system.service.case(case_id)
        system.read_models.catch_up()  # seals what was written, and knows the case's reminders
        aggregates = [case_id, PartyIncubation.id_for(case_id)] + [
            UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(case_id))
        ]
        self.seal()
        return dossier.export(
            system.read_models.engine,
            system.log,
            case_id,
            case.name,
            aggregates,
            system.clock.now(),
        )


def new_signing_key(out: Path) -> str:
    """Writes a new Ed25519 key to `out` (never over an existing file); its public key."""
    try:
        return chain.new_signing_key(out)
    except FileExistsError:
        raise Refused(
            f"{out} exists: a signing key is never overwritten; choose another file"
        ) from None


def verify_dossier(data: Any) -> list[str]:
    """What does not hold in a dossier, checked offline (no database)."""
    return dossier.verify_dossier(data)
