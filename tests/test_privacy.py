"""Personal data erasure that keeps the proofs (PIPL 个人信息删除权, issue #17 item 2).

The contact person of a case is stored sealed under the case's key; `privacy erase` destroys the
key and records the erasure. Afterwards the contact is nowhere: not in any output, not in the
bytes of the SQLite file or its write-ahead log, not in any table on PostgreSQL (nor the key), and
the hash chain still verifies, before and after a rebuild of every read model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, inspect, select, text

from commands import exports
from commands.audit import Audit
from commands.bootstrap import Incubator, bootstrap
from commands.handlers import Actor
from commands.messages import ErasePersonalData
from commands.queries import case_view, history
from commands.roles import ROLES, Right, principal
from commands.service import Who
from commands.workbooks import write_workbook
from lifecycle.errors import NotFound, Refused
from lifecycle.organization import OrganizationCase
from lifecycle.personal import ERASED
from lifecycle.step import Step
from schedules.clock import FixedClock
from store import personal, signing
from store.database import parse_database_url
from store.log import open_log
from tests.api_support import api_on
from tests.builders import drive
from tests.conftest import NOW, who
from tests.test_cli import COMMAND, Shell

CONTACT = "联系人张伟甲"  # the data subject: nothing else in a test park says this
DIRECTOR = Actor("园区主任", "director")
REASON = "本人书面申请删除个人信息"


def apply_with_contact(system: Incubator, name: str = "爱心志愿者协会") -> UUID:
    case = system.service.apply(
        who("2014-01-02"),
        name=name,
        field="公益慈善",
        legal_status="registered",
        track="incubation",
        site="main",
        contact=CONTACT,
    )
    return UUID(str(case.id))


def erase(system: Incubator, case_id: UUID, actor: Actor = DIRECTOR) -> OrganizationCase:
    result = system.dispatcher.handle(ErasePersonalData(org=case_id, reason=REASON), actor)
    assert isinstance(result, OrganizationCase)
    return result


def key_of(system: Incubator, case_id: UUID) -> bytes | None:
    with system.read_models.engine.connect() as conn:
        found = conn.scalar(
            select(personal.subject_keys.c.key).where(
                personal.subject_keys.c.subject == str(case_id)
            )
        )
    return bytes(found) if found is not None else None


def table_contents(system: Incubator) -> str:
    """Every row of every table of the database (the log, the chain, every read model, the
    keys, the sessions...) as text: bytes decoded as UTF-8, as a reader of the table would."""
    engine = system.read_models.engine
    schema = system.database.schema
    found = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names(schema=schema):
            quoted = f'"{schema}"."{table}"' if schema else f'"{table}"'
            for row in conn.execute(text(f"SELECT * FROM {quoted}")):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        found.append(bytes(value).decode("utf-8", "replace"))
                        found.append(bytes(value).hex())
                    else:
                        found.append(str(value))
    return "\n".join(found)


def stored_bytes(system: Incubator) -> bytes:
    """What the database keeps on disk, as far as a test can read it: on SQLite the file and
    its write-ahead log, byte for byte; on PostgreSQL the file of the table of keys (after a
    checkpoint wrote it out). Besides, the contents of every table."""
    engine = system.read_models.engine
    contents = table_contents(system).encode()
    if system.database.backend == "sqlite":
        path = system.database.path
        assert path is not None
        files = [path, path.with_name(path.name + "-wal")]
        return contents + b"".join(f.read_bytes() for f in files if f.exists())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")
        where = conn.scalar(text("SELECT pg_relation_filepath('subject_keys')"))
        held = conn.scalar(text("SELECT pg_read_binary_file(:p)"), {"p": where})
    return contents + bytes(held)


def outputs(system: Incubator, case_id: UUID, tmp_path: Path) -> str:
    """Everything the system answers about the case: its view, its history (as JSON, CSV and a
    workbook), its dossier, the caseload and directory."""
    system.read_models.catch_up()
    case = system.service.case(case_id)
    track = system.service.party_track(case)
    view = case_view(case, system.park, system.service.today(), track)
    events = history(system.log, case_id)
    book = tmp_path / "history.xlsx"
    write_workbook(book, exports.history(system.park, case.name, events))
    cells = [
        str(c) for ws in load_workbook(book).worksheets for r in ws.iter_rows(values_only=True)
        for c in r
    ]  # fmt: skip
    parts = [
        json.dumps(view, ensure_ascii=False, default=str),
        json.dumps(events, ensure_ascii=False, default=str),
        exports.history_csv(events),
        "\n".join(cells),
        json.dumps(Audit(system).dossier(case_id), ensure_ascii=False),
        json.dumps(system.read_models.caseload(), ensure_ascii=False, default=str),
        json.dumps(system.read_models.search("爱心"), ensure_ascii=False, default=str),
    ]
    return "\n".join(parts)


# ---- the whole story, on each backend ---------------------------------------------------------


def test_erasure_leaves_the_contact_nowhere_and_the_chain_whole(
    any_incubator: Incubator, tmp_path: Path
) -> None:
    system = any_incubator
    case_id = apply_with_contact(system)
    other = apply_with_contact(system, name="阳光助残服务队")  # another subject, left alone
    drive(system.service, case_id, "incubating")  # a party track and a workspace too
    shown = outputs(system, case_id, tmp_path)
    assert CONTACT in shown  # while the key is kept: the view, history, exports, dossier
    assert system.service.case(case_id).contact == CONTACT

    # Sealed from the start: the contact was never stored, only its ciphertext.
    key = key_of(system, case_id)
    assert key is not None and len(key) == 32
    before = stored_bytes(system)
    assert CONTACT.encode() not in before
    assert key in before or key.hex() in before.decode("utf-8", "replace")  # the search sees keys

    erased = erase(system, case_id)
    assert erased.contact == ERASED == "已删除"

    shown = outputs(system, case_id, tmp_path)
    assert CONTACT not in shown
    assert shown.count("已删除") >= 6  # view, history JSON, CSV, workbook, dossier
    dossier = Audit(system).dossier(case_id)
    assert [e["personal"] for e in dossier["events"] if "personal" in e] == [{"contact": "已删除"}]
    after = stored_bytes(system)
    assert CONTACT.encode() not in after
    assert key not in after and key.hex() not in after.decode("utf-8", "replace")
    assert key_of(system, case_id) is None
    # the other subject's key and data are untouched
    assert system.service.case(other).contact == CONTACT

    verdict = Audit(system).verify()
    assert verdict["ok"], verdict
    assert verdict["problem"] is None

    # Rebuilt from the log, every read model is what it was: no contact anywhere.
    system.read_models.rebuild()
    system.read_models.catch_up()
    assert CONTACT not in outputs(system, case_id, tmp_path)
    assert CONTACT.encode() not in stored_bytes(system)
    assert Audit(system).verify()["ok"]

    # A new process sees it erased too (nothing of the key cached anywhere).
    again = bootstrap(system_url(system), clock=FixedClock(NOW))
    try:
        assert again.service.case(case_id).contact == "已删除"
        assert again.service.case(other).contact == CONTACT
    finally:
        again.close_all()


def system_url(system: Incubator) -> str:
    if system.database.backend == "sqlite":
        return f"sqlite:///{system.database.path}"
    from tests.conftest import POSTGRES_URL

    return f"{POSTGRES_URL}?schema={system.database.schema}"


def test_erasing_twice_an_unknown_subject_or_without_a_reason_is_refused(
    incubator: Incubator,
) -> None:
    case_id = apply_with_contact(incubator)
    before = incubator.log.recorder.max_notification_id()
    with pytest.raises(Refused, match="needs --reason"):
        incubator.dispatcher.handle(ErasePersonalData(org=case_id), DIRECTOR)
    assert key_of(incubator, case_id) is not None  # nothing destroyed by a refusal
    with pytest.raises(NotFound, match="no organization case with id"):
        erase(incubator, UUID("00000000-0000-4000-8000-000000000000"))
    assert incubator.log.recorder.max_notification_id() == before

    erase(incubator, case_id)
    recorded = incubator.log.recorder.max_notification_id()
    with pytest.raises(Refused, match="was erased on 2026-11-22 by 园区主任"):
        erase(incubator, case_id)
    assert incubator.log.recorder.max_notification_id() == recorded

    without = incubator.service.apply(
        who("2014-01-02"), name="无联系人协会", field="公益慈善", legal_status="filed",
        track="incubation", site="main",
    )  # fmt: skip
    applied = incubator.log.recorder.max_notification_id()
    with pytest.raises(Refused, match="holds no personal data"):
        erase(incubator, UUID(str(without.id)))
    assert incubator.log.recorder.max_notification_id() == applied


def test_an_erasure_that_could_not_be_recorded_stays_erased_and_is_recorded_when_given_again(
    incubator: Incubator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key goes first: a failure between destroying it and recording the erasure leaves
    the data erased (never the other way round), and the same command then records it."""
    case_id = apply_with_contact(incubator)

    def lost(*_: Any) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(incubator.log, "save", lost)
    with pytest.raises(ConnectionError):
        erase(incubator, case_id)
    monkeypatch.undo()
    case = incubator.service.case(case_id)
    assert case.contact == "已删除" and case.personal_data_erased is None
    erase(incubator, case_id)
    assert history(incubator.log, case_id)[-1]["type"] == "PersonalDataErased"
    assert incubator.service.case(case_id).personal_data_erased is not None


