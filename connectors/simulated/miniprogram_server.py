"""A simulated residents' mini-program backend (随手拍): an HTTP JSON API with cursor paging.

Unlike the grid system it pages with an opaque ``cursor`` token and checks an app key header
instead of a bearer token, as consumer-facing platforms usually do.
"""

from __future__ import annotations

import base64
import json
from email.message import Message
from http import HTTPStatus
from pathlib import Path

from connectors.simulated.loopback import LoopbackJsonServer, Reply, load_csv_rows, parse_positive_int

APP_KEY_HEADER = "X-App-Key"
MAX_LIMIT = 500


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
    """``GET /api/events?limit=N&cursor=C`` answers ``{"data": [...], "next_cursor": C | null}``."""

    def __init__(self, events_csv: Path, *, app_key: str | None = None) -> None:
        self.events = load_csv_rows(events_csv, system="resident")
        self._app_key = app_key
        super().__init__()

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
        if self._app_key is not None and headers.get(APP_KEY_HEADER, "") != self._app_key:
            return Reply(HTTPStatus.FORBIDDEN, {"error": f"missing or wrong {APP_KEY_HEADER}"})
        if path.rstrip("/") != "/api/events" or method != "GET":
            return super().route(method, path, query, headers, body)
        limit = parse_positive_int(query, "limit", 100, maximum=MAX_LIMIT)
        offset = decode_cursor(query["cursor"]) if query.get("cursor") else 0
        data = self.events[offset : offset + limit]
        end = offset + len(data)
        next_cursor = encode_cursor(end) if end < len(self.events) else None
        return Reply(HTTPStatus.OK, {"data": data, "next_cursor": next_cursor})
