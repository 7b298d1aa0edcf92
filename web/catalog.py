"""Keep the web's catalogs current: `python -m web.catalog` [--check].

Every text the web may show in Chinese is a msgid of web/locale/*/LC_MESSAGES/messages.po:
- the templates of the domain's refusals and the Terms among their values: the string literal
  given to `Said` or any of its subclasses (`Refused`, `Invalid`'s `allowed`, `Conflict`...), to
  `Term`, and to `Step.require_reason`, found by walking the syntax of lifecycle/ and commands/;
- the names of the domain's keys (web/labels.py: stages and commands of every workflow, tracks,
  legal statuses, roles, deadlines...), each under its context;
- the `{% trans %}`, `_()` and `gettext()` texts of web/templates/*.html and web/*.py (Babel's
  extractors: Python's, and Jinja2's `babel_extract`).

Without `--check` both catalogs are rewritten with exactly these msgids, keeping every
translation they hold (a new label starts from the Chinese name the domain already declares).
With `--check` nothing is written; it exits 1 listing each msgid the Chinese catalog lacks or
does not translate, and each translation whose placeholders differ from its msgid's.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import pkgutil
import re
import string
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from lifecycle.errors import Said, Term
from web.i18n import DOMAIN, LOCALES, ZH, po_path

ROOT = Path(__file__).resolve().parent.parent
WEB = Path(__file__).resolve().parent
DOMAIN_PACKAGES = ("lifecycle", "commands")
# Functions that take a refusal's template first and refuse with it.
TEMPLATE_FUNCTIONS = ("require_reason",)
# A refusal's parameter that holds its template (`Invalid`'s is what the value may hold).
TEMPLATE_PARAMS = ("template", "allowed")
WEB_METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
WEB_OPTIONS = {"templates/**.html": {"trimmed": "true"}}
FIRST_WRITTEN = datetime(2026, 12, 1, tzinfo=UTC)

Key = tuple[str | None, str | tuple[str, str]]  # context, msgid (a plural: singular, plural)


@dataclass
class Found:
    """The msgids to hold, each with where it was found (file, line)."""

    where: dict[Key, list[tuple[str, int]]] = field(default_factory=dict)

    def add(self, key: Key, path: str = "", line: int = 0) -> None:
        places = self.where.setdefault(key, [])
        if path and (path, line) not in places:
            places.append((path, line))


# ---- the domain's refusals --------------------------------------------------------------------


def refusal_classes() -> dict[str, int]:
    """Each subclass of Said by name, with the position of its template among its arguments
    (every module of the domain packages imported first, so that every subclass is known)."""
    for package in DOMAIN_PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__, f"{package}."):
            importlib.import_module(info.name)
    found = {"Term": 0}
    pending: list[type[Said]] = [Said]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        names = [p.name for p in params]
        position = next((names.index(n) for n in TEMPLATE_PARAMS if n in names), None)
        if position is not None:
            found[cls.__name__] = position
    return found


def domain_messages(found: Found) -> None:
    classes = refusal_classes()
    for package in DOMAIN_PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            where = path.relative_to(ROOT).as_posix()
            for text, line in _templates(tree, classes):
                found.add((None, text), where, line)


def _templates(tree: ast.AST, classes: dict[str, int]) -> Iterator[tuple[str, int]]:
    """The string literals given as a template to a refusal, a Term or a function that
    refuses with it."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node.func)
        if name in classes:
            position, keyword = classes[name], None
        elif name in TEMPLATE_FUNCTIONS:
            position, keyword = 0, "refusal"
        else:
            continue
        given = node.args[position] if len(node.args) > position else None
        for k in node.keywords:
            if k.arg in (*TEMPLATE_PARAMS, keyword):
                given = k.value
        if isinstance(given, ast.Constant) and isinstance(given.value, str):
            yield given.value, node.lineno


