"""Simulated department inboxes: where the hub POSTs each department's report batches.

One ThreadingHTTPServer on 127.0.0.1 (a free port) serves ``POST /inbox/<department>`` for any
department. Like a well-behaved receiving system it honours the ``Idempotency-Key`` header: a key
it has accepted before is answered 200 again without being stored twice. It records every request
and every accepted batch so tests can count deliveries, and ``fail_next`` makes the next requests
fail (503, or 429 with Retry-After) the way a department restarting or throttling does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

INBOX_PREFIX = "/inbox/"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class InboxRequest:
    """One request as the inbox saw it, whatever it answered."""

    department: str
    idempotency_key: str
    status: int


@dataclass(frozen=True)
class ReceivedBatch:
    """One accepted batch: its key and the JSON body the hub sent."""

    department: str
    idempotency_key: str
    payload: dict[str, Any]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.payload.get("rows") or [])


class DepartmentInbox:
    """The inbox server; start/stop it or use it as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[InboxRequest] = []
        self.batches: list[ReceivedBatch] = []
        self._failures: list[tuple[int, str | None]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321; set HUB_DEPARTMENT_INBOX_URL to it for the specs."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url_for(self, department: str) -> str:
        return f"{self.url}{INBOX_PREFIX}{department}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="DepartmentInbox",
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def fail_next(
        self, count: int, status: int = HTTPStatus.SERVICE_UNAVAILABLE, *, retry_after: str | None = None
    ) -> None:
        """Answer the next ``count`` POSTs with ``status`` (plus Retry-After if given), then recover."""
        with self._lock:
            self._failures = [(int(status), retry_after)] * count

    def received(self, department: str) -> list[ReceivedBatch]:
        with self._lock:
            return [batch for batch in self.batches if batch.department == department]

    def keys(self, department: str) -> list[str]:
        return [batch.idempotency_key for batch in self.received(department)]

    def rows(self, department: str) -> list[dict[str, Any]]:
        return [row for batch in self.received(department) for row in batch.rows]

    def write_received(self, folder: Path) -> dict[str, Path]:
        """Save what each department received as ``<department>_received.json`` (for the demo output)."""
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            departments = sorted({batch.department for batch in self.batches})
        paths = {}
        for department in departments:
            path = folder / f"{department}_received.json"
            body = [{"idempotency_key": b.idempotency_key, **b.payload} for b in self.received(department)]
            path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
            paths[department] = path
        return paths

    def accept(self, path: str, key: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Decide the answer to one POST: injected failure, bad request, duplicate or accepted."""
        department = path[len(INBOX_PREFIX) :].strip("/") if path.startswith(INBOX_PREFIX) else ""
        with self._lock:
            if self._failures:
                status, retry_after = self._failures.pop(0)
                self.requests.append(InboxRequest(department, key, status))
                return (
                    status,
                    {"error": "injected failure"},
                    {"Retry-After": retry_after} if retry_after else {},
                )
            status, answer = self._store(department, key, body)
            self.requests.append(InboxRequest(department, key, status))
            return status, answer, {}

    def _store(self, department: str, key: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if not department or "/" in department:
            return HTTPStatus.NOT_FOUND, {"error": "POST to /inbox/<department>"}
        if not key:
            return HTTPStatus.BAD_REQUEST, {"error": f"the {IDEMPOTENCY_HEADER} header is required"}
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return HTTPStatus.BAD_REQUEST, {"error": "body must be UTF-8 JSON"}
        if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
            return HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object with a rows list"}
        if any(b.department == department and b.idempotency_key == key for b in self.batches):
            return HTTPStatus.OK, {"status": "duplicate", "idempotency_key": key}
        self.batches.append(ReceivedBatch(department, key, payload))
        return HTTPStatus.OK, {"status": "accepted", "rows": len(payload["rows"])}


def _handler_for(inbox: DepartmentInbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            key = self.headers.get(IDEMPOTENCY_HEADER, "").strip()
            status, answer, headers = inbox.accept(self.path.split("?", 1)[0], key, body)
            payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and the demo would otherwise print every request."""

    return Handler