def test_the_erasure_is_itself_on_the_record_and_changes_no_step(incubator: Incubator) -> None:
    case_id = apply_with_contact(incubator)
    drive(incubator.service, case_id, "incubating")
    before = incubator.service.case(case_id)
    erase(incubator, case_id)
    after = incubator.service.case(case_id)
    assert (after.stage, after.last_on, after.deadlines(incubator.park.rules, after.last_on)) == (
        before.stage,
        before.last_on,
        before.deadlines(incubator.park.rules, before.last_on),
    )
    last = history(incubator.log, case_id)[-1]
    assert (last["type"], last["actor"], last["role"], last["reason"]) == (
        "PersonalDataErased",
        "园区主任",
        "director",
        REASON,
    )
    assert last["data"]["fields"] == ["contact"]
    # a step dated before the erasure's day is still accepted: the erasure is no step
    incubator.service.record_growth_review(case_id, who("2014-07-10"), ["王芳=75"])


def test_only_the_director_and_an_admin_may_erase() -> None:
    allowed = {role for role, rights in ROLES.items() if Right.ERASE_PERSONAL_DATA in rights}
    assert allowed == {"director", "admin"}
    assert principal("李审计", [("auditor", [])]).role_for(Right.ERASE_PERSONAL_DATA) is None
    caseworker = principal("王芳", [("caseworker", ["main"])])
    assert caseworker.role_for(Right.ERASE_PERSONAL_DATA, "main") is None


