"""Deliver report rows to a department's HTTP endpoint in batches, each change exactly once.

A report is cut into batches by position. The warehouse keeps, per report and batch position, what
the department last acknowledged (``hub_delivery_state``): a batch whose content equals that is
skipped; any other is sent, so a value changed and changed back is sent again. Each send carries an
idempotency key made from the content and the key the department last acknowledged at that position:
a retry (or a rerun after a crash) of the same send has the same key, and a department that already
took it answers "duplicate" instead of storing it twice.

A batch counts as delivered only on the department's acknowledgement: HTTP 2xx with a JSON object
echoing the idempotency key and the number of rows accepted. Anything else (an HTML login page
answered with 200, a body for another key) is logged as ``unacknowledged`` and the batch stays
pending. The delivery log (``hub_delivery_log``) records every attempt for stewards.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
import sqlalchemy as sa

from connectors.http import body_excerpt, make_session, request_with_retries
from hub_errors import DeliveryError

DELIVERY_LOG_TABLE = "hub_delivery_log"
DELIVERY_STATE_TABLE = "hub_delivery_state"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DELIVERED = "delivered"
SKIPPED = "skipped"
FAILED = "failed"
UNACKNOWLEDGED = "unacknowledged"
RESPONSE_CHARS = 500


def content_hash(report: str, number: int, total: int, rows: Sequence[Mapping[str, Any]]) -> str:
    """What a batch says: the same report position with the same rows gives the same hash."""
    digest = hashlib.sha256(f"{report}\0{number}/{total}\0".encode())
    digest.update(json.dumps(list(rows), ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()[:40]


def idempotency_key(content: str, previous_key: str | None) -> str:
    """One send of ``content`` after the department acknowledged ``previous_key`` at that position.

    Retries and reruns repeat it; content that returns after a change gets a new key, since the key
    last acknowledged there has changed.
    """
    return hashlib.sha256(f"{content}\0{previous_key or ''}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Batch:
    number: int
    total: int
    rows: Sequence[Mapping[str, Any]]
    content: str
    key: str


def make_batches(
    report: str,
    rows: Sequence[Mapping[str, Any]],
    batch_size: int,
    acknowledged: Mapping[int, str] | None = None,
) -> list[Batch]:
    """Consecutive slices of ``rows`` (callers sort rows stably, so unchanged slices keep their hash).

    An empty report is one empty batch, so the department learns it has no rows now.
    ``acknowledged`` maps a batch position to the key the department last acknowledged there.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    slices = [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)] or [rows[:0]]
    previous = acknowledged or {}
    batches = []
    for number, part in enumerate(slices, 1):
        content = content_hash(report, number, len(slices), part)
        batches.append(Batch(number, len(slices), part, content, idempotency_key(content, previous.get(number))))
    return batches


def delivery_log_table(metadata: sa.MetaData, name: str = DELIVERY_LOG_TABLE) -> sa.Table:
    """One row per attempt (or per skip): which batch, where, how it went, what the server said."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("report", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("batch_count", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, index=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    )


def delivery_state_table(metadata: sa.MetaData, name: str = DELIVERY_STATE_TABLE) -> sa.Table:
    """Per report and batch position, what the department last acknowledged."""
    return sa.Table(
        name,
        metadata,
        sa.Column("report", sa.String(200), primary_key=True),
        sa.Column("batch_no", sa.Integer, primary_key=True),
        sa.Column("batch_count", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
    )


def delivery_tables(metadata: sa.MetaData, *, log_name: str = DELIVERY_LOG_TABLE) -> tuple[sa.Table, sa.Table]:
    """The delivery log and the delivery state, on ``metadata`` (the warehouse migrations create them)."""
    state_name = DELIVERY_STATE_TABLE if log_name == DELIVERY_LOG_TABLE else f"{log_name}_state"
    return delivery_log_table(metadata, log_name), delivery_state_table(metadata, state_name)


def check_acknowledgement(response: requests.Response, batch: Batch) -> str | None:
    """None when ``response`` is the department's acknowledgement of ``batch``; else what is wrong."""
    content_type = response.headers.get("Content-Type", "")
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} without the acknowledgement JSON (Content-Type {content_type!r})"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code} with JSON that is not an acknowledgement object"
    if body.get("idempotency_key") != batch.key:
        return f"HTTP {response.status_code} acknowledging another idempotency key"
    accepted = body.get("accepted")
    if not isinstance(accepted, int) or isinstance(accepted, bool) or accepted != len(batch.rows):
        return f"HTTP {response.status_code} acknowledging {accepted!r} rows of {len(batch.rows)}"
    return None