def _called(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def dynamic_terms(found: Found) -> None:
    """Values the domain makes Terms of at run time: a legal status, a track."""
    from lifecycle.park import LEGAL_STATUSES
    from lifecycle.stages import TRACKS

    for key in (*LEGAL_STATUSES, *TRACKS):
        found.add((None, Term(key)), "lifecycle/organization.py")


# ---- the labels and the web's own texts -------------------------------------------------------


def label_messages(found: Found) -> None:
    from web import labels

    for context, key in labels.msgids():
        found.add((context, key), "web/labels.py")


def web_messages(found: Found) -> None:
    for path, line, message, _comments, context in extract_from_dir(
        WEB, WEB_METHODS, WEB_OPTIONS, directory_filter=lambda d: "locale" not in d
    ):
        text = message if isinstance(message, str) else (message[0], message[1])
        found.add((context, text), f"web/{path}", line)


def extract() -> Found:
    found = Found()
    label_messages(found)
    domain_messages(found)
    dynamic_terms(found)
    web_messages(found)
    return found


# ---- the catalogs -----------------------------------------------------------------------------


def read(locale: str) -> Catalog | None:
    path = po_path(locale)
    if not path.exists():
        return None
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def updated(locale: str, found: Found, old: Catalog | None) -> Catalog:
    """The catalog of `locale` with exactly the msgids found, each keeping its translation
    (a Chinese label without one starts from the domain's name for it)."""
    seeds = _seeds() if locale == ZH else {}
    catalog = Catalog(
        locale=locale,
        domain=DOMAIN,
        project="incubator",
        header_comment=HEADER,
        creation_date=old.creation_date if old else FIRST_WRITTEN,
        revision_date=old.revision_date if old else FIRST_WRITTEN,
        language_team="incubator",
        fuzzy=False,
    )
    for (context, msgid), places in found.where.items():
        before = old.get(msgid, context=context) if old else None
        kept = before.string if before is not None and not before.fuzzy else None
        if not _translated(kept) and isinstance(msgid, str) and context is not None:
            kept = seeds.get((context, msgid))
        if kept is None:
            kept = ("", "") if isinstance(msgid, tuple) else ""
        catalog.add(msgid, kept, locations=places, context=context)
    return catalog


HEADER = (
    "# The web's catalog (issue #15): kept current by `python -m web.catalog`, checked by\n"
    "# `python -m web.catalog --check`. Translate the msgstr; never edit a msgid here.\n#"
)


def _seeds() -> dict[tuple[str, str], str]:
    from web import labels

    return labels.seeds()


def _translated(text: object) -> bool:
    if isinstance(text, str):
        return bool(text)
    return isinstance(text, tuple | list) and all(text)


def written(catalog: Catalog) -> bytes:
    out = BytesIO()
    write_po(out, catalog, width=100, ignore_obsolete=True, include_lineno=False)
    return out.getvalue()


def update(found: Found) -> list[Path]:
    """Rewrite each catalog that changed; the files written."""
    changed = []
    for locale in LOCALES:
        path = po_path(locale)
        text = written(updated(locale, found, read(locale)))
        if not path.exists() or path.read_bytes() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text)
            changed.append(path)
    return changed


# ---- the check --------------------------------------------------------------------------------

_PERCENT = re.compile(r"%\((\w+)\)[sd]")


def placeholders(text: str) -> set[str]:
    """The names a text fills in: `{name}` (a refusal's) and `%(name)s` (a template's)."""
    names = set(_PERCENT.findall(text))
    with contextlib.suppress(ValueError):  # not a format string: a lone brace
        names |= {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return names


def problems(found: Found, catalog: Catalog | None) -> list[str]:
    """What keeps the Chinese catalog from saying every msgid found."""
    if catalog is None:
        return [f"no catalog at {po_path(ZH).relative_to(ROOT)}: run python -m web.catalog"]
    said = []
    for context, msgid in found.where:
        message = catalog.get(msgid, context=context)
        shown = _shown(context, msgid)
        if message is None:
            said.append(f"not in the catalog (run python -m web.catalog): {shown}")
        elif message.fuzzy or not _translated(message.string):
            said.append(f"not translated: {shown}")
        elif differ := _placeholders_differ(message):
            said.append(f"placeholders differ ({differ}): {shown}")
    return said


def _placeholders_differ(message: Message) -> str | None:
    ids = [message.id] if isinstance(message.id, str) else list(message.id)
    strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
    wanted = set().union(*(placeholders(i) for i in ids))
    for text in strings:
        given = placeholders(text)
        if given != wanted:
            return f"msgid has {sorted(wanted)}, msgstr has {sorted(given)}"
    return None


def _shown(context: str | None, msgid: str | tuple[str, str]) -> str:
    text = msgid if isinstance(msgid, str) else " | ".join(msgid)
    return f"[{context}] {text!r}" if context else repr(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    unknown = [a for a in args if a != "--check"]
    if unknown:
        print(f"usage: python -m web.catalog [--check]; unknown: {' '.join(unknown)}")
        return 2
    found = extract()
    if "--check" in args:
        said = problems(found, read(ZH))
        for line in said:
            print(line)
        print(
            f"{len(said)} problem(s) among {len(found.where)} msgids"
            if said
            else f"every one of {len(found.where)} msgids has its Chinese translation"
        )
        return 1 if said else 0
    for path in update(found):
        print(f"wrote {path.relative_to(ROOT)}")
    missing = problems(found, read(ZH))
    print(f"{len(found.where)} msgids; {len(missing)} without a Chinese translation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
