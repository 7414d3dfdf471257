"""Pulls resident records and grid events from the grid system's JSON API.

The grid API can return only records changed after a timestamp (``updated_since``), so a later run
asks for what changed since the last one. It pages two ways: by number (``page``), or by keyset
(``after_updated_at`` + ``after_id``: the records after the last one received, in ``(updated_at, id)``
order). Keyset paging is the safe one: a record edited between two page requests moves to the end
and arrives again (the newer version is kept), where number paging would shift every later record
by one and lose one at the page boundary. Every pull is guarded (connectors.paging): it ends, on time,
with as many records as the server said it holds, or fails naming the page and why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal, Protocol, Unpack

from connectors.http import ClientOptions, JsonApiClient, as_raw_row
from connectors.paging import LatestById, PullGuard, PullTally
from connectors.text import RawRow
from hub_errors import ConfigError, SourceError

Paging = Literal["keyset", "page"]
UPDATED_AT = "updated_at"


class GridSystem(Protocol):
    """What the pipelines need from the grid system; a fake or another vendor's client can stand in."""

    def iter_residents(self, updated_since: str | None = None) -> Iterator[RawRow]: ...

    def iter_events(self, updated_since: str | None = None) -> Iterator[RawRow]: ...


class GridApiClient(JsonApiClient):
    """Client of the grid system's REST API (bearer token, keyset or page paging, ``updated_since``).

    ``id_fields`` names each dataset's record id (``{"residents": ..., "events": ...}``): with it a
    record that arrives twice in one pull is kept once, its newest version, and keyset paging is
    possible. ``latest_updated_at`` holds the newest ``updated_at`` seen, for the caller to store as
    the next run's cursor; ``last_pull`` what the last pull received against the server's ``total``.
    Rows are handed out once the whole pull has succeeded, so a failed pull yields nothing half-done.
    """

    source = "grid"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        page_size: int = 500,
        paging: Paging = "page",
        id_fields: Mapping[str, str] | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, **options)
        if paging not in ("keyset", "page"):
            raise ConfigError(f"grid: paging must be 'keyset' or 'page', not {paging!r}.")
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.page_size = page_size
        self.paging: Paging = paging
        self.id_fields = dict(id_fields or {})
        self.latest_updated_at: str | None = None
        self.last_pull: PullTally | None = None

    def iter_residents(self, updated_since: str | None = None) -> Iterator[RawRow]:
        """Every resident record (实有人口), or those changed after ``updated_since``."""
        return self._pull("/api/v1/residents", self.id_fields.get("residents"), updated_since)

    def iter_events(self, updated_since: str | None = None) -> Iterator[RawRow]:
        """Every event grid workers reported, or those changed after ``updated_since``."""
        return self._pull("/api/v1/events", self.id_fields.get("events"), updated_since)

    def deletions(self, dataset: str, deleted_since: str | None = None) -> list[tuple[str, str]]:
        """(record id, deleted at) of the records of ``dataset`` deleted after ``deleted_since`` (all
        the tombstones the system keeps without it), oldest first."""
        path = f"/api/v1/{dataset}/deleted"
        params: dict[str, str | int] = {"deleted_since": deleted_since} if deleted_since else {}
        _, items = self.get_page(path, params, "items")
        return tombstones(items, source=self.source, url=self.base_url + path)

    def _pull(self, path: str, id_field: str | None, updated_since: str | None) -> Iterator[RawRow]:
        url = self.base_url + path
        if self.paging == "keyset" and not id_field:
            raise ConfigError(f"grid: keyset paging of {url} needs the record id field (id_fields); none given.")
        guard = PullGuard(source=self.source, url=url, deadline_seconds=self.pull_deadline, max_pages=self.max_pages)
        kept = LatestById(id_field)
        after: tuple[str, str] | None = None
        page = 1
        while True:
            guard.before_request(page)
            params: dict[str, str | int] = {"page_size": self.page_size}
            if self.paging == "page":
                params["page"] = page
            elif after is not None:
                params["after_updated_at"], params["after_id"] = after
            if updated_since:
                params["updated_since"] = updated_since
            body, items = self.get_page(path, params, "items", deadline=guard.deadline, page=page)
            rows = [
                as_raw_row(item, source=self.source, url=url, position=f"page {page}, item {number}")
                for number, item in enumerate(items, start=1)
            ]
            has_more = bool(body.get("has_more"))
            guard.page(page, rows, total=body.get("total"), has_more=has_more)
            for row in rows:
                kept.add(row)
                self._note_updated_at(row.get(UPDATED_AT, ""))
            if not has_more:
                break
            if self.paging == "keyset" and id_field:
                last = rows[-1]
                if not last.get(UPDATED_AT) or not last.get(id_field):
                    raise guard.fail(
                        f"its last record has no {UPDATED_AT!r} or {id_field!r}, so keyset paging cannot go on "
                        "(set paging to 'page' for this system)",
                        page,
                    )
                after = (last[UPDATED_AT], last[id_field])
            page += 1
        self.last_pull = guard.finish(len(kept))
        yield from kept

    def _note_updated_at(self, value: str) -> None:
        if value and (self.latest_updated_at is None or value > self.latest_updated_at):
            self.latest_updated_at = value


def tombstones(items: list[object], *, source: str, url: str) -> list[tuple[str, str]]:
    """A deletion listing's entries as (id, deleted_at); an entry without both is a SourceError."""
    gone = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not item.get("id") or not item.get("deleted_at"):
            raise SourceError(f"{source}: deletion listing {url} entry {number} lacks 'id' or 'deleted_at'.")
        gone.append((str(item["id"]), str(item["deleted_at"])))
    return gone
