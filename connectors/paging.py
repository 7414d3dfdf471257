"""Guards every paged pull from a department API against servers that never end or end too soon.

A server that ignores ``page`` and always says ``has_more`` would be paged forever; a cursor that
cycles back, too; a server that stops early would give a successful run with a third of the
residents. :class:`PullGuard` watches one pull: a page ceiling derived from the server's ``total``,
repeated pages and cursors, the pull's deadline, and at the end what arrived against ``total``.
:class:`LatestById` keeps one row per record id, the newest, when a record edited mid-pull arrives twice.
Errors name the source, URL and page and say why, never a record's content.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from connectors.text import RawRow
from hub_errors import SourceError

SLACK_PAGES = 2
"""Pages allowed beyond ``ceil(total / page size)``: records added while the pull runs."""


@dataclass
class PullTally:
    """What one pull received against what the server said it holds (for the raw asset's metadata)."""

    source: str
    url: str
    expected_total: int | None = None
    received: int = 0
    rows_pulled: int = 0
    superseded: int = 0
    pages: int = 0


class PullGuard:
    """Checks one pull page by page; raises SourceError as soon as the pull cannot end well."""

    def __init__(self, *, source: str, url: str, deadline_seconds: float, max_pages: int) -> None:
        self.tally = PullTally(source=source, url=url)
        self.deadline = time.monotonic() + deadline_seconds
        self._deadline_seconds = deadline_seconds
        self._max_pages = max_pages
        self._page_size: int | None = None
        self._seen_pages: dict[int, int] = {}
        self._seen_cursors: dict[str, int] = {}

    def fail(self, why: str, page: int | None = None) -> SourceError:
        where = f" page {page}" if page is not None else ""
        return SourceError(
            f"{self.tally.source}: pull from {self.tally.url} stopped at{where}: {why} "
            f"({self.tally.rows_pulled} rows on {self.tally.pages} pages so far). Nothing from this pull was kept; "
            "tell the department system's operator, then run again."
        )

    def before_request(self, page: int) -> None:
        """Refuse to ask for a page past the ceiling or after the deadline."""
        if time.monotonic() > self.deadline:
            raise self.fail(f"the pull's deadline of {self._deadline_seconds:g} s passed", page)
        derived = self._derived_ceiling()
        if derived is not None and page > derived:
            raise self.fail(
                f"the server said it holds {self.tally.expected_total} records, which fit in "
                f"{derived - SLACK_PAGES} pages, yet it keeps saying there is more (if a batch job is re-saving "
                "records right now, run again when it is done)",
                page,
            )
        if page > self._max_pages:
            raise self.fail(f"more than {self._max_pages} pages (max_pages) and still no end", page)

    def page(self, page: int, rows: list[RawRow], *, total: object, has_more: bool) -> None:
        """Record one page's rows and what the server said about the rest."""
        self.tally.pages += 1
        self.tally.rows_pulled += len(rows)
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
            self.tally.expected_total = total
        if self._page_size is None and rows and has_more:
            self._page_size = len(rows)
        if has_more and not rows:
            raise self.fail("the server sent an empty page yet said there is more", page)
        if rows:
            # First and last record, whole (updated_at included), and the count: cheap, and two
            # different pages cannot share all three.
            fingerprint = hash((len(rows), tuple(rows[0].items()), tuple(rows[-1].items())))
            earlier = self._seen_pages.get(fingerprint)
            if earlier is not None:
                raise self.fail(f"the server sent the same records as on page {earlier} again", page)
            self._seen_pages[fingerprint] = page

    def cursor(self, page: int, cursor: str) -> None:
        """A cursor to follow next; one seen before means the server is going round in a circle."""
        earlier = self._seen_cursors.get(cursor)
        if earlier is not None:
            raise self.fail(
                f"the next cursor is the one page {earlier} already gave; the cursor goes in a circle", page
            )
        self._seen_cursors[cursor] = page

    def finish(self, received: int) -> PullTally:
        """At the end: fewer distinct records than the server's ``total`` is a shortfall, not a success."""
        self.tally.received = received
        self.tally.superseded = self.tally.rows_pulled - received
        expected = self.tally.expected_total
        if expected is not None and received < expected:
            raise SourceError(
                f"{self.tally.source}: pull from {self.tally.url} ended after {self.tally.pages} pages with "
                f"{received} records, but the server said it holds {expected}; {expected - received} are missing. "
                "Nothing from this pull was kept; tell the department system's operator, then run again."
            )
        return self.tally

    def _derived_ceiling(self) -> int | None:
        """``ceil(total / page size)`` plus slack, once the server has said both."""
        total = self.tally.expected_total
        if total is None or self._page_size is None:
            return None
        return math.ceil(total / self._page_size) + SLACK_PAGES


class LatestById:
    """One row per record id, in order of first arrival: of a record pulled twice (edited between two
    pages) the newest ``version_field`` is kept, an exact repeat is dropped. Two rows with the same id
    and version but different content are two records sharing an id, not one pulled twice: both are
    kept, for the schema to quarantine as duplicates. Rows without an id are all kept."""

    def __init__(self, id_field: str | None, version_field: str = "updated_at") -> None:
        self.id_field = id_field
        self.version_field = version_field
        self._rows: list[RawRow] = []
        self._index: dict[str, int] = {}
        self.superseded = 0

    def add(self, row: RawRow) -> None:
        key = row.get(self.id_field, "") if self.id_field else ""
        where = self._index.get(key) if key else None
        if where is None:
            if key:
                self._index[key] = len(self._rows)
            self._rows.append(row)
            return
        kept = self._rows[where]
        version, kept_version = row.get(self.version_field, ""), kept.get(self.version_field, "")
        if version == kept_version and row != kept:
            self._rows.append(row)
            return
        self.superseded += 1
        if version != kept_version and _is_newer(version, kept_version):
            self._rows[where] = row

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[RawRow]:
        return iter(self._rows)


def _is_newer(candidate: str, kept: str) -> bool:
    """Compare two ``updated_at`` values as instants when both parse, else as text; ties go to the later row."""
    try:
        return datetime.fromisoformat(candidate) >= datetime.fromisoformat(kept)
    except (ValueError, TypeError):
        return candidate >= kept
