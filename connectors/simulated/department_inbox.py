"""Simulated department inboxes: where the hub POSTs each department's report batches.

One loopback server (a free port on 127.0.0.1) serves ``POST /inbox/<department>`` for any
department. Like a well-behaved receiving system it honours the ``Idempotency-Key`` header: a key
it has accepted before is answered 200 again without being stored twice. It records every request
and every accepted batch so tests can count deliveries, and ``fail_next`` makes the next requests
fail (503, or 429 with Retry-After) the way a department restarting or throttling does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.simulated.loopback import LoopbackJsonServer, Reply

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


def inbox_department(path: str) -> str:
    """The department named by an ``/inbox/<department>`` path; '' for any other path."""
    return path[len(INBOX_PREFIX) :].strip("/") if path.startswith(INBOX_PREFIX) else ""


def request_idempotency_key(headers: Message) -> str:
    """The key the sender put on the request; '' when it sent none."""
    return (headers.get(IDEMPOTENCY_HEADER) or "").strip()


class DepartmentInbox(LoopbackJsonServer):
    """The inbox server; start/stop it or use it as a context manager.

    Set HUB_DEPARTMENT_INBOX_URL to its ``url`` for the delivery specs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[InboxRequest] = []
        self.batches: list[ReceivedBatch] = []

    def url_for(self, department: str) -> str:
        return f"{self.url}{INBOX_PREFIX}{department}"

    def fail_next(
        self, count: int, status: int = HTTPStatus.SERVICE_UNAVAILABLE, *, retry_after: str | None = None
    ) -> None:
        """Answer the next ``count`` POSTs with ``status`` (plus Retry-After if given), then recover.

        503 by default: a department restarting its receiver is the failure deliveries meet most.
        """
        super().fail_next(count, status, retry_after=retry_after)

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

    def dispatch(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        """Answer as any loopback server does, and record the request whatever the answer was."""
        reply = super().dispatch(method, target, headers, body)
        department = inbox_department(urlsplit(target).path)
        with self._lock:
            self.requests.append(InboxRequest(department, request_idempotency_key(headers), int(reply.status)))
        return reply

    def route(self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes) -> Reply:
        """Store one POSTed batch unless its idempotency key was accepted before (bad requests: 4xx)."""
        department = inbox_department(path)
        if method != "POST" or not department or "/" in department:
            return Reply(HTTPStatus.NOT_FOUND, {"error": "POST to /inbox/<department>"})
        key = request_idempotency_key(headers)
        if not key:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": f"the {IDEMPOTENCY_HEADER} header is required"})
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "body must be UTF-8 JSON"})
        if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object with a rows list"})
        with self._lock:
            if any(b.department == department and b.idempotency_key == key for b in self.batches):
                return Reply(HTTPStatus.OK, {"status": "duplicate", "idempotency_key": key})
            self.batches.append(ReceivedBatch(department, key, payload))
        return Reply(HTTPStatus.OK, {"status": "accepted", "rows": len(payload["rows"])})
