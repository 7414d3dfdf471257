"""The server machinery the simulated department systems share.

Every simulated HTTP system is a :class:`LoopbackJsonServer`: a JSON server on 127.0.0.1 (a free
port) in a background thread, with injectable failures so the connectors' retries meet real HTTP,
and named faults a test or the demo switches on (``faults``) to meet the ways real systems misbehave.
Subclasses only decide what each request gets in :meth:`LoopbackJsonServer.route`.
"""

from __future__ import annotations

import csv
import json
import sys
import threading
from collections.abc import Iterable, Mapping
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

TRICKLE = "trickle"
"""Fault: a data answer's body goes out one byte every ``trickle_interval`` seconds."""
TRICKLE_HEAD = "trickle_head"
"""Fault: a data answer's status line and headers go out one byte every ``trickle_interval`` seconds."""
MALFORMED_JSON = "malformed_json"
"""Fault: a data answer's body is cut off halfway, so it is not valid JSON (records and all)."""
COMMON_FAULTS = frozenset({TRICKLE, TRICKLE_HEAD, MALFORMED_JSON})

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
    trickle: float | None = None
    trickle_head: float | None = None
    truncate: bool = False
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
    ``faults`` holds named misbehaviours (``known_faults`` lists them; ``inject``/``clear_faults``
    switch them) that last until cleared.
    """

    known_faults: frozenset[str] = COMMON_FAULTS

    def __init__(self, *, faults: Iterable[str] = (), trickle_interval: float = 20.0, port: int = 0) -> None:
        self._failure: InjectedFailure | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.request_count = 0
        self.faults: set[str] = set()
        self.trickle_interval = trickle_interval
        self.inject(*faults)
        self._httpd = _bind(port, _handler_for(self))
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
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def fail_next(self, count: int, status: int = 500, *, retry_after: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (and Retry-After if given), then recover."""
        with self._lock:
            self._failure = InjectedFailure(count, int(status), retry_after)

    def inject(self, *names: str) -> None:
        """Switch on named faults; an unknown name is a ValueError listing the known ones."""
        unknown = set(names) - self.known_faults
        if unknown:
            raise ValueError(
                f"unknown faults {sorted(unknown)}; {type(self).__name__} knows {sorted(self.known_faults)}"
            )
        self.faults.update(names)

    def clear_faults(self) -> None:
        self.faults.clear()

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
            reply = self.route(method, parts.path, query, headers, body)
        except ValueError as exc:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        if reply.status == HTTPStatus.OK:
            reply.trickle = self.trickle_interval if TRICKLE in self.faults else None
            reply.trickle_head = self.trickle_interval if TRICKLE_HEAD in self.faults else None
            reply.truncate = MALFORMED_JSON in self.faults
        return reply

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
        """Answer one request; subclasses override. Raise ValueError for a bad parameter (400)."""
        return Reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {path}"})


def _bind(port: int, handler: type[BaseHTTPRequestHandler]) -> _QuietHTTPServer:
    """A server on 127.0.0.1:``port`` (the one asked for, so a restart keeps its address), or on a free
    port when that one is taken or none is asked for."""
    if port:
        try:
            return _QuietHTTPServer(("127.0.0.1", port), handler)
        except OSError:
            pass
    return _QuietHTTPServer(("127.0.0.1", 0), handler)


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client hanging up mid-answer (as the hub does on a trickling or failed answer) is normal here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: LoopbackJsonServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        trickle_head: float | None = None
        head_sent = True

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = server.dispatch(method, self.path, self.headers, body)
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
            if reply.truncate:
                payload = payload[: len(payload) // 2]
            self.trickle_head = reply.trickle_head
            self.head_sent = True
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not self.head_sent:
                return
            if reply.trickle is None:
                self.wfile.write(payload)
            else:
                self._trickle(payload, reply.trickle)

        def flush_headers(self) -> None:
            if self.trickle_head is None:
                super().flush_headers()
                return
            head = b"".join(getattr(self, "_headers_buffer", []))
            self._headers_buffer: list[bytes] = []
            self.head_sent = self._trickle(head, self.trickle_head)

        def _trickle(self, payload: bytes, interval: float) -> bool:
            """One byte at a time until done (True), the client hangs up or the server stops (False)."""
            try:
                for index in range(len(payload)):
                    self.wfile.write(payload[index : index + 1])
                    self.wfile.flush()
                    if server._stopping.wait(interval):
                        self.close_connection = True
                        return False
            except OSError:
                self.close_connection = True
                return False
            return True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and the demo would otherwise print every request."""

    return Handler
