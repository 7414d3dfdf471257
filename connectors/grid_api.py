"""Pulls resident records and grid events from the grid system's JSON API.

The grid API pages by number (``page``, ``page_size``) and can return only records changed after a
timestamp (``updated_since``), so a later run can ask for what changed since the last one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, Unpack

from connectors.http import ClientOptions, JsonApiClient, as_raw_row
from connectors.text import RawRow


class GridSystem(Protocol):
    """What the pipelines need from the grid system; a fake or another vendor's client can stand in."""

    def iter_residents(self, updated_since: str | None = None) -> Iterator[RawRow]: ...

    def iter_events(self, updated_since: str | None = None) -> Iterator[RawRow]: ...


class GridApiClient(JsonApiClient):
    """Client of the grid system's REST API (bearer token, page paging, ``updated_since`` cursor).

    ``latest_updated_at`` holds the newest ``updated_at`` seen, for the caller to store as the next
    run's cursor.
    """

    source = "grid"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        page_size: int = 500,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, **options)
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.page_size = page_size
        self.latest_updated_at: str | None = None

    def iter_residents(self, updated_since: str | None = None) -> Iterator[RawRow]:
        """Every resident record (实有人口), or those changed after ``updated_since``."""
        return self._iter_pages("/api/v1/residents", updated_since)

    def iter_events(self, updated_since: str | None = None) -> Iterator[RawRow]:
        """Every event grid workers reported, or those changed after ``updated_since``."""
        return self._iter_pages("/api/v1/events", updated_since)

    def _iter_pages(self, path: str, updated_since: str | None) -> Iterator[RawRow]:
        page = 1
        while True:
            params: dict[str, str | int] = {"page": page, "page_size": self.page_size}
            if updated_since:
                params["updated_since"] = updated_since
            body, items = self.get_page(path, params, "items")
            for item in items:
                row = as_raw_row(item, source=self.source, url=self.base_url + path)
                self._note_updated_at(row.get("updated_at", ""))
                yield row
            if not body.get("has_more") or not items:
                return
            page += 1

    def _note_updated_at(self, value: str) -> None:
        if value and (self.latest_updated_at is None or value > self.latest_updated_at):
            self.latest_updated_at = value
