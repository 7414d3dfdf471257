"""Pulls the events residents report through the mini-program (随手拍) API, following its cursor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Unpack

from connectors.http import ClientOptions, JsonApiClient, as_raw_row
from connectors.text import RawRow
from hub_errors import SourceError

APP_KEY_HEADER = "X-App-Key"
EVENTS_PATH = "/api/events"


class MiniProgramClient(JsonApiClient):
    """Client of the mini-program backend: opaque ``next_cursor`` paging, optional app key."""

    source = "resident"

    def __init__(
        self,
        base_url: str,
        *,
        app_key: str | None = None,
        limit: int = 500,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, **options)
        if app_key:
            self.session.headers[APP_KEY_HEADER] = app_key
        self.limit = limit

    def iter_events(self) -> Iterator[RawRow]:
        """Every event residents reported, in the order the platform keeps them."""
        url = self.base_url + EVENTS_PATH
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": self.limit}
            if cursor:
                params["cursor"] = cursor
            body, data = self.get_page(EVENTS_PATH, params, "data")
            for item in data:
                yield as_raw_row(item, source=self.source, url=url)
            next_cursor = body.get("next_cursor")
            if not next_cursor or not data:
                return
            if next_cursor == cursor:
                raise SourceError(f"resident: {url} returned the same cursor twice ({cursor!r}); stopping.")
            cursor = str(next_cursor)
