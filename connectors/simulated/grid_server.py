"""A simulated grid system (网格化管理平台): an HTTP JSON API on loopback, as the real one behaves.

It serves the grid's resident records (实有人口) and grid workers' events with a bearer token,
page-based paging, an ``updated_since`` cursor and injectable failures, so the connectors and the
demo talk real HTTP without a real department. The module also holds the small server machinery
(:class:`LoopbackJsonServer`, :func:`load_csv_rows`) the other simulated systems reuse.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from hub_errors import SourceError

CHINA_TZ = timezone(timedelta(hours=8))
FIRST_UPDATE = datetime(2026, 1, 5, 8, 0, 0, tzinfo=CHINA_TZ)
MAX_PAGE_SIZE = 1000
SHUTDOWN_POLL_SECONDS = 0.05

JsonBody = Mapping[str, Any]


def load_csv_rows(path: Path, *, system: str) -> list[dict[str, str]]:
    """Rows of a department's CSV export, every value a string, as the simulated system will hold them."""
    if not path.is_file():
        raise SourceError(f"{system}: data file {path} is missing; the simulated system cannot start.")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{key: value or "" for key, value in row.items()} for row in csv.DictReader(handle)]


@dataclass
class InjectedFailure:
    """The answer the next requests get instead of the real one (for retry tests)."""

    remaining: int
    status: int
    retry_after: str | None


@dataclass
class Reply:
    """What a simulated endpoint answers: status, JSON body and extra headers."""

    status: int
    body: JsonBody
    headers: dict[str, str] = field(default_factory=dict)


class SimulatedSystem:
    """A simulated department system: started, used, stopped; also a context manager."""

    def start(self) -> Self:
        return self

    def stop(self) -> None:
        """Release what ``start`` took (threads, sockets)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LoopbackJsonServer(SimulatedSystem):
    """A JSON HTTP server on 127.0.0.1 (free port) in a background thread; subclasses route requests.

    Usable as a context manager. ``fail_next(n, status)`` makes the next n requests fail, the way a
    department system does during a restart; ``request_count`` lets tests see retries happen.
    """

    def __init__(self) -> None:
        self._failure: InjectedFailure | None = None
        self._lock = threading.Lock()
        self.request_count = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                name=type(self).__name__,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def fail_next(self, count: int, status: int = 500, *, retry_after: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (and Retry-After if given), then recover."""
        with self._lock:
            self._failure = InjectedFailure(count, status, retry_after)

    def dispatch(self, method: str, target: str, headers: Message) -> Reply:
        """Count the request, apply an injected failure if one is pending, else route it."""
        with self._lock:
            self.request_count += 1
            failure = self._failure
            if failure is not None and failure.remaining > 0:
                failure.remaining -= 1
                reply_headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                return Reply(failure.status, {"error": "injected failure"}, reply_headers)
        parts = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            return self.route(method, parts.path, query, headers)
        except ValueError as exc:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    def route(self, method: str, path: str, query: dict[str, str], headers: Message) -> Reply:
        """Answer one request; subclasses override. Raise ValueError for a bad parameter (400)."""
        return Reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {path}"})


def _handler_for(server: LoopbackJsonServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            reply = server.dispatch(method, self.path, self.headers)
            payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and the demo would otherwise print every request."""

    return Handler


def parse_positive_int(query: dict[str, str], name: str, default: int, *, maximum: int) -> int:
    raw = query.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return min(int(raw), maximum)


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

    def route(self, method: str, path: str, query: dict[str, str], headers: Message) -> Reply:
        if headers.get("Authorization", "") != f"Bearer {self._token}":
            return Reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"})
        collections = {"/api/v1/residents": self.residents, "/api/v1/events": self.events}
        collection = collections.get(path.rstrip("/"))
        if collection is None or method != "GET":
            return super().route(method, path, query, headers)
        page = parse_positive_int(query, "page", 1, maximum=10**9)
        page_size = parse_positive_int(query, "page_size", 100, maximum=MAX_PAGE_SIZE)
        since_raw = query.get("updated_since", "")
        since = parse_timestamp(since_raw, "updated_since") if since_raw else None
        return Reply(HTTPStatus.OK, collection.page(since, page, page_size))
