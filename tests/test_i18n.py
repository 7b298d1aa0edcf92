"""The web's languages (issue #15): Chinese first, dates as 2014年3月3日, every refusal of the
domain said in Chinese, the catalogs complete and current."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment

from commands import messages as m
from commands.messages import COMMANDS
from commands.roles import ROLE_NAMES
from lifecycle.errors import Refused, Said, Term
from lifecycle.stages import (
    PARTY_STAGE_NAMES_ZH,
    PARTY_TRANSITIONS,
    PARTY_WORKFLOW,
    PROJECT_STAGE_NAMES_ZH,
    PROJECT_WORKFLOW,
    STAGE_NAMES_ZH,
    WORKFLOWS,
)
from tests.builders import PANEL_PASS
from tests.cohort import Known, known_cohort
from tests.conftest import who
from web import catalog, labels
from web.i18n import EN, LOCALE_DIR, ZH, Lang, lang, negotiate, po_path, say, translations

ROOT = Path(__file__).resolve().parent.parent
ZH_LANG, EN_LANG = lang(ZH), lang(EN)


def refused(action: Any) -> Said:
    with pytest.raises(Said) as caught:
        action()
    return caught.value


def cjk(text: str) -> int:
    return sum("\u4e00" <= c <= "\u9fff" for c in text)


# ---- dates, numbers, the language of a request ------------------------------------------------


def test_dates_are_written_as_each_language_writes_them() -> None:
    assert ZH_LANG.date(date(2014, 3, 3)) == "2014年3月3日"
    assert EN_LANG.date(date(2014, 3, 3)) == "3 Mar 2014"
    assert ZH_LANG.date(None) == ""
    assert ZH_LANG.month(date(2014, 3, 3)) == "2014年3月"
    # a moment on the park's clock (Asia/Shanghai, UTC+8), or another zone's
    moment = datetime(2014, 3, 3, 18, 5, tzinfo=UTC)
    assert ZH_LANG.datetime(moment) == "2014年3月4日 02:05"
    assert EN_LANG.datetime(moment, "UTC") == "3 Mar 2014 18:05"


def test_numbers_and_money() -> None:
    assert ZH_LANG.number(440000) == "440,000"
    assert ZH_LANG.money(Decimal("440000")) == "¥440,000.00"
    assert EN_LANG.money(Decimal("3500.5")) == "CN¥3,500.50"
    assert ZH_LANG.percent(0.6667) == "67%"


@pytest.mark.parametrize(
    ("header", "chosen", "expected"),
    [
        (None, None, ZH),
        ("en-US,en;q=0.9", None, EN),
        ("fr-FR, en;q=0.5, zh;q=0.8", None, ZH),
        ("fr-FR, de;q=0.9", None, ZH),  # nothing it speaks: Chinese
        ("en;q=0, zh-TW", None, ZH),  # q=0 is "not this one"
        ("zh-CN,zh;q=0.9", "en", EN),  # the person's choice wins over the browser's
        ("en", "zh-CN", ZH),
        ("en", "klingon", EN),  # a choice it does not speak is passed over
    ],
)
def test_the_language_of_a_request(header: str | None, chosen: str | None, expected: str) -> None:
    assert negotiate(header, chosen).locale == expected


def test_the_catalogs_are_compiled_in_memory_once_and_no_mo_file_is_kept() -> None:
    assert translations(ZH) is translations(ZH)
    assert list(LOCALE_DIR.rglob("*.mo")) == []
    assert sorted(p.parent.parent.name for p in LOCALE_DIR.rglob("messages.po")) == [EN, ZH]
    assert ZH_LANG.gettext("Today") == "今天"
    assert EN_LANG.gettext("Today") == "Today"  # the English catalog says the msgid


# ---- refusals in Chinese ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cohort = known_cohort(tmp_path_factory.mktemp("i18n"))
    yield cohort
    cohort.system.close_all()


def test_a_wrong_stage_names_the_stage_and_the_allowed_commands_in_chinese(known: Known) -> None:
    withdrawn = known.ids["市民学堂"]
    refusal = refused(
        lambda: known.system.service.evaluate_exit(withdrawn, who("2015-05-01"), PANEL_PASS)
    )
    assert "cannot evaluate-exit" in str(refusal)  # the command line's English is unchanged
    assert say(refusal, ZH_LANG) == (
        "无法出壳评估：该案卷处于“主动退出”阶段；“主动退出”阶段不能再进行任何操作：该案卷已经结束"
    )
    incubating = known.ids["阳光助残服务队"]
    refusal = refused(lambda: known.system.service.start_inspection(incubating, who("2015-05-01")))
    said = ZH_LANG.say(refusal)
    assert said.startswith("无法开始考察辅导：该案卷处于“壳内孵化”阶段；")
    for allowed in ("出壳评估", "成长评估", "提前终止", "主动退出", "指定社工", "记录备案"):
        assert allowed in said


def test_a_refusal_with_dates_says_them_in_chinese(known: Known) -> None:
    case = known.ids["阳光助残服务队"]
    refusal = refused(lambda: known.system.service.terminate(case, who("2016-05-01", reason="x")))
    assert refusal.field == "on"
    assert say(refusal, ZH_LANG) == (
        "日期 2016年5月1日 在将来（今天是 2015年6月1日）；请在事情发生当天或之后记录"
    )
    assert say(refusal, EN_LANG) == (
        "the date 1 May 2016 is in the future (today is 1 Jun 2015); "
        "record a step on or after the day it happens"
    )


def test_a_refusal_whose_values_are_terms_says_them_in_chinese(known: Known) -> None:
    case = known.ids["阳光助残服务队"]
    refusal = refused(
        lambda: known.system.service.evaluate_exit(case, who("2015-05-01"), ["王芳=70"])
    )
    assert say(refusal, ZH_LANG) == "出壳评估之前至少要有一次成长评估（成长评估）"
    # {command} of a reason's refusal, a command line name, is said by its Chinese name
    refusal = refused(lambda: known.system.service.terminate(case, who("2015-05-01")))
    assert say(refusal, ZH_LANG) == "提前终止须填写原因（--reason）"


def test_a_parameter_out_of_bounds_is_refused_in_chinese(known: Known) -> None:
    case = known.ids["阳光助残服务队"]
    refusal = refused(lambda: m.Assign(org=case, caseworker="  "))
    assert refusal.field == "caseworker"
    assert say(refusal, ZH_LANG) == (
        "--caseworker 须为 1 到 100 个字符的单行文字，不含控制字符，且不能为空或只有不可见字符；"
        "收到的是 '  '"
    )
    refusal = refused(lambda: m.RecordRegistration(org=case, credit_code="123", authority="民政局"))
    assert say(refusal, ZH_LANG) == (
        "--credit-code 须为 18 位的统一社会信用代码，而不是 3 位；收到的是 '123'"
    )


def test_a_party_refusal_names_the_party_track_and_its_stage(known: Known) -> None:
    case = known.ids["阳光助残服务队"]
    refusal = refused(lambda: known.system.party.rate(case, who("2015-05-01"), 3, "好"))
    assert say(refusal, ZH_LANG).startswith("无法星级评定：党建孵化处于“入壳考察”阶段；")


class _Broken(Lang):
    """A catalog whose translation names a value the refusal does not have."""

    def gettext(self, message: str) -> str:
        return "{nothing_of_the_kind}"


def test_a_translation_that_does_not_fit_its_values_says_the_english_rather_than_fail() -> None:
    refusal = Refused("the entry date is already {to}", to=date(2014, 3, 3))
    assert say(refusal, _Broken(ZH)) == "the entry date is already 2014-03-03"


def test_every_refusal_the_domain_can_raise_has_its_chinese_template() -> None:
    """What the catalog extracts holds the refusals of every kind: a Refused's template, a
    WrongStage's, an Invalid's `allowed`, a reason's, and Terms."""
    found = catalog.extract().where
    for template in (
        "the entry date is already {to}",
        "cannot {command}: {subject} is in stage '{stage}'; commands allowed from '{stage}': "
        "{allowed}",
        "must be a date like 2014-01-08 (YYYY-MM-DD)",
        "{command} needs --reason saying why",
        "the exit evaluation",
        "nobody yet",
        "registered",  # a legal status made a Term at run time
        "no joint branch with id {id}",  # a subclass of Refused
    ):
        assert (None, template) in found, template
        assert cjk(ZH_LANG.gettext(template)) > 0, template


