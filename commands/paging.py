"""Which rows of a long list a reader is shown: a page of them, in the list's order, with the
total and how to see the rest. One rule for every list of the command line, the HTTP API and
the web pages: a page holds PAGE_SIZE rows unless asked for more, at most PAGE_LIMIT.

Light on purpose (no database, no domain): the command line imports it before it opens the
system.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

PAGE_SIZE = 50  # the rows of a page when the reader does not say
PAGE_LIMIT = 200  # the most rows of one page (every row: --all, or a cursor through the API)
PAGE_MAX = 1_000_000  # the highest page number a reader may ask for
CHUNK = 1_000  # rows read at a time when every row is written out (--all, --json, --csv)
T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    """A page of `limit` rows, the `page`-th (from 1), or every row (`everything`)."""

    limit: int = PAGE_SIZE
    page: int = 1
    everything: bool = False

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def take(self, rows: list[T]) -> list[T]:
        """This page of a list already read whole (a short one: a report's groups)."""
        return list(rows) if self.everything else rows[self.offset : self.offset + self.limit]


@dataclass(frozen=True)
class Page:
    """The rows of a page and how many the whole list holds."""

    rows: list[dict[str, Any]]
    total: int
    paging: Paging

    def shown(self, noun: str = "rows") -> str:
        """Which rows these are of how many: "51–100 of 20,000 cases", or "7 cases"."""
        if self.whole():
            return f"{self.total:,} {noun}"
        if not self.rows:
            return f"none on page {self.paging.page} of {self.total:,} {noun}"
        first = self.paging.offset + 1
        return f"{first:,}–{self.paging.offset + len(self.rows):,} of {self.total:,} {noun}"

    def more(self) -> str | None:
        """How to see the other rows, in a line; None when every row is shown."""
        if self.whole():
            return None
        ways = []
        if self.paging.offset + len(self.rows) < self.total:
            ways.append(f"next page: --page {self.paging.page + 1}")
        ways.append(f"rows a page: --limit N (1 to {PAGE_LIMIT})")
        ways.append("every row: --all")
        return "; ".join(ways)

    def whole(self) -> bool:
        return self.paging.everything or (self.paging.page == 1 and self.total <= len(self.rows))


def page_of(rows: list[dict[str, Any]], paging: Paging) -> Page:
    """A page of a list read whole."""
    return Page(paging.take(rows), len(rows), paging)


def chunks(read: Callable[[int, int], list[T]], size: int = CHUNK) -> Iterator[T]:
    """Every row of a list read `size` rows at a time (`read(limit, offset)`), so that writing
    them all out holds one chunk in memory, not the list."""
    offset = 0
    while True:
        rows = read(size, offset)
        yield from rows
        if len(rows) < size:
            return
        offset += size


def keyset(
    read: Callable[[Any, int], list[T]], key: Callable[[T], Any], size: int = CHUNK
) -> Iterable[T]:
    """Every row of a list read `size` rows at a time after the key of the last one read
    (`read(after, limit)`): each chunk walks the list's index from where the last stopped."""
    after = None
    while True:
        rows = read(after, size)
        yield from rows
        if len(rows) < size:
            return
        after = key(rows[-1])
