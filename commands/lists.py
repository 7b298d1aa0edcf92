"""The long lists, a page at a time (commands/paging.py): read from the read models' indexes,
a page and the list's total, or every row a chunk at a time.

Light on purpose: the list commands import it, not the whole of commands/reads.py (the
accounts, the audit, every aggregate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from commands.paging import Page, Paging, chunks, keyset, page_of

if TYPE_CHECKING:
    from projections.read_models import ReadModels


def caseload_page(models: ReadModels, paging: Paging, **filters: Any) -> Page:
    """A page of the caseload in order of application, walking the index of that order; the
    total from the counts kept per site and stage."""
    if paging.everything:
        rows = list(caseload_rows(models, **filters))
        return Page(rows, len(rows), paging)
    rows = models.caseload(**filters, limit=paging.limit, offset=paging.offset)
    counts = models.stage_counts(**filters)
    stage = filters.get("stage")
    return Page(rows, counts.get(stage, 0) if stage else sum(counts.values()), paging)


def caseload_rows(models: ReadModels, **filters: Any) -> Iterable[dict[str, Any]]:
    """Every case of the caseload in order of application, read a chunk at a time."""
    return keyset(
        lambda after, limit: models.caseload(**filters, after=after, limit=limit),
        lambda row: (row["applied_on"], row["name"], row["id"]),
    )


def found_page(models: ReadModels, text: str, paging: Paging) -> Page:
    """A page of the organizations whose name contains `text`, by name."""
    if paging.everything:
        rows = list(found_rows(models, text))
        return Page(rows, len(rows), paging)
    return Page(models.search(text, paging.limit, paging.offset), models.found(text), paging)


def found_rows(models: ReadModels, text: str) -> Iterable[dict[str, Any]]:
    return chunks(lambda limit, offset: models.search(text, limit, offset))


def sorted_page(
    read: Callable[..., list[dict[str, Any]]],
    count: Callable[..., int],
    paging: Paging,
    **args: Any,
) -> Page:
    """A page of a list the database sorts and cuts (`read(**args, limit=, offset=)`), with
    its total (`count(**args)`): a report's pending deadlines, its open cases, the party
    branches. Its cost is a page's, whatever the caseload."""
    if paging.everything:
        rows = list(sorted_rows(read, **args))
        return Page(rows, len(rows), paging)
    return Page(read(**args, limit=paging.limit, offset=paging.offset), count(**args), paging)


def sorted_rows(read: Callable[..., list[dict[str, Any]]], **args: Any) -> Iterable[dict[str, Any]]:
    """Every row of such a list, read a chunk at a time (memory stays flat)."""
    return chunks(lambda limit, offset: read(**args, limit=limit, offset=offset))


def listed_page(rows: list[dict[str, Any]], paging: Paging) -> Page:
    """A page of a list read whole: a report's rows, the party branches."""
    return page_of(rows, paging)
