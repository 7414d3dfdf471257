"""Pulls the events residents report through the mini-program (随手拍) API, following its cursor.

Every pull is guarded (connectors.paging): a cursor seen before or a page repeated ends it with a
clear error, so does its deadline, and when the platform says how many events it holds (``total``)
fewer arriving is a shortfall, not a success.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Unpack

from connectors.grid_api import tombstones
from connectors.http import ClientOptions, JsonApiClient, as_raw_row
from connectors.paging import LatestById, PullGuard, PullTally
from connectors.text import RawRow

APP_KEY_HEADER = "X-App-Key"
EVENTS_PATH = "/api/events"


class MiniProgramClient(JsonApiClient):
    """Client of the mini-program backend: opaque ``next_cursor`` paging, optional app key.

    With ``id_field`` an event that arrives twice in one pull is kept once. ``last_pull`` holds what
    the last pull received against the platform's ``total``. Rows are handed out once the whole
    pull has succeeded.
    """

    source = "resident"

    def __init__(
        self,
        base_url: str,
        *,
        app_key: str | None = None,
        limit: int = 500,
        id_field: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, **options)
        if app_key:
            self.session.headers[APP_KEY_HEADER] = app_key
        self.limit = limit
        self.id_field = id_field
        self.last_pull: PullTally | None = None
        self.latest_updated_at: str | None = None

    def deletions(self, deleted_since: str | None = None) -> list[tuple[str, str]]:
        """(event id, deleted at) of the events deleted after ``deleted_since`` (all without it)."""
        params: dict[str, str | int] = {"deleted_since": deleted_since} if deleted_since else {}
        _, items = self.get_page(EVENTS_PATH + "/deleted", params, "data")
        return tombstones(items, source=self.source, url=self.base_url + EVENTS_PATH + "/deleted")

    def iter_events(self, updated_since: str | None = None) -> Iterator[RawRow]:
        """Every event residents reported (or those changed after ``updated_since``), in the order the
        platform keeps them; ``latest_updated_at`` holds the newest update time received."""
        url = self.base_url + EVENTS_PATH
        guard = PullGuard(source=self.source, url=url, deadline_seconds=self.pull_deadline, max_pages=self.max_pages)
        kept = LatestById(self.id_field)
        cursor: str | None = None
        page = 1
        while True:
            guard.before_request(page)
            params: dict[str, str | int] = {"limit": self.limit}
            if updated_since:
                params["updated_since"] = updated_since
            if cursor:
                params["cursor"] = cursor
            body, data = self.get_page(EVENTS_PATH, params, "data", deadline=guard.deadline, page=page)
            rows = [
                as_raw_row(item, source=self.source, url=url, position=f"page {page}, item {number}")
                for number, item in enumerate(data, start=1)
            ]
            next_cursor = body.get("next_cursor")
            guard.page(page, rows, total=body.get("total"), has_more=bool(next_cursor))
            for row in rows:
                kept.add(row)
                stamp = row.get("updated_at", "")
                if stamp and (self.latest_updated_at is None or stamp > self.latest_updated_at):
                    self.latest_updated_at = stamp
            if not next_cursor:
                break
            cursor = str(next_cursor)
            guard.cursor(page, cursor)
            page += 1
        self.last_pull = guard.finish(len(kept))
        yield from kept