# ---- labels -----------------------------------------------------------------------------------


def test_every_stage_and_step_of_every_workflow_has_a_chinese_name() -> None:
    for workflow in labels.ALL_WORKFLOWS:
        for stage in workflow.stages:
            assert cjk(labels.stage(ZH_LANG, stage, workflow.track)) > 0, (workflow.track, stage)
        for trigger in workflow.triggers():
            name = labels.command_name(ZH_LANG, workflow.track, trigger)
            assert cjk(name) > 0, (workflow.track, trigger)
    for message in COMMANDS:
        assert cjk(labels.command(ZH_LANG, message)) > 0, message
        assert labels.command_help(ZH_LANG, message) == message.zh
        assert labels.command_help(EN_LANG, message) == message.en
    assert labels.command(ZH_LANG, m.EvaluateEntry) == "入壳评估"
    assert labels.command(ZH_LANG, m.CreateJointBranch) == "新建联合党支部"
    for role in ROLE_NAMES:
        assert cjk(labels.role(ZH_LANG, role)) > 0


def test_the_same_key_is_named_by_its_workflow() -> None:
    assert labels.stage(ZH_LANG, "closed", "incubation") == "结案"
    assert labels.stage(ZH_LANG, "closed", "party") == "结束"
    assert labels.stage(ZH_LANG, "declined", "project") == "未获资助"
    assert labels.command_name(ZH_LANG, "party", "close") == "结束党建孵化"
    assert labels.stage(EN_LANG, "entry_review") == "entry review"


