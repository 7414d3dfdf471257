"""A simulated residents' mini-program backend (随手拍): an HTTP JSON API with cursor paging.

Unlike the grid system it pages with an opaque ``cursor`` token and checks an app key header
instead of a bearer token, as consumer-facing platforms usually do. Each answer says how many events
the platform holds (``total``). Named faults (:data:`MINIPROGRAM_FAULTS`) make it misbehave on purpose.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from email.message import Message
from http import HTTPStatus
from pathlib import Path

from connectors.simulated.loopback import COMMON_FAULTS, LoopbackJsonServer, Reply, load_csv_rows, parse_positive_int

APP_KEY_HEADER = "X-App-Key"
MAX_LIMIT = 500

CURSOR_CYCLE = "cursor_cycle"
"""Fault: the third page's ``next_cursor`` is the first page's again (A -> B -> A)."""
IGNORE_CURSOR = "ignore_cursor"
"""Fault: every request gets the first events, with a fresh ``next_cursor`` each time."""
EMPTY_PAGE_WITH_CURSOR = "empty_page_with_cursor"
"""Fault: every page after the first is empty yet carries a ``next_cursor``."""
DROP_CURSOR = "drop_cursor"
"""Fault: the first page has no ``next_cursor`` although ``total`` is larger."""
MINIPROGRAM_FAULTS = COMMON_FAULTS | {CURSOR_CYCLE, IGNORE_CURSOR, EMPTY_PAGE_WITH_CURSOR, DROP_CURSOR}


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"cursor {cursor!r} is not one this server issued") from None
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"cursor {cursor!r} is not one this server issued")
    return offset


class MiniProgramServer(LoopbackJsonServer):
    """``GET /api/events?limit=N&cursor=C`` answers ``{"data": [...], "next_cursor": C | null, "total": n}``."""

    known_faults = MINIPROGRAM_FAULTS

    def __init__(
        self,
        events_csv: Path,
        *,
        app_key: str | None = None,
        faults: Iterable[str] = (),
        trickle_interval: float = 20.0,
    ) -> None:
        self.events = load_csv_rows(events_csv, system="resident")
        self._app_key = app_key
        super().__init__(faults=faults, trickle_interval=trickle_interval)

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
        if self._app_key is not None and headers.get(APP_KEY_HEADER, "") != self._app_key:
            return Reply(HTTPStatus.FORBIDDEN, {"error": f"missing or wrong {APP_KEY_HEADER}"})
        if path.rstrip("/") != "/api/events" or method != "GET":
            return super().route(method, path, query, headers, body)
        limit = parse_positive_int(query, "limit", 100, maximum=MAX_LIMIT)
        offset = decode_cursor(query["cursor"]) if query.get("cursor") else 0
        served_offset = 0 if IGNORE_CURSOR in self.faults else offset
        data = self.events[served_offset : served_offset + limit]
        end = offset + len(data)
        next_cursor = encode_cursor(end) if end < len(self.events) else None
        if CURSOR_CYCLE in self.faults and offset >= 2 * limit:
            next_cursor = encode_cursor(limit)
        elif EMPTY_PAGE_WITH_CURSOR in self.faults and offset > 0:
            data, next_cursor = [], encode_cursor(offset + limit)
        elif DROP_CURSOR in self.faults and offset == 0:
            next_cursor = None
        return Reply(HTTPStatus.OK, {"data": data, "next_cursor": next_cursor, "total": len(self.events)})
