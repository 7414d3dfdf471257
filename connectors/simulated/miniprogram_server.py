"""A simulated residents' mini-program backend (随手拍): an HTTP JSON API with cursor paging.

Unlike the grid system it pages with an opaque ``cursor`` token and checks an app key header
instead of a bearer token, as consumer-facing platforms usually do. Each answer says how many events
the platform holds (``total``). Named faults (:data:`MINIPROGRAM_FAULTS`) make it misbehave on purpose.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from email.message import Message
from http import HTTPStatus
from pathlib import Path

from connectors.simulated.history import ServedHistory
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
CHINA_TZ = timezone(timedelta(hours=8))
FIRST_UPDATE = datetime(2026, 1, 5, 9, 0, 0, tzinfo=CHINA_TZ)
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


def parse_since(raw: str, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 timestamp, got {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=CHINA_TZ)


class MiniProgramServer(LoopbackJsonServer):
    """``GET /api/events?limit=N&cursor=C[&updated_since=T]`` answers ``{"data": [...], "next_cursor":
    C | null, "total": n}``; each event carries its ``updated_at``. ``GET /api/events/deleted
    ?deleted_since=T`` lists the events deleted since (``{"data": [{"id", "deleted_at"}], "total"}``).
    With a :class:`ServedHistory` the platform remembers what it served on an earlier start."""

    known_faults = MINIPROGRAM_FAULTS

    def __init__(
        self,
        events_csv: Path,
        *,
        app_key: str | None = None,
        faults: Iterable[str] = (),
        trickle_interval: float = 20.0,
        history: ServedHistory | None = None,
        port: int = 0,
    ) -> None:
        rows = load_csv_rows(events_csv, system="resident")
        id_column = next(iter(rows[0])) if rows else ""
        served = (history or ServedHistory(None)).serve(
            "events", rows, id_column, lambda index: FIRST_UPDATE + timedelta(seconds=3 * index),
            now=datetime.now(CHINA_TZ),
        )
        order = sorted(range(len(rows)), key=lambda index: (served.updated[index], index))
        self.events = [{**rows[index], "updated_at": served.updated[index].isoformat()} for index in order]
        self._updated = [served.updated[index] for index in order]
        self.deleted = served.deleted
        self._app_key = app_key
        super().__init__(faults=faults, trickle_interval=trickle_interval, port=port)

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
        if self._app_key is not None and headers.get(APP_KEY_HEADER, "") != self._app_key:
            return Reply(HTTPStatus.FORBIDDEN, {"error": f"missing or wrong {APP_KEY_HEADER}"})
        if path.rstrip("/") == "/api/events/deleted" and method == "GET":
            since = parse_since(query.get("deleted_since", ""), "deleted_since")
            gone = sorted((stamp, key) for key, stamp in self.deleted.items() if since is None or stamp > since)
            items = [{"id": key, "deleted_at": stamp.isoformat()} for stamp, key in gone]
            return Reply(HTTPStatus.OK, {"data": items, "total": len(items)})
        if path.rstrip("/") != "/api/events" or method != "GET":
            return super().route(method, path, query, headers, body)
        limit = parse_positive_int(query, "limit", 100, maximum=MAX_LIMIT)
        since = parse_since(query.get("updated_since", ""), "updated_since")
        first = 0 if since is None else bisect.bisect_right(self._updated, since)
        events = self.events[first:]
        offset = decode_cursor(query["cursor"]) if query.get("cursor") else 0
        served_offset = 0 if IGNORE_CURSOR in self.faults else offset
        data = events[served_offset : served_offset + limit]
        end = offset + len(data)
        next_cursor = encode_cursor(end) if end < len(events) else None
        if CURSOR_CYCLE in self.faults and offset >= 2 * limit:
            next_cursor = encode_cursor(limit)
        elif EMPTY_PAGE_WITH_CURSOR in self.faults and offset > 0:
            data, next_cursor = [], encode_cursor(offset + limit)
        elif DROP_CURSOR in self.faults and offset == 0:
            next_cursor = None
        return Reply(HTTPStatus.OK, {"data": data, "next_cursor": next_cursor, "total": len(events)})