def test_the_labels_agree_with_the_chinese_names_the_domain_declares() -> None:
    """The exports and the command line name stages, roles and deadlines from the domain's
    own tables; the web names them through the catalog: the two must not drift apart."""
    for stage, name in STAGE_NAMES_ZH.items():
        assert labels.stage(ZH_LANG, stage, "incubation") == name
    for stage, name in PARTY_STAGE_NAMES_ZH.items():
        assert labels.stage(ZH_LANG, stage, "party") == name
    for stage, name in PROJECT_STAGE_NAMES_ZH.items():
        assert labels.stage(ZH_LANG, stage, "project") == name
    for (context, key), name in labels.seeds().items():
        assert labels.label(ZH_LANG, context, key) == name, (context, key)
    assert labels.legal_status(ZH_LANG, "filed") == "备案"
    assert labels.deadline(ZH_LANG, "exit_evaluation") == "出壳评估"


def test_a_field_in_chinese_is_the_parks_own_name(known: Known) -> None:
    park = known.system.park
    assert labels.field(ZH_LANG, "charity", park) == park.fields["charity"] == "公益慈善"
    assert labels.field(EN_LANG, "culture_sports", park) == "culture sports"
    assert labels.site(park, "main") == "主园区"


def test_the_workflows_read_for_the_diagrams_are_their_declarations() -> None:
    """Workflow.moves() reads the machine: the same transitions the stages module declares."""
    assert len(PARTY_WORKFLOW.moves()) == sum(
        len(t["source"]) if isinstance(t["source"], list) else 1 for t in PARTY_TRANSITIONS
    )
    evaluate = [m for m in WORKFLOWS["incubation"].moves() if m.trigger == "evaluate_entry"]
    assert {(m.dest, m.when) for m in evaluate} == {("incubating", True), ("declined", False)}
    assert PROJECT_WORKFLOW.triggers()[0] == "screen"


# ---- templates --------------------------------------------------------------------------------


def test_templates_translate_through_the_request_language() -> None:
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    page = env.from_string(
        "{% trans %}Today{% endtrans %}|{{ _('Site') }}|{{ _('%(who)s here', who=name) }}"
    )
    assert page.render(name="<b>", **ZH_LANG.template_globals()) == "今天|场地|&lt;b&gt; here"
    assert page.render(name="x", **EN_LANG.template_globals()) == "Today|Site|x here"


# ---- the catalogs -----------------------------------------------------------------------------


def test_the_catalog_check_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "web.catalog", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "has its Chinese translation" in done.stdout


def test_the_check_names_what_is_untranslated_missing_or_mismatched() -> None:
    found = catalog.extract()
    held = catalog.read(ZH)
    assert held is not None
    assert catalog.problems(found, held) == []
    held.get("Today").string = ""  # type: ignore[union-attr]
    held.get("exit deadline {day}").string = "出壳期限 {date}"  # type: ignore[union-attr]
    held.delete("the exit evaluation")
    assert sorted(catalog.problems(found, held)) == [
        "not in the catalog (run python -m web.catalog): 'the exit evaluation'",
        "not translated: 'Today'",
        "placeholders differ (msgid has ['day'], msgstr has ['date']): 'exit deadline {day}'",
    ]


def test_updating_keeps_every_translation_and_writes_nothing_new() -> None:
    """The catalogs in the repository are what `python -m web.catalog` would write."""
    found = catalog.extract()
    for locale in (ZH, EN):
        held = po_path(locale).read_bytes()
        assert catalog.written(catalog.updated(locale, found, catalog.read(locale))) == held


def test_a_term_is_a_string_the_catalog_translates_whole() -> None:
    assert ZH_LANG.gettext(Term("the party track")) == "党建孵化"