def test_a_sealed_field_opens_only_as_its_subject_and_field(incubator: Incubator) -> None:
    keys = personal.keys_of(incubator.log)
    assert keys is not None
    one = apply_with_contact(incubator)
    two = apply_with_contact(incubator, "另一个协会")
    sealed = keys.seal(key_of(incubator, one) or b"", one, "contact", CONTACT)
    assert keys.reveal(one, "contact", sealed) == CONTACT
    with pytest.raises(personal.PersonalDataError, match="moved from another subject or field"):
        keys.reveal(two, "contact", sealed)
    with pytest.raises(personal.PersonalDataError):
        keys.reveal(one, "phone", sealed)


def key_count(system: Incubator) -> int:
    with system.read_models.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(personal.subject_keys)) or 0)


def test_a_key_is_stored_with_its_event_or_not_at_all(any_incubator: Incubator) -> None:
    """The subject's key is written in the transaction of the first event sealed under it: a
    write that fails leaves neither (here the writer has lost its signing key, so the
    recorder refuses inside the transaction), and the next one stores both."""
    system = any_incubator
    first = apply_with_contact(system)
    assert key_count(system) == 1
    recorder: Any = system.log.recorder
    signer, recorder.signer = recorder.signer, None
    events = system.log.recorder.max_notification_id()
    with pytest.raises(signing.NotSigning):
        apply_with_contact(system, "未能记录的协会")
    assert key_count(system) == 1
    assert system.log.recorder.max_notification_id() == events
    recorder.signer = signer
    second = apply_with_contact(system, "第二个协会")
    assert key_count(system) == 2
    for case_id in (first, second):
        assert key_of(system, case_id) is not None
        assert system.service.case(case_id).contact == CONTACT


def test_several_subjects_and_events_in_one_transaction_keep_their_keys_and_verify(
    any_incubator: Incubator,
) -> None:
    """A transaction of several new subjects, each with several events: every key is written
    with them (on PostgreSQL as arrays rather than one row of values), every contact opens,
    and the chain verifies; one subject alone after it is written the single-row way."""
    system = any_incubator
    step = system.service._step(who("2014-01-02"))
    cases = [
        OrganizationCase.apply_for(
            step, name=f"第{n}个协会", field="公益慈善", legal_status="registered",
            track="incubation", site="main", contact=CONTACT,
        )
        for n in range(3)
    ]  # fmt: skip
    for case in cases[:2]:
        case.start_inspection(system.service._step(who("2014-01-03")))
    system.log.save(*cases)
    alone = apply_with_contact(system, "单独的协会")
    assert key_count(system) == 4
    for case_id in [UUID(str(c.id)) for c in cases] + [alone]:
        assert key_of(system, case_id) is not None
        assert system.service.case(case_id).contact == CONTACT
    verdict = Audit(system).verify()
    assert verdict["ok"], verdict


