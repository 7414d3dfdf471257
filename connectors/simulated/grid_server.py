"""A simulated grid system (网格化管理平台): an HTTP JSON API on loopback, as the real one behaves.

It serves the grid's resident records (实有人口) and grid workers' events with a bearer token,
page-based or keyset paging (``after_updated_at`` + ``after_id``), an ``updated_since`` cursor, the
tombstones of deleted records (``/api/v1/<dataset>/deleted?deleted_since=``; with a
:class:`ServedHistory` the server remembers what it served before, as a real one would),
injectable failures and named faults (:data:`GRID_FAULTS`), so the connectors and the demo talk real
HTTP without a real department, and meet its misbehaviour on purpose.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import Any

from connectors.simulated.history import ServedHistory
from connectors.simulated.loopback import COMMON_FAULTS, LoopbackJsonServer, Reply, load_csv_rows, parse_positive_int

CHINA_TZ = timezone(timedelta(hours=8))
FIRST_UPDATE = datetime(2026, 1, 5, 8, 0, 0, tzinfo=CHINA_TZ)
MAX_PAGE_SIZE = 1000

IGNORE_PAGE = "ignore_page"
"""Fault: every request gets the first page (``page`` and ``after_*`` ignored) and ``has_more`` true."""
EMPTY_PAGE_HAS_MORE = "empty_page_has_more"
"""Fault: every page after the first is empty yet says ``has_more``."""
NO_MORE_AT_FIRST_PAGE = "no_more_at_first_page"
"""Fault: the first page says ``has_more`` false although ``total`` is larger."""
EDIT_MID_PULL = "edit_mid_pull"
"""Fault: between the first and the second page a grid worker edits the first page's first record
(``GridServer.edit_changes``, or a re-save), as happens in a busy office."""
BEYOND_TOTAL = "beyond_total"
"""Fault: past its last record the server keeps inventing records it never counted in ``total``
(ids suffixed ``-phantom-N``), always with ``has_more``."""
GRID_FAULTS = COMMON_FAULTS | {IGNORE_PAGE, EMPTY_PAGE_HAS_MORE, NO_MORE_AT_FIRST_PAGE, EDIT_MID_PULL, BEYOND_TOTAL}


def parse_timestamp(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 timestamp, got {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=CHINA_TZ)


class GridCollection:
    """One dataset of the grid system; each record carries a deterministic ``updated_at``.

    Records are kept in ``(updated_at, id)`` order (``_order`` and its ``_keys``), so number and
    keyset paging are stable and cheap.
    """

    def __init__(
        self,
        rows: list[dict[str, str]],
        *,
        history: ServedHistory | None = None,
        dataset: str = "",
        now: datetime | None = None,
    ) -> None:
        self.id_column = next(iter(rows[0])) if rows else ""
        self._rows = rows
        served = (history or ServedHistory(None)).serve(
            dataset,
            rows,
            self.id_column,
            lambda index: FIRST_UPDATE + timedelta(seconds=7 * index),
            now=now or datetime.now(CHINA_TZ),
        )
        self._updated = served.updated
        self.deleted = served.deleted
        self._order = sorted(range(len(rows)), key=self._key)
        self._keys = [self._key(index) for index in self._order]

    def __len__(self) -> int:
        return len(self._rows)

    def _key(self, index: int) -> tuple[datetime, str]:
        return (self._updated[index], self._rows[index][self.id_column])

    def deletions(self, since: datetime | None) -> dict[str, Any]:
        """The tombstones of records deleted after ``since`` (all of them without it), oldest first."""
        gone = sorted((stamp, key) for key, stamp in self.deleted.items() if since is None or stamp > since)
        items = [{"id": key, "deleted_at": stamp.isoformat()} for stamp, key in gone]
        return {"items": items, "total": len(items)}

    def newest(self) -> datetime:
        return max(self._updated, default=FIRST_UPDATE)

    def touch(self, record_id: str, **changes: str) -> None:
        """Edit a record as a grid worker would; it becomes the most recently updated one."""
        for index, row in enumerate(self._rows):
            if row[self.id_column] == record_id:
                row.update(changes)
                self._updated[index] = max(self._updated) + timedelta(seconds=1)
                self._order.remove(index)
                self._order.append(index)
                self._keys = [self._key(position) for position in self._order]
                return
        raise KeyError(record_id)

    def page(
        self,
        updated_since: datetime | None,
        page: int,
        page_size: int,
        after: tuple[datetime, str] | None = None,
    ) -> dict[str, Any]:
        """Page ``page`` of the records changed after ``updated_since``; with ``after`` (keyset
        paging) the ``page_size`` records after that ``(updated_at, id)`` instead."""
        first = 0 if updated_since is None else bisect.bisect_right(self._keys, (updated_since, chr(0x10FFFF)))
        total = len(self._order) - first
        if after is not None:
            start = max(first, bisect.bisect_right(self._keys, after))
        else:
            start = first + (page - 1) * page_size
        chunk = self._order[start : start + page_size]
        items = [{**self._rows[index], "updated_at": self._updated[index].isoformat()} for index in chunk]
        return {
            "items": items,
            "page": page,
            "page_size": page_size,
            "total": total,
            "has_more": start + page_size < len(self._order),
        }


class GridServer(LoopbackJsonServer):
    """The grid system's API: ``/api/v1/residents`` and ``/api/v1/events`` behind a bearer token."""

    known_faults = GRID_FAULTS

    def __init__(
        self,
        residents_csv: Path,
        events_csv: Path,
        *,
        token: str,
        faults: Iterable[str] = (),
        trickle_interval: float = 20.0,
        history: ServedHistory | None = None,
        port: int = 0,
    ) -> None:
        residents = load_csv_rows(residents_csv, system="grid")
        self.residents = GridCollection(residents, history=history, dataset="residents")
        self.events = GridCollection(load_csv_rows(events_csv, system="grid"), history=history, dataset="events")
        self._token = token
        self.edit_changes: dict[str, str] = {}
        self.edited: list[str] = []
        self._pending_edit: tuple[GridCollection, str] | None = None
        self._data_lock = threading.Lock()
        super().__init__(faults=faults, trickle_interval=trickle_interval, port=port)

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
        if headers.get("Authorization", "") != f"Bearer {self._token}":
            return Reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"})
        collections = {"/api/v1/residents": self.residents, "/api/v1/events": self.events}
        if path.rstrip("/").endswith("/deleted") and method == "GET":
            gone = collections.get(path.rstrip("/").removesuffix("/deleted"))
            if gone is not None:
                since_raw = query.get("deleted_since", "")
                since = parse_timestamp(since_raw, "deleted_since") if since_raw else None
                with self._data_lock:
                    return Reply(HTTPStatus.OK, gone.deletions(since))
        collection = collections.get(path.rstrip("/"))
        if collection is None or method != "GET":
            return super().route(method, path, query, headers, body)
        page = parse_positive_int(query, "page", 1, maximum=10**9)
        page_size = parse_positive_int(query, "page_size", 100, maximum=MAX_PAGE_SIZE)
        since_raw = query.get("updated_since", "")
        since = parse_timestamp(since_raw, "updated_since") if since_raw else None
        after = parse_after(query)
        first_page = page == 1 and after is None
        if IGNORE_PAGE in self.faults:
            page, after, first_page = 1, None, True
        with self._data_lock:
            return Reply(HTTPStatus.OK, self._answer(collection, since, page, page_size, after, first_page))

    def _answer(
        self,
        collection: GridCollection,
        since: datetime | None,
        page: int,
        page_size: int,
        after: tuple[datetime, str] | None,
        first_page: bool,
    ) -> dict[str, Any]:
        """One listing answer, with the switched-on faults applied."""
        self._edit_between_pages(collection, first_page)
        answer = collection.page(since, page, page_size, after)
        if IGNORE_PAGE in self.faults:
            answer["has_more"] = True
        elif EMPTY_PAGE_HAS_MORE in self.faults and not first_page:
            answer.update(items=[], has_more=True)
        elif NO_MORE_AT_FIRST_PAGE in self.faults and first_page:
            answer["has_more"] = False
        elif BEYOND_TOTAL in self.faults and not answer["has_more"]:
            answer.update(items=answer["items"] or self._phantoms(collection, page_size), has_more=True)
        if EDIT_MID_PULL in self.faults and first_page and answer["items"]:
            self._pending_edit = (collection, answer["items"][0][collection.id_column])
        return answer

    def _phantoms(self, collection: GridCollection, count: int) -> list[dict[str, str]]:
        """Records the server never counted: copies of the first ones under new ids, newer than any
        real record (BEYOND_TOTAL)."""
        stamp = (collection.newest() + timedelta(seconds=self.request_count)).isoformat()
        return [
            {
                **item,
                collection.id_column: f"{item[collection.id_column]}-phantom-{self.request_count}",
                "updated_at": stamp,
            }
            for item in collection.page(None, 1, count)["items"]
        ]

    def _edit_between_pages(self, collection: GridCollection, first_page: bool) -> None:
        """The EDIT_MID_PULL fault: the edit lands after page 1 was served, before page 2 is."""
        pending, self._pending_edit = self._pending_edit, None
        if pending is not None and pending[0] is collection and not first_page:
            collection.touch(pending[1], **self.edit_changes)
            self.edited.append(pending[1])


def parse_after(query: dict[str, str]) -> tuple[datetime, str] | None:
    """The keyset position ``(after_updated_at, after_id)``; both or neither (400 otherwise)."""
    after_at, after_id = query.get("after_updated_at", ""), query.get("after_id", "")
    if not after_at and not after_id:
        return None
    if not after_at or not after_id:
        raise ValueError("after_updated_at and after_id go together (keyset paging)")
    return parse_timestamp(after_at, "after_updated_at"), after_id
