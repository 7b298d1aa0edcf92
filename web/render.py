"""Pages from templates, in the reader's language.

One Jinja2 environment for the process, with the i18n extension: `_()` and `{% trans %}` read
the language of the page being rendered (a context variable, so threads serving other people
at the same time keep their own).
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from lifecycle.errors import Said
from web import labels
from web.i18n import Lang, lang, say
from web.session import Viewer

_current: contextvars.ContextVar[Lang] = contextvars.ContextVar("lang")


def _gettext(message: str, **values: Any) -> str:
    text = _current.get().gettext(message)
    return text % values if values else text


def _ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    text = _current.get().ngettext(singular, plural, n)
    return text % ({"num": n} | values)


def _date(value: date | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return _current.get().date(value)


def _datetime(value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _current.get().datetime(value)


# The page's names for the kinds of key a template labels, as the catalog's contexts.
CONTEXTS = {
    "stage": "case stage",
    "party_stage": "party stage",
    "legal_status": labels.LEGAL_STATUS,
    "branch": labels.BRANCH,
    "status": labels.STATUS,
}


def _label(key: str | None, kind: str = "stage") -> str:
    if key is None:
        return ""
    return labels.label(_current.get(), CONTEXTS.get(kind, kind), str(key))


def _said(refusal: Said, field: str | None = None) -> str:
    return say(refusal, _current.get(), field)


ENV = Environment(
    loader=PackageLoader("web", "templates"),
    autoescape=select_autoescape(["html", "xml"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # the templates do not change while the server runs: no stat per page
)
ENV.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
ENV.filters.update(day=_date, moment=_datetime, label=_label, said=_said)


def render(
    template: str,
    viewer: Viewer,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    spoken = lang(viewer.language)
    token = _current.set(spoken)
    try:
        html = ENV.get_template(template).render(
            {"viewer": viewer, "lang": spoken, "chinese": spoken.chinese} | dict(context)
        )
    finally:
        _current.reset(token)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def fragment(html: str) -> Markup:
    """Markup built by the server itself (the SVG pictures), not from what anyone typed."""
    return Markup(html)