def test_the_read_models_decode_events_with_the_contact_left_sealed(incubator: Incubator) -> None:
    case = apply_with_contact(incubator)
    stored = incubator.log.recorder.select_events(case, limit=1)[0]
    assert vars(incubator.log.mapper.to_domain_event(stored))["contact"] == CONTACT
    kept = vars(personal.sealed_decoder(incubator.log)(stored))["contact"]
    assert set(kept) == {personal.SEALED} and CONTACT not in str(kept)


def test_an_imported_contact_is_sealed_and_erased_the_same_way(
    incubator: Incubator, tmp_path: Path
) -> None:
    from commands.workbooks import read_table
    from tests.test_import import record, write_csv

    path = write_csv(tmp_path / "records.csv", [record(1, "applied", contact=CONTACT)])
    report = incubator.importing.import_table(Who("李娜"), read_table(path), dry_run=False)
    assert not report.problems, report.problems
    (case_id,) = report.imported
    assert incubator.service.case(case_id).contact == CONTACT
    assert history(incubator.log, case_id)[0]["type"] == "CaseImported"
    assert CONTACT.encode() not in stored_bytes(incubator)
    erase(incubator, case_id)
    assert incubator.service.case(case_id).contact == "已删除"
    assert CONTACT.encode() not in stored_bytes(incubator)


# ---- the HTTP API and the web pages ------------------------------------------------------------


