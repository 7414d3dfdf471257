"""A simulated grid system (网格化管理平台): an HTTP JSON API on loopback, as the real one behaves.

It serves the grid's resident records (实有人口) and grid workers' events with a bearer token,
page-based paging, an ``updated_since`` cursor and injectable failures, so the connectors and the
demo talk real HTTP without a real department.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import Any

from connectors.simulated.loopback import LoopbackJsonServer, Reply, load_csv_rows, parse_positive_int

CHINA_TZ = timezone(timedelta(hours=8))
FIRST_UPDATE = datetime(2026, 1, 5, 8, 0, 0, tzinfo=CHINA_TZ)
MAX_PAGE_SIZE = 1000


def parse_timestamp(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 timestamp, got {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=CHINA_TZ)


class GridCollection:
    """One dataset of the grid system; each record carries a deterministic ``updated_at``.

    Records are kept in ``updated_at`` order (``_order``), so paging is stable and cheap.
    """

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.id_column = next(iter(rows[0])) if rows else ""
        self._rows = rows
        self._updated = [FIRST_UPDATE + timedelta(seconds=7 * index) for index in range(len(rows))]
        self._order = list(range(len(rows)))

    def __len__(self) -> int:
        return len(self._rows)

    def touch(self, record_id: str, **changes: str) -> None:
        """Edit a record as a grid worker would; it becomes the most recently updated one."""
        for index, row in enumerate(self._rows):
            if row[self.id_column] == record_id:
                row.update(changes)
                self._updated[index] = max(self._updated) + timedelta(seconds=1)
                self._order.remove(index)
                self._order.append(index)
                return
        raise KeyError(record_id)

    def page(self, updated_since: datetime | None, page: int, page_size: int) -> dict[str, Any]:
        order = self._order
        if updated_since is not None:
            order = [index for index in order if self._updated[index] > updated_since]
        chunk = order[(page - 1) * page_size : page * page_size]
        items = [{**self._rows[index], "updated_at": self._updated[index].isoformat()} for index in chunk]
        return {
            "items": items,
            "page": page,
            "page_size": page_size,
            "total": len(order),
            "has_more": page * page_size < len(order),
        }


class GridServer(LoopbackJsonServer):
    """The grid system's API: ``/api/v1/residents`` and ``/api/v1/events`` behind a bearer token."""

    def __init__(self, residents_csv: Path, events_csv: Path, *, token: str) -> None:
        self.residents = GridCollection(load_csv_rows(residents_csv, system="grid"))
        self.events = GridCollection(load_csv_rows(events_csv, system="grid"))
        self._token = token
        super().__init__()

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
        if headers.get("Authorization", "") != f"Bearer {self._token}":
            return Reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"})
        collections = {"/api/v1/residents": self.residents, "/api/v1/events": self.events}
        collection = collections.get(path.rstrip("/"))
        if collection is None or method != "GET":
            return super().route(method, path, query, headers, body)
        page = parse_positive_int(query, "page", 1, maximum=10**9)
        page_size = parse_positive_int(query, "page_size", 100, maximum=MAX_PAGE_SIZE)
        since_raw = query.get("updated_since", "")
        since = parse_timestamp(since_raw, "updated_since") if since_raw else None
        return Reply(HTTPStatus.OK, collection.page(since, page, page_size))
