"""The server machinery the simulated department systems share.

Every simulated HTTP system is a :class:`LoopbackJsonServer`: a JSON server on 127.0.0.1 (a free
port) in a background thread, with injectable failures so the connectors' retries meet real HTTP.
Subclasses only decide what each request gets in :meth:`LoopbackJsonServer.route`.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from hub_errors import SourceError

SHUTDOWN_POLL_SECONDS = 0.05

JsonBody = Mapping[str, Any]


def load_csv_rows(path: Path, *, system: str) -> list[dict[str, str]]:
    """Rows of a department's CSV export, every value a string, as the simulated system will hold them."""
    if not path.is_file():
        raise SourceError(f"{system}: data file {path} is missing; the simulated system cannot start.")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{key: value or "" for key, value in row.items()} for row in csv.DictReader(handle)]


def parse_positive_int(query: dict[str, str], name: str, default: int, *, maximum: int) -> int:
    """A paging parameter; ValueError (answered 400) when it is not a positive integer."""
    raw = query.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return min(int(raw), maximum)


@dataclass
class InjectedFailure:
    """The answer the next requests get instead of the real one (for retry tests)."""

    remaining: int
    status: int
    retry_after: str | None


@dataclass
class Reply:
    """What a simulated endpoint answers: status, JSON body and extra headers.

    ``raw`` (with its ``content_type``) replaces the JSON body, for systems that answer with
    something else, as a login page in front of a department's inbox does.
    """

    status: int
    body: JsonBody
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"


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
        """Base URL, e.g. http://127.0.0.1:54321."""
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
            self._failure = InjectedFailure(count, int(status), retry_after)

    def dispatch(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
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
            return self.route(method, parts.path, query, headers, body)
        except ValueError as exc:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
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
            body = self.rfile.read(length) if length else b""
            reply = server.dispatch(method, self.path, self.headers, body)
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and the demo would otherwise print every request."""

    return Handler