def test_the_api_erases_for_a_director_only_and_then_answers_erased(incubator: Incubator) -> None:
    case_id = apply_with_contact(incubator)
    with api_on(incubator) as api:
        path = f"/api/orgs/{case_id}"
        assert api.get("auditor", path).json()["contact"] == CONTACT
        body = {"reason": REASON}
        for role in ("caseworker", "auditor", "instructor"):
            refused = api.post(role, f"{path}/privacy/erase", body)
            assert refused.status_code == 403, (role, refused.text)
        assert key_of(incubator, case_id) is not None
        answer = api.post("director", f"{path}/privacy/erase", body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["contact"] == "已删除"
        assert api.get("auditor", path).json()["contact"] == "已删除"
        again = api.post("admin", f"{path}/privacy/erase", body)
        assert again.status_code == 422 and "was erased on" in again.json()["detail"]
        for answer in (
            api.get("auditor", f"{path}/history"),
            api.get("auditor", f"{path}/history", Accept="text/csv"),
            api.get("auditor", f"{path}/dossier"),
        ):
            assert answer.status_code == 200, answer.text
            assert CONTACT not in answer.text and "已删除" in answer.text
        described = api.client.get("/api/openapi.json").json()["paths"]
        erase_op = described["/api/orgs/{id}/privacy/erase"]["post"]
        assert erase_op["x-right"] == "erase-personal-data"


def test_the_case_page_shows_the_contact_offers_erasure_to_the_director_and_then_says_erased(
    incubator: Incubator,
) -> None:
    from tests.test_web import account, csrf, log_in
    from web.app import create_app

    for name, role in (("李娜", "caseworker"), ("园区主任", "director"), ("审计员", "auditor")):
        account(incubator, name, role, ("main",) if role == "caseworker" else ())
    case_id = apply_with_contact(incubator)
    incubator.read_models.catch_up()
    url = f"/orgs/{case_id}"
    app = create_app(incubator)
    with TestClient(app, base_url="https://127.0.0.1") as web:
        log_in(web, "李娜")
        page = web.get(url)
        assert CONTACT in page.text and "/privacy/erase" not in page.text
        forged = web.post(f"{url}/privacy/erase", data={"csrf": csrf(page.text), "reason": "x"})
        assert forged.status_code == 403
    assert key_of(incubator, case_id) is not None

    with TestClient(app, base_url="https://127.0.0.1") as web:
        log_in(web, "园区主任")
        page = web.get(url)
        assert f'action="{url}/privacy/erase"' in page.text
        assert "删除案卷联系人的个人信息" in page.text  # the form, titled by its message
        seen = re.search(r'name="seen" value="([^"]+)"', page.text)
        assert seen
        data = {"csrf": csrf(page.text), "seen": seen[1], "reason": REASON}
        done = web.post(f"{url}/privacy/erase", data=data, follow_redirects=False)
        assert done.status_code == 303, done.text
        page = web.get(url)
        assert CONTACT not in page.text and "已删除" in page.text
        assert "个人信息已删除" in page.text  # the timeline names the erasure
        assert "/privacy/erase" not in page.text  # nothing left to erase
        assert CONTACT not in web.get(f"{url}/history.csv").text


# ---- events written before sealing --------------------------------------------------------------


def test_plain_text_from_before_sealing_reads_as_erased_but_stays_in_the_log(
    sqlite_url: str,
) -> None:
    """A log from before this release holds the contact as plain text. It cannot be removed
    without rewriting the append-only record; erasure makes every output say 已删除, and
    `privacy show` says where the plain text remains."""
    old = open_log(parse_database_url(sqlite_url))  # as the release before wrote
    step = Step(actor="李娜", on=NOW.date(), recorded_at=NOW)
    case = OrganizationCase.apply_for(
        step, name="老案卷协会", field="charity", legal_status="filed", track="incubation",
        site="main", contact=CONTACT,
    )  # fmt: skip
    old.save(case)
    old.close()
    case_id = UUID(str(case.id))

    system = bootstrap(sqlite_url, clock=FixedClock(NOW))
    try:
        assert system.service.case(case_id).contact == CONTACT
        # the old log is signed once, by its administrator, before anything more is written
        unsigned = Audit(system).verify()
        assert not unsigned["ok"] and unsigned["problem"]["kind"] == "unsigned"
        assert Audit(system).migrate()["migrated_events"] == 1
        from commands.privacy import whereabouts

        found = whereabouts(system.log, system.service.case(case_id))
        assert found["plain_text_events"] == 1 and found["key"]["state"] == "none"
        erase(system, case_id)
        assert system.service.case(case_id).contact == "已删除"
        shown = json.dumps(history(system.log, case_id), ensure_ascii=False, default=str)
        assert CONTACT not in shown and "已删除" in shown
        found = whereabouts(system.log, system.service.case(case_id))
        assert found["status"] == "erased" and found["key"]["state"] == "destroyed"
        assert found["plain_text_events"] == 1
        # honest: the old event's bytes still hold it
        assert system.database.path is not None
        assert CONTACT.encode() in system.database.path.read_bytes()
        assert Audit(system).verify()["ok"]
    finally:
        system.close_all()


# ---- the command line ---------------------------------------------------------------------------


@pytest.mark.slow
def test_privacy_erase_and_show_through_the_command_line(sqlite_url: str) -> None:
    shell = Shell(sqlite_url, INCUBATOR_ACTOR="园区主任")
    org = shell.run(
        "org", "apply", "--name", "爱心志愿者协会", "--field", "公益慈善", "--legal-status",
        "registered", "--track", "incubation", "--site", "main", "--contact", CONTACT,
        "--on", "2014-01-06",
    ).stdout.strip()  # fmt: skip
    shown = shell.json("privacy", "show", org[:8])
    assert (shown["status"], shown["key"]["state"]) == ("held", "kept")
    assert [(e["type"], e["field"], e["stored"]) for e in shown["events"]] == [
        ("ApplicationReceived", "contact", "sealed")
    ]
    assert "--reason" in shell.refused("privacy", "erase", org)
    assert "no case id starts with" in shell.refused("privacy", "erase", "ffff", "--reason", "x")
    erased = shell.json("privacy", "erase", org, "--reason", REASON)
    assert erased["status"] == "erased" and erased["erasure"]["reason"] == REASON
    assert erased["key"]["state"] == "destroyed"
    assert "was erased on" in shell.refused("privacy", "erase", org, "--reason", REASON)
    assert shell.json("org", "show", org)["contact"] == "已删除"
    assert CONTACT not in shell.run("org", "history", org, "--csv").stdout
    assert shell.json("audit", "verify")["ok"]
    text = shell.run("privacy", "show", org).stdout
    assert "key: destroyed" in text and REASON in text
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    for path in (database, database.with_name(database.name + "-wal")):
        assert not path.exists() or CONTACT.encode() not in path.read_bytes()
    assert COMMAND  # the real executable
