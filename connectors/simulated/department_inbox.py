"""Simulated department inboxes: where the hub POSTs each department's report batches.

One loopback server (a free port on 127.0.0.1) serves ``POST /inbox/<department>`` for any
department. Like a well-behaved receiving system it honours the ``Idempotency-Key`` header: a key
it has accepted before is answered again without being stored twice. Every accepted batch is
acknowledged with a JSON body echoing the key and the number of rows taken (see ``acknowledgement``);
the hub counts a batch as delivered only on that acknowledgement.

The department holds, per report, the latest batch it received at each batch position (a batch
says how many the report has, so positions beyond it are dropped): that is its current state, which
``holdings`` and ``write_received`` show. With ``keep_state_in(folder)`` every accepted batch is
appended to a journal there, so the department's state survives restarts (as a real system's does).

A change batch (``"kind": "changes"``) carries only what changed in one report since the department's
last delivery: rows added or modified (the whole new row), rows removed (the key), and person id
merges and splits (information; the rows they touch come as removals and additions). The inbox
applies it to the report it names (``applies_to``), matching rows on ``key_column``, so the held
state stays the department's whole current report.

Faults to inject: ``fail_next`` (503, or 429 with Retry-After, as a restarting or throttling system
answers) and ``serve_login_page`` (HTTP 200 with an HTML login page, as a single-sign-on proxy in
front of an inbox answers when the hub's session is not accepted; nothing is stored).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.simulated.loopback import LoopbackJsonServer, Reply

INBOX_PREFIX = "/inbox/"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CHANGE_KIND = "changes"
CHANGE_TYPE = "变更类型"
UPSERTS = ("新增", "修改")
REMOVAL = "删除"
ROW = "行"
JOURNAL_NAME = "received.jsonl"
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>统一身份认证</title></head>"
    "<body><form action='/sso/login' method='post'><h1>请登录</h1>"
    "<input name='username'><input name='password' type='password'><button>登录</button></form></body></html>"
).encode()


def acknowledgement(status: str, key: str, accepted: int) -> dict[str, Any]:
    """The department's answer to a batch it has taken: the key echoed and the rows accepted."""
    return {"status": status, "idempotency_key": key, "accepted": accepted}


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

    @property
    def report(self) -> str:
        return str(self.payload.get("report") or "")

    @property
    def position(self) -> int:
        return int(self.payload.get("batch") or 1)

    @property
    def count(self) -> int:
        return int(self.payload.get("batch_count") or self.position)


def inbox_department(path: str) -> str:
    """The department named by an ``/inbox/<department>`` path; '' for any other path."""
    return path[len(INBOX_PREFIX) :].strip("/") if path.startswith(INBOX_PREFIX) else ""


def request_idempotency_key(headers: Message) -> str:
    """The key the sender put on the request; '' when it sent none."""
    return (headers.get(IDEMPOTENCY_HEADER) or "").strip()


def json_lines_array(items: list[dict[str, Any]]) -> str:
    """A JSON array with one item per line: as readable as an indented dump of batches, and written by
    the C encoder (``indent`` falls back to the pure-Python one, seconds for a city's state)."""
    return "[\n" + ",\n".join(json.dumps(item, ensure_ascii=False) for item in items) + "\n]\n"


