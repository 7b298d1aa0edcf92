"""The audit as every adapter offers it: verify the record against its signed hash chain and
checkpoints, migrate a log written before signing, pin and revoke keys, sign a checkpoint,
export a case's signed dossier and check one offline.

The command line, the API and the web pages call these and only render what they return; the
chain itself is the store's (store/audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from commands import dossier
from lifecycle.errors import Refused
from lifecycle.party import PartyIncubation
from store import audit as chain
from store import signing

if TYPE_CHECKING:
    from commands.bootstrap import Incubator


@dataclass(frozen=True)
class Audit:
    system: Incubator

    def verify(
        self, kept: dict[str, Any] | None = None, trusted: Path | None = None
    ) -> dict[str, Any]:
        """The whole log against its links and their signatures, then against `kept` (a
        checkpoint an auditor kept) or else the latest one recorded; the verdict as JSON (`ok`,
        `problem`...). `trusted`: an auditor's own trusted-keys file, to trust only the keys it
        pins (else those pinned for this database)."""
        engine = self.system.read_models.engine
        trust = self.trust(trusted)
        verdict = chain.verify(engine, trust)
        held = [chain.latest_checkpoint(engine)] if kept is None else [kept]
        for checkpoint in (c for c in held if c is not None):
            problem = chain.check_checkpoint(engine, checkpoint, trust)
            if problem and verdict.ok:
                verdict.ok = False
                verdict.problem = {"kind": "checkpoint", "detail": problem}
        return verdict.as_json()

    def trust(self, trusted: Path | None = None) -> chain.Trust:
        """The keys pinned for this database, or only those of an auditor's file."""
        return self.system.trust() if trusted is None else trust_file(trusted)

    def migrate(self) -> dict[str, Any]:
        """Chain and sign, once, the past of a log written before events were signed."""
        system = self.system
        try:
            done = chain.migrate(
                system.read_models.engine,
                system.log,
                system.signer.key,
                system.clock.now(),
                system.trust(),
            )
        except chain.AuditError as e:
            raise Refused(str(e)) from e
        signing.remember_start(system.keys, done["signed_from"])
        return done

    def keys(self) -> dict[str, Any]:
        """The key this process signs with, the keys pinned for the database, and how many
        events each key signed in the log."""
        system = self.system
        trust = system.trust()
        return {
            "signing_key": system.signer.public_key,
            "signing_key_file": system.park.signing_key or str(system.keys.signing),
            "trusted_keys_file": str(system.keys.trusted),
            "pinned": sorted(trust.keys),
            "revoked": {k: v.isoformat() for k, v in sorted(trust.revoked.items())},
            "signed": chain.signed_by(system.read_models.engine),
        }

    def pin(self, public_key: str, revoked_from: datetime | None = None) -> dict[str, Any]:
        """Pin a public key for this database (a writer's on another machine, a key of an older
        backup), or revoke one from a moment on."""
        why = "revoked" if revoked_from else "pinned"
        try:
            signing.pin(self.system.keys, public_key.strip().lower(), why, revoked_from)
        except chain.AuditError as e:
            raise Refused(str(e)) from e
        return self.keys()

    def checkpoint(self) -> dict[str, Any]:
        """The head of the log signed with this process's key, recorded and returned."""
        system = self.system
        try:
            return chain.checkpoint(
                system.read_models.engine, system.signer.key, system.clock.now()
            )
        except chain.AuditError as e:
            raise Refused(str(e)) from e

    def dossier(self, case_id: UUID) -> dict[str, Any]:
        """The case's dossier: the events of the case, its party track and its reminders, as
        stored, with their links, the writers' signatures, the latest checkpoint, and the head
        of each aggregate signed at export."""
        system = self.system
        case = system.service.case(case_id)
        system.read_models.catch_up()  # knows the case's reminders
        aggregates = [case_id, PartyIncubation.id_for(case_id)] + [
            UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(case_id))
        ]
        return dossier.export(
            system.read_models.engine,
            system.log,
            case_id,
            case.name,
            aggregates,
            system.clock.now(),
            system.signer.key,
        )


def new_signing_key(out: Path) -> str:
    """Writes a new Ed25519 key to `out` (never over an existing file); its public key."""
    try:
        return chain.new_signing_key(out)
    except FileExistsError:
        raise Refused(
            f"{out} exists: a signing key is never overwritten; choose another file"
        ) from None


def trust_file(trusted: Path) -> chain.Trust:
    """The keys a trusted-keys file pins (an auditor's own copy), and nothing else."""
    try:
        keys, revoked, started = signing.read_trusted(trusted)
    except (OSError, UnicodeDecodeError) as e:
        raise Refused(f"cannot read the trusted keys {trusted}: {e}") from None
    except chain.AuditError as e:
        raise Refused(str(e)) from None
    if not keys:
        raise Refused(f"{trusted} pins no key: it needs a line with a public key (64 hex digits)")
    return chain.Trust(frozenset(keys), revoked, started)


def verify_dossier(data: Any, trust: chain.Trust) -> list[str]:
    """What does not hold in a dossier, checked offline against the pinned keys."""
    return dossier.verify_dossier(data, trust)
