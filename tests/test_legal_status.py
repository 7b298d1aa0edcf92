"""Legal status (登记/备案): it moves unregistered → filed → registered during incubation, never
back except by a correction with a reason; a registration carries a unified social credit code
checked with its check character (GB 32100-2015)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from commands import messages as m
from commands.bootstrap import Incubator
from commands.queries import case_view
from commands.service import Who
from lifecycle.bounds import Invalid
from lifecycle.credit_code import check_character, credit_code
from lifecycle.errors import Refused, WrongStage
from lifecycle.step import Step
from tests.conftest import NOW
from tests.given import Scenario

# The example of the standard and codes of real organizations (a foundation registered with the
# Ministry of Civil Affairs among them: 5 — civil affairs, 3 — foundation).
VALID = [
    "91350100M000100Y43",
    "9144030071526726XG",
    "91330100716105852F",
    "53100000500021676K",
]
BUREAU = "伊金霍洛旗民政局"


# ---- credit codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", VALID)
def test_a_valid_credit_code_is_taken(code: str) -> None:
    assert credit_code(f" {code} ") == code


def test_the_check_character_is_computed_from_the_first_17() -> None:
    # worked by hand for the standard's example: Σ value × weight = 555; 31 − 555 mod 31 = 3
    assert check_character("91350100M000100Y4") == "3"
    assert check_character("53100000500021676") == "K"


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("91350100M000100Y44", "ends with the check character '4', but its first 17"),
        ("53100000500021676X", "but its first 17 characters give 'K'"),
        ("91350100M000100Y4", "18 characters (统一社会信用代码), not 17"),
        ("91350100M000100Y433", "not 19"),
        ("", "not 0"),
        ("91350100m000100y43", "must be written in capital letters: '91350100M000100Y43'"),
        ("91350100M000100I43", "holds 'I', which no credit code uses"),
        ("91350100MO00100Y43", "holds 'O'"),
        ("9135010SM000100Y43", "holds 'S'"),
        ("91350100M000100V43", "holds 'V'"),
        ("Z1350100M000100Y43", "holds 'Z'"),
        ("H1350100M000100Y43", "begins with 'H', which is no registration authority's code"),
        ("9135A100M000100Y43", "administrative division code, 6 digits"),
        ("91350100M000100Y4３", "holds '３'"),  # a full-width digit
    ],
)
def test_a_wrong_credit_code_is_refused_saying_what_is_wrong(code: str, says: str) -> None:
    with pytest.raises(Invalid, match="--credit-code") as refusal:
        credit_code(code)
    assert says in str(refusal.value)
    assert refusal.value.field == "credit_code"


def test_one_mistyped_character_is_always_caught() -> None:
    """The check character catches any single wrong character of the first 17."""
    code = VALID[0]
    for i in range(17):
        for c in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            if c == code[i]:
                continue
            wrong = code[:i] + c + code[i + 1 :]
            with pytest.raises(Invalid):
                credit_code(wrong)


# ---- the status moves forward ---------------------------------------------------------------


def unregistered(s: Scenario, **more: object) -> None:
    s.given(
        m.Apply,
        name="阳光助残服务队",
        field="社区服务",
        legal_status="unregistered",
        track="incubation",
        site="main",
        on="2014-01-02",
        **more,
    )


def test_filed_then_registered_during_incubation() -> None:
    s = Scenario()
    unregistered(s)
    s.given(m.StartInspection, on="2014-01-08")
    help_given = s.when(m.RecordRegistrationHelp, note="协助准备备案材料", on="2014-01-09")
    assert help_given.names == ["RegistrationHelpRecorded"]
    filed = s.when(
        m.RecordFiling, number="伊社备〔2014〕12号", authority="阿勒腾席热镇", on="2014-01-15"
    )
    assert filed.names == ["FilingRecorded"]
    case = s.case()
    assert case.legal_status == "filed"
    assert case.filing is not None and case.filing["number"] == "伊社备〔2014〕12号"
    registered = s.when(
        m.RecordRegistration, credit_code=VALID[3], authority=BUREAU, on="2014-03-01"
    )
    event = registered.one("RegistrationRecorded")
    assert (event.credit_code, event.authority, event.on.isoformat()) == (
        VALID[3],
        BUREAU,
        "2014-03-01",
    )
    case = s.case()
    assert case.legal_status == "registered"
    view = case_view(case, s.park, NOW.date())
    assert view["legal_status"] == "registered"
    assert view["registration"] == {
        "credit_code": VALID[3],
        "authority": BUREAU,
        "on": "2014-03-01",
    }
    assert view["filing"]["on"] == "2014-01-15"


def test_an_unregistered_organization_may_register_without_filing_first() -> None:
    s = Scenario()
    unregistered(s)
    s.when(m.RecordRegistration, credit_code=VALID[3], authority=BUREAU, on="2014-02-01")
    assert s.case().legal_status == "registered"


def test_the_status_never_moves_back_nor_stands_still() -> None:
    s = Scenario()
    s.applied()  # registered when it applied
    refusal = s.refuses(
        m.RecordFiling,
        "is registered: a legal status never moves back to filed",
        number="1",
        authority="镇",
        on="2014-01-03",
    )
    assert "correct-legal-status" in str(refusal)
    s.refuses(
        m.RecordRegistration,
        "is registered already",
        credit_code=VALID[0],
        authority=BUREAU,
        on="2014-01-03",
    )
    s.refuses(m.RecordRegistrationHelp, "registered already", note="x", on="2014-01-03")


def test_a_wrong_credit_code_is_refused_by_the_message_and_the_domain() -> None:
    s = Scenario()
    unregistered(s)
    s.refuses(
        m.RecordRegistration,
        "check character",
        Invalid,
        credit_code="91350100M000100Y44",
        authority=BUREAU,
        on="2014-01-03",
    )
    case = s.case()
    with pytest.raises(Invalid, match="check character"):
        case.record_registration(
            _step("2014-01-03"), "91350100M000100Y44", BUREAU
        )  # no caller gets past the domain


def _step(on: str) -> Step:
    return Step(actor="王芳", on=date.fromisoformat(on), recorded_at=NOW)


def test_a_correction_moves_it_back_only_with_a_reason() -> None:
    s = Scenario()
    s.applied()
    s.refuses(
        m.CorrectLegalStatus, "needs --reason saying why the legal status was wrong", to="filed"
    )
    s.refuses(m.CorrectLegalStatus, "already registered", to="registered", reason="核对")
    corrected = s.when(
        m.CorrectLegalStatus, to="unregistered", reason="申请表填错: 尚未登记", on="2014-01-05"
    )
    event = corrected.one("LegalStatusCorrected")
    assert (event.legal_status, event.previous, event.reason) == (
        "unregistered",
        "registered",
        "申请表填错: 尚未登记",
    )
    assert s.case().legal_status == "unregistered"
    s.when(m.RecordFiling, number="2", authority="镇", on="2014-01-06")
    assert s.case().legal_status == "filed"


def test_a_correction_clears_what_no_longer_holds() -> None:
    s = Scenario()
    unregistered(s)
    s.given(m.RecordFiling, number="12", authority="镇", on="2014-01-05")
    s.given(m.RecordRegistration, credit_code=VALID[3], authority=BUREAU, on="2014-01-06")
    s.when(m.CorrectLegalStatus, to="filed", reason="登记证书尚未下发", on="2014-01-07")
    case = s.case()
    assert (case.legal_status, case.registration) == ("filed", None)
    assert case.filing is not None and case.filing["number"] == "12"


def test_the_status_moves_only_while_the_case_is_open() -> None:
    s = Scenario()
    unregistered(s)
    s.given(m.Reject, reason="不符合条件", on="2014-01-03")
    s.refuses(
        m.RecordFiling,
        "cannot record-filing",
        WrongStage,
        number="1",
        authority="镇",
        on="2014-01-04",
    )


def test_a_filing_needs_its_number_and_authority() -> None:
    s = Scenario()
    unregistered(s)
    s.refuses(m.RecordFiling, "--number", Refused, number="   ", authority="镇", on="2014-01-04")


# ---- shown and counted -----------------------------------------------------------------------


def who(on: str, reason: str | None = None) -> Who:
    return Who("王芳", date.fromisoformat(on), reason)


def test_the_caseload_and_the_report_count_the_statuses_per_site(incubator: Incubator) -> None:
    service = incubator.service

    def apply(name: str, status: str, site: str = "main") -> UUID:
        case = service.apply(
            who("2014-01-02"),
            name=name,
            field="公益慈善",
            legal_status=status,
            track="incubation",
            site=site,
        )
        return UUID(str(case.id))

    a = apply("甲", "unregistered")
    b = apply("乙", "filed")
    c = apply("丙", "registered", site="branch")
    d = apply("丁", "unregistered")
    service.record_filing(a, who("2014-02-01"), "1", "镇")
    service.record_registration(b, who("2014-02-01"), VALID[3], BUREAU)
    service.correct_legal_status(d, who("2014-02-01", "填错"), "filed")
    service.record_registration(d, who("2014-02-02"), VALID[2], BUREAU)
    service.reject(c, who("2014-02-03", "不符合条件"))
    incubator.read_models.catch_up()
    statuses = {r["name"]: r["legal_status"] for r in incubator.read_models.caseload()}
    assert statuses == {"甲": "filed", "乙": "registered", "丙": "registered", "丁": "registered"}
    report = {r["site"]: r for r in incubator.read_models.legal_status()}
    assert report["main"] == {
        "site": "main",
        "organizations": 3,
        "unregistered": 0,
        "filed": 1,
        "registered": 2,
        # 甲 filed, 乙 registered, 丁 registered (filed all along: its correction is no move)
        "moved": 3,
        "moved_to_filed": 1,
        "moved_to_registered": 2,
    }
    # 丙 was rejected: no longer in the park, and it never moved
    assert report["branch"]["organizations"] == 0 and report["branch"]["moved"] == 0
    assert [r["site"] for r in incubator.read_models.legal_status("branch")] == ["branch"]


def test_correcting_before_any_move_is_no_move(incubator: Incubator) -> None:
    case = incubator.service.apply(
        who("2014-01-02"),
        name="甲",
        field="公益慈善",
        legal_status="unregistered",
        track="incubation",
        site="main",
    )
    incubator.service.correct_legal_status(
        UUID(str(case.id)), who("2014-01-03", "其实已经登记"), "registered"
    )
    incubator.read_models.catch_up()
    [main] = incubator.read_models.legal_status()
    assert (main["registered"], main["moved"]) == (1, 0)