class DepartmentInbox(LoopbackJsonServer):
    """The inbox server; start/stop it or use it as a context manager.

    Set HUB_DEPARTMENT_INBOX_URL to its ``url`` for the delivery specs. ``batches`` lists what this
    server accepted since it started; ``holdings`` what each department holds now.
    """

    def __init__(self, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.requests: list[InboxRequest] = []
        self.batches: list[ReceivedBatch] = []
        self._accepted: dict[tuple[str, str], int] = {}
        self._current: dict[tuple[str, str], dict[int, ReceivedBatch]] = {}
        self._journal: Path | None = None
        self._login_pages = 0

    def url_for(self, department: str) -> str:
        return f"{self.url}{INBOX_PREFIX}{department}"

    def keep_state_in(self, folder: Path) -> DepartmentInbox:
        """Load what the departments received before from ``folder``'s journal and journal from now on.

        A last line cut short (the inbox was killed while writing it) was never acknowledged, so it
        is dropped.
        """
        folder.mkdir(parents=True, exist_ok=True)
        journal = folder / JOURNAL_NAME
        with self._lock:
            if journal.exists():
                text = journal.read_bytes()
                complete = text[: text.rfind(b"\n") + 1]
                if len(complete) < len(text):
                    with journal.open("r+b") as handle:
                        handle.truncate(len(complete))
                entries = complete.decode("utf-8").splitlines()
                for line in entries:
                    entry = json.loads(line)
                    self._hold(ReceivedBatch(entry["department"], entry["idempotency_key"], entry["payload"]))
                held = [batch for positions in self._current.values() for batch in positions.values()]
                if len(entries) > 2 * len(held):
                    self._compact(journal, held)
            self._journal = journal
        return self

    @staticmethod
    def _compact(journal: Path, held: list[ReceivedBatch]) -> None:
        """Keep only the batches the departments hold now (replaced ones are history)."""
        temporary = journal.with_name(f".{journal.name}.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for batch in held:
                entry = {"department": batch.department, "idempotency_key": batch.idempotency_key}
                handle.write(json.dumps({**entry, "payload": batch.payload}, ensure_ascii=False) + "\n")
        os.replace(temporary, journal)

    def fail_next(
        self, count: int, status: int = HTTPStatus.SERVICE_UNAVAILABLE, *, retry_after: str | None = None
    ) -> None:
        """Answer the next ``count`` POSTs with ``status`` (plus Retry-After if given), then recover.

        503 by default: a department restarting its receiver is the failure deliveries meet most.
        """
        super().fail_next(count, status, retry_after=retry_after)

    def serve_login_page(self, count: int) -> None:
        """Answer the next ``count`` POSTs with HTTP 200 and an HTML login page, storing nothing."""
        with self._lock:
            self._login_pages = count

    def received(self, department: str) -> list[ReceivedBatch]:
        """The batches this server accepted for ``department`` since it started, in order."""
        with self._lock:
            return [batch for batch in self.batches if batch.department == department]

    def keys(self, department: str) -> list[str]:
        return [batch.idempotency_key for batch in self.received(department)]

    def rows(self, department: str) -> list[dict[str, Any]]:
        return [row for batch in self.received(department) for row in batch.rows]

    def holdings(self, department: str, report: str | None = None) -> list[ReceivedBatch]:
        """What the department holds now: the latest batch at each position of each report."""
        with self._lock:
            held = [
                batch
                for (dept, name), positions in sorted(self._current.items())
                if dept == department and (report is None or name == report)
                for _, batch in sorted(positions.items())
            ]
        return held

    def current_rows(self, department: str, report: str | None = None) -> list[dict[str, Any]]:
        return [row for batch in self.holdings(department, report) for row in batch.rows]

    def departments(self) -> list[str]:
        with self._lock:
            return sorted({department for department, _ in self._current})

    def write_received(self, folder: Path) -> dict[str, Path]:
        """Save each department's whole current state as ``<department>_received.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for department in self.departments():
            path = folder / f"{department}_received.json"
            body = [{"idempotency_key": b.idempotency_key, **b.payload} for b in self.holdings(department)]
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temporary.write_text(json_lines_array(body), encoding="utf-8")
            os.replace(temporary, path)
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
        with self._lock:
            if self._login_pages > 0:
                self._login_pages -= 1
                return Reply(HTTPStatus.OK, {}, raw=LOGIN_PAGE, content_type="text/html; charset=utf-8")
        key = request_idempotency_key(headers)
        if not key:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": f"the {IDEMPOTENCY_HEADER} header is required"})
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "body must be UTF-8 JSON"})
        if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object with a rows list"})
        problem = change_batch_problem(payload)
        if problem:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": problem})
        with self._lock:
            if (department, key) in self._accepted:
                return Reply(HTTPStatus.OK, acknowledgement("duplicate", key, self._accepted[department, key]))
            batch = ReceivedBatch(department, key, payload)
            if self._journal is not None:
                entry = {"department": department, "idempotency_key": key, "payload": payload}
                with self._journal.open("a", encoding="utf-8") as journal:
                    journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._hold(batch)
            self.batches.append(batch)
        return Reply(HTTPStatus.OK, acknowledgement("accepted", key, len(payload["rows"])))

    def _hold(self, batch: ReceivedBatch) -> None:
        """Take ``batch`` into the department's state (caller holds the lock)."""
        self._accepted[batch.department, batch.idempotency_key] = len(batch.rows)
        if batch.payload.get("kind") == CHANGE_KIND:
            self._apply_changes(batch)
            return
        positions = self._current.setdefault((batch.department, batch.report), {})
        positions[batch.position] = batch
        for position in [p for p in positions if p > batch.count]:
            del positions[position]

    def _apply_changes(self, batch: ReceivedBatch) -> None:
        """Apply a change batch to the report it names: the report's rows become one held batch."""
        target = str(batch.payload["applies_to"])
        key_column = str(batch.payload["key_column"])
        positions = self._current.setdefault((batch.department, target), {})
        rows = {str(row.get(key_column)): row for _, held in sorted(positions.items()) for row in held.rows}
        for change in batch.rows:
            key = str(change.get(key_column))
            if change.get(CHANGE_TYPE) in UPSERTS:
                rows[key] = dict(change[ROW])
            elif change.get(CHANGE_TYPE) == REMOVAL:
                rows.pop(key, None)
        payload = {
            "report": target,
            "batch": 1,
            "batch_count": 1,
            "rows": list(rows.values()),
            "changed_by": batch.report,
        }
        positions.clear()
        positions[1] = ReceivedBatch(batch.department, batch.idempotency_key, payload)


def change_batch_problem(payload: dict[str, Any]) -> str:
    """What makes a change batch unusable ('' when it is fine or not a change batch)."""
    if payload.get("kind") != CHANGE_KIND:
        return ""
    if not payload.get("applies_to") or not payload.get("key_column"):
        return "a change batch names the report it applies_to and its key_column"
    key_column = payload["key_column"]
    for number, change in enumerate(payload["rows"], 1):
        if not isinstance(change, dict) or key_column not in change or CHANGE_TYPE not in change:
            return f"change row {number} lacks {CHANGE_TYPE} or {key_column}"
        if change[CHANGE_TYPE] in UPSERTS and not isinstance(change.get(ROW), dict):
            return f"change row {number} ({change[CHANGE_TYPE]}) lacks the new row ({ROW})"
    return ""
