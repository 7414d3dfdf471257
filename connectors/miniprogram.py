"""Pulls the events residents report through the mini-program (随手拍) API, following its cursor."""

from __future__ import annotations

from collections.abc import Iterator

import requests

from connectors.grid_api import RawRow, as_raw_row, json_object
from connectors.http import AttemptCallback, request_with_retries
from hub_errors import SourceError

APP_KEY_HEADER = "X-App-Key"


class MiniProgramClient:
    """Client of the mini-program backend: opaque ``next_cursor`` paging, optional app key."""

    def __init__(
        self,
        base_url: str,
        *,
        app_key: str | None = None,
        limit: int = 500,
        timeout: float | tuple[float, float] = (5, 60),
        attempts: int = 5,
        backoff: float = 0.5,
        on_attempt: AttemptCallback | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limit = limit
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.on_attempt = on_attempt
        self.session = session or requests.Session()
        if app_key:
            self.session.headers[APP_KEY_HEADER] = app_key

    def iter_events(self) -> Iterator[RawRow]:
        """Every event residents reported, in the order the platform keeps them."""
        url = f"{self.base_url}/api/events"
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": self.limit}
            if cursor:
                params["cursor"] = cursor
            response = request_with_retries(
                self.session,
                "GET",
                url,
                params=params,
                attempts=self.attempts,
                backoff=self.backoff,
                timeout=self.timeout,
                on_attempt=self.on_attempt,
            )
            body = json_object(response, source="resident", describe=f"{url} {params}")
            data = body.get("data")
            if not isinstance(data, list):
                raise SourceError(f"resident: {url} answered without a 'data' list; got keys {sorted(body)}.")
            for item in data:
                yield as_raw_row(item, source="resident", url=url)
            next_cursor = body.get("next_cursor")
            if not next_cursor or not data:
                return
            if next_cursor == cursor:
                raise SourceError(f"resident: {url} returned the same cursor twice ({cursor!r}); stopping.")
            cursor = str(next_cursor)
