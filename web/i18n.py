"""The languages of the web pages: Simplified Chinese first, English one click away.

The catalogs are the `.po` files under web/locale (kept current by `python -m web.catalog`),
compiled in memory once per process: no `.mo` file is committed or written. A request gets a
`Lang`: its translations, and dates, times, numbers and money as that language writes them. A
domain refusal (`lifecycle.errors.Said`) is said in the language by `say`, its template and its
Term values translated, so the web shows every rule's message in Chinese.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from lifecycle.errors import Said, Term, WrongStage, said

ZH, EN = "zh_CN", "en"
LOCALES = (ZH, EN)  # the first is the default
DEFAULT = ZH
LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
TIMEZONE = "Asia/Shanghai"  # the park's, unless the settings say otherwise
# How each language writes a day (2014年3月3日, 3 Mar 2014) and a month (2014年3月, Mar 2014).
_DAY = {ZH: "long", EN: "d MMM y"}
_TAGS = {ZH: "zh-CN", EN: "en"}  # for <html lang>, Content-Language


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> Translations:
    """The catalog of `locale`, read from its `.po` file and compiled in memory, once per
    process. Untranslated and fuzzy entries say the English."""
    if locale not in LOCALES:
        raise LookupError(f"no catalog for {locale!r}; languages: {', '.join(LOCALES)}")
    with po_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True)
class Lang:
    """One language as a page speaks it."""

    locale: str = DEFAULT
    timezone: str = TIMEZONE

    @property
    def tag(self) -> str:
        """The language tag of the page (`<html lang>`): zh-CN, en."""
        return _TAGS[self.locale]

    @property
    def chinese(self) -> bool:
        return self.locale == ZH

    def gettext(self, message: str) -> str:
        return translations(self.locale).ugettext(message) if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.locale).ungettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return translations(self.locale).upgettext(context, message)

    def date(self, day: dt.date | None) -> str:
        """2014年3月3日, or 3 Mar 2014; nothing for no date."""
        return "" if day is None else _date(self.locale, day)

    def month(self, day: dt.date) -> str:
        """2014年3月, or Mar 2014."""
        return format_skeleton("yMMM", day, locale=_babel(self.locale))

    def datetime(self, moment: dt.datetime, tz: str | dt.tzinfo | None = None) -> str:
        """A moment on the clock of `tz` (the park's by default): 2014年3月3日 14:05."""
        zone = ZoneInfo(tz or self.timezone) if not isinstance(tz, dt.tzinfo) else tz
        local = moment.astimezone(zone) if moment.tzinfo else moment
        clock = format_time(local, "HH:mm", locale=_babel(self.locale))
        return f"{self.date(local.date())} {clock}"

    def number(self, value: int | float | Decimal) -> str:
        return format_decimal(value, locale=_babel(self.locale))

    def percent(self, ratio: float | Decimal) -> str:
        return format_percent(ratio, locale=_babel(self.locale))

    def money(self, amount: int | Decimal) -> str:
        """Yuan: ¥440,000.00 (CN¥ in English)."""
        return format_currency(amount, "CNY", locale=_babel(self.locale))

    def say(self, refusal: Said) -> str:
        return say(refusal, self)

    def template_globals(self) -> dict[str, Any]:
        """What a template rendered for this language needs: `_`, `gettext`, `ngettext` and
        `pgettext` as Jinja2's i18n extension calls them (new style: `{% trans %}` and
        `_("... %(n)s", n=...)` fill in their values and escape them), and `lang` itself."""
        return {
            "lang": self,
            "_": _new_style(self.gettext),
            "gettext": _new_style(self.gettext),
            "ngettext": _new_style_plural(self.ngettext),
            "pgettext": _new_style_context(self.pgettext),
        }


@lru_cache(maxsize=8192)
def _date(locale: str, day: dt.date) -> str:
    """A day as a page writes it, kept: a caseload page writes a hundred, most of them seen
    before (a few thousand days in all)."""
    return format_date(day, _DAY[locale], locale=_babel(locale))


@cache
def _babel(locale: str) -> Locale:
    """Babel's locale, parsed once: given its name, each date or number it formats would parse
    it again (a tenth of a millisecond, a hundred times a page)."""
    return Locale.parse(locale)


@cache
def lang(locale: str = DEFAULT, timezone: str = TIMEZONE) -> Lang:
    if locale not in LOCALES:
        raise LookupError(f"no language {locale!r}; languages: {', '.join(LOCALES)}")
    return Lang(locale, timezone)


def negotiate(
    accept_language: str | None, chosen: str | None = None, timezone: str = TIMEZONE
) -> Lang:
    """The language of a request: the one a person chose (their account's, a cookie's), else
    the first of the browser's `Accept-Language` that the catalogs speak, else Chinese."""
    for wanted in [chosen or "", *_accepted(accept_language or "")]:
        found = _known(wanted)
        if found:
            return lang(found, timezone)
    return lang(DEFAULT, timezone)


def _accepted(header: str) -> list[str]:
    """The languages of an Accept-Language header, the most wanted first."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def _known(tag: str) -> str | None:
    """The catalog for a language tag: any Chinese is the Simplified Chinese one."""
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return {"zh": ZH, "en": EN}.get(primary)


# ---- refusals ---------------------------------------------------------------------------------


# How the command line names a parameter: --caseworker, --score (the expert's name), NAME.
_FLAG = re.compile(r"--[a-z-]+(?: \(.*\))?|[A-Z_]+")


def say(refusal: Said, lang: Lang, field: str | None = None) -> str:
    """A domain refusal in `lang`: its template and Terms translated, its dates written as the
    language writes them, a stage and the commands allowed from it by their names. Should a
    translation not fit its values, the English is said rather than nothing. `field`: the
    label of the form field the refusal is shown beside, said in place of the command line's
    name for the parameter (`--caseworker`)."""
    params = {name: _value(value, lang) for name, value in refusal.params.items()}
    if field is not None and _FLAG.fullmatch(str(params.get("param", ""))):
        params["param"] = field  # a flag or metavar; a described one ("the score of …") stays
    if isinstance(refusal, WrongStage):
        params |= _wrong_stage(refusal, lang)
    elif isinstance(params.get("command"), str) and not isinstance(params["command"], Term):
        from web import labels

        params["command"] = labels.any_command(lang, params["command"])
    try:
        return said(refusal.template, params, lang.gettext)
    except (KeyError, IndexError, ValueError):
        return str(refusal)


def _value(value: Any, lang: Lang) -> Any:
    if isinstance(value, Term):
        return value
    if isinstance(value, dt.datetime):
        return lang.datetime(value)
    if isinstance(value, dt.date):
        return lang.date(value)
    return value


def _wrong_stage(refusal: WrongStage, lang: Lang) -> dict[str, str]:
    from web import labels

    family = labels.family_of_subject(str(refusal.params.get("subject", "")))
    separator = "、" if lang.chinese else ", "
    return {
        "command": labels.command_name(lang, family, refusal.command),
        "stage": labels.stage(lang, refusal.stage, family),
        "allowed": separator.join(labels.command_name(lang, family, c) for c in refusal.allowed),
    }


# ---- Jinja2 (its i18n extension, new style) ---------------------------------------------------


def _new_style(gettext: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def translated(context: Context, message: str, /, **values: Any) -> str:
        return _filled(context, gettext(message), values)

    return translated


def _new_style_plural(ngettext: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def translated(context: Context, singular: str, plural: str, n: int, /, **values: Any) -> str:
        values.setdefault("num", n)
        return _filled(context, ngettext(singular, plural, n), values)

    return translated


def _new_style_context(pgettext: Callable[[str, str], str]) -> Callable[..., str]:
    @pass_context
    def translated(context: Context, where: str, message: str, /, **values: Any) -> str:
        return _filled(context, pgettext(where, message), values)

    return translated


def _filled(context: Context, text: str, values: Mapping[str, Any]) -> str:
    """`%(name)s` filled in, the values escaped where the template escapes."""
    if context.eval_ctx.autoescape:
        return Markup(text) % values
    return text % values if values else text