class DeliveryLog:
    """The delivery log and state in the warehouse; created on first use if missing (``create``)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        table_name: str = DELIVERY_LOG_TABLE,
        schema: str | None = None,
        create: bool = True,
    ):
        self.engine = engine
        metadata = sa.MetaData(schema=schema)
        self.table, self.state = delivery_tables(metadata, log_name=table_name)
        if create:
            for table in (self.table, self.state):
                try:
                    table.create(engine, checkfirst=True)
                except sa.exc.DBAPIError:
                    # Another process may have created it in between.
                    if not sa.inspect(engine).has_table(table.name, schema=schema):
                        raise

    def acknowledged(self, report: str) -> dict[int, tuple[str, str]]:
        """Per batch position of ``report``: (content hash, idempotency key) the department last acknowledged."""
        query = sa.select(self.state.c.batch_no, self.state.c.content_hash, self.state.c.idempotency_key).where(
            self.state.c.report == report
        )
        with self.engine.connect() as conn:
            return {int(no): (str(content), str(key)) for no, content, key in conn.execute(query)}

    def forget(self, report: str) -> int:
        """Drop what ``report``'s positions were last acknowledged with (the department's copy was changed
        another way, by a change batch): its next push sends every batch again."""
        with self.engine.begin() as conn:
            return int(conn.execute(self.state.delete().where(self.state.c.report == report)).rowcount or 0)

    def _log_row(
        self,
        *,
        report: str,
        run_id: str,
        batch: Batch,
        url: str,
        attempt: int,
        outcome: str,
        http_status: int | None,
        response: str | None,
    ) -> dict[str, Any]:
        return {
            "report": report,
            "run_id": run_id,
            "batch_no": batch.number,
            "batch_count": batch.total,
            "idempotency_key": batch.key,
            "url": url,
            "row_count": len(batch.rows),
            "attempt": attempt,
            "outcome": outcome,
            "http_status": http_status,
            "response": (response or "")[:RESPONSE_CHARS] or None,
            "logged_at": datetime.now(UTC),
        }

    def record(
        self,
        *,
        report: str,
        run_id: str,
        batch: Batch,
        url: str,
        attempt: int,
        outcome: str,
        http_status: int | None = None,
        response: str | None = None,
    ) -> None:
        row = self._log_row(
            report=report,
            run_id=run_id,
            batch=batch,
            url=url,
            attempt=attempt,
            outcome=outcome,
            http_status=http_status,
            response=response,
        )
        with self.engine.begin() as conn:
            conn.execute(self.table.insert().values(**row))

    def record_delivered(
        self, *, report: str, run_id: str, batch: Batch, url: str, attempt: int, http_status: int, response: str
    ) -> None:
        """Log the acknowledged attempt and make it what the department holds, in one transaction."""
        row = self._log_row(
            report=report,
            run_id=run_id,
            batch=batch,
            url=url,
            attempt=attempt,
            outcome=DELIVERED,
            http_status=http_status,
            response=response,
        )
        held = self.state.c
        with self.engine.begin() as conn:
            conn.execute(self.table.insert().values(**row))
            conn.execute(
                self.state.delete().where(
                    held.report == report, sa.or_(held.batch_no == batch.number, held.batch_no > batch.total)
                )
            )
            conn.execute(
                self.state.insert().values(
                    report=report,
                    batch_no=batch.number,
                    batch_count=batch.total,
                    content_hash=batch.content,
                    idempotency_key=batch.key,
                    row_count=len(batch.rows),
                    run_id=run_id,
                    url=url,
                    acknowledged_at=row["logged_at"],
                )
            )

    def attempt_logger(self, *, report: str, run_id: str, batch: Batch, url: str) -> AttemptRecorder:
        """An ``on_attempt`` callback for request_with_retries that records every failed try of ``batch``."""
        return AttemptRecorder(self, report=report, run_id=run_id, batch=batch, url=url)

    def entries(self, report: str | None = None) -> list[dict[str, Any]]:
        """The log as dictionaries, oldest first (for stewards and tests)."""
        query = sa.select(self.table).order_by(self.table.c.id)
        if report is not None:
            query = query.where(self.table.c.report == report)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


class AttemptRecorder:
    """Logs each failed try of one batch; a 2xx answer is logged by the caller once its acknowledgement
    is checked, so ``last`` keeps the number of the latest attempt."""

    def __init__(self, log: DeliveryLog, *, report: str, run_id: str, batch: Batch, url: str) -> None:
        self.log, self.report, self.run_id, self.batch, self.url = log, report, run_id, batch, url
        self.last = 0

    def __call__(self, attempt_no: int, answer: requests.Response | BaseException) -> None:
        self.last = attempt_no
        if isinstance(answer, requests.Response):
            if answer.ok:
                return
            http_status: int | None = answer.status_code
            response = body_excerpt(answer)
        else:
            http_status, response = None, f"{type(answer).__name__}: {answer}"
        self.log.record(
            report=self.report,
            run_id=self.run_id,
            batch=self.batch,
            url=self.url,
            attempt=attempt_no,
            outcome=FAILED,
            http_status=http_status,
            response=response,
        )


@dataclass
class PushResult:
    report: str
    url: str
    delivered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    batch_count: int = 0
    row_count: int = 0


def push_batches(
    engine: sa.Engine | DeliveryLog,
    *,
    report: str,
    run_id: str,
    url: str,
    rows: Sequence[Mapping[str, Any]],
    batch_size: int = 500,
    session: requests.Session | None = None,
    attempts: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float | tuple[float, float] = (5, 60),
    sleep: Callable[[float], None] = time.sleep,
    payload_extra: Mapping[str, Any] | None = None,
) -> PushResult:
    """POST ``rows`` to ``url`` in batches, skipping what the department already holds, logging every attempt.

    Retries (exponential backoff, Retry-After on 429/5xx) are those of connectors.http. When a
    batch still fails, or is answered without an acknowledgement, the later batches are not tried
    and DeliveryError says how many remain; they go out on the next run. ``payload_extra`` adds keys
    to each batch's JSON body (a change batch says which report it applies to).
    """
    log = engine if isinstance(engine, DeliveryLog) else DeliveryLog(engine)
    session = session or make_session()
    held = log.acknowledged(report)
    batches = make_batches(report, rows, batch_size, {number: key for number, (_, key) in held.items()})
    result = PushResult(report, url, batch_count=len(batches), row_count=len(rows))
    for batch in batches:
        if held.get(batch.number, ("", ""))[0] == batch.content:
            log.record(
                report=report,
                run_id=run_id,
                batch=batch,
                url=url,
                attempt=0,
                outcome=SKIPPED,
                response="the department already holds this content at this position",
            )
            result.skipped.append(batch.key)
            continue
        pending = batch.total - batch.number + 1
        payload = {
            **(payload_extra or {}),
            "report": report,
            "run_id": run_id,
            "batch": batch.number,
            "batch_count": batch.total,
            "idempotency_key": batch.key,
            "rows": list(batch.rows),
        }
        on_attempt = log.attempt_logger(report=report, run_id=run_id, batch=batch, url=url)
        try:
            response = request_with_retries(
                session,
                "POST",
                url,
                attempts=attempts,
                backoff=backoff,
                max_backoff=max_backoff,
                timeout=timeout,
                on_attempt=on_attempt,
                error_cls=DeliveryError,
                sleep=sleep,
                headers={IDEMPOTENCY_HEADER: batch.key, "Content-Type": "application/json; charset=utf-8"},
                data=json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"),
            )
        except DeliveryError as exc:
            raise DeliveryError(
                f"report {report}: batch {batch.number}/{batch.total} could not be delivered to {url} "
                f"({exc}). {len(result.delivered)} batches delivered in this run, {pending} pending; "
                "the pending batches are sent on the next run."
            ) from exc
        attempt_no = on_attempt.last or 1
        problem = check_acknowledgement(response, batch)
        if problem is not None:
            log.record(
                report=report,
                run_id=run_id,
                batch=batch,
                url=url,
                attempt=attempt_no,
                outcome=UNACKNOWLEDGED,
                http_status=response.status_code,
                response=body_excerpt(response),
            )
            raise DeliveryError(
                f"report {report}: batch {batch.number}/{batch.total} sent to {url} was answered {problem}, "
                "so the department did not confirm it and it is not counted as delivered (an HTML page "
                "usually means a login or proxy page stands in front of the inbox: check the address and "
                f"credentials). {len(result.delivered)} batches delivered in this run, {pending} pending; "
                "they are sent on the next run."
            )
        log.record_delivered(
            report=report,
            run_id=run_id,
            batch=batch,
            url=url,
            attempt=attempt_no,
            http_status=response.status_code,
            response=body_excerpt(response),
        )
        result.delivered.append(batch.key)
    return result
