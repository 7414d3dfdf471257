"""Deliver report rows to a department's HTTP endpoint in batches, exactly once per content.

Each batch carries an idempotency key computed from the report name and the batch's rows, so the
same data sent again has the same key. The delivery log (a warehouse table) records every attempt;
a batch whose key was delivered before is skipped, so a rerun delivers nothing new, and the batches
a department missed while it was down go out on the next run once it is back.
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

from connectors.http import AttemptCallback, body_excerpt, make_session, request_with_retries
from hub_errors import DeliveryError

DELIVERY_LOG_TABLE = "hub_delivery_log"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DELIVERED = "delivered"
SKIPPED = "skipped"
FAILED = "failed"
RESPONSE_CHARS = 500


def idempotency_key(report: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """Same report and same rows give the same key, whichever run sends them."""
    digest = hashlib.sha256(report.encode("utf-8"))
    digest.update(b"\0")
    digest.update(json.dumps(list(rows), ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()[:40]


@dataclass(frozen=True)
class Batch:
    number: int
    total: int
    rows: Sequence[Mapping[str, Any]]
    key: str


def make_batches(report: str, rows: Sequence[Mapping[str, Any]], batch_size: int) -> list[Batch]:
    """Consecutive slices of ``rows``; callers sort rows stably so unchanged slices keep their keys."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    slices = [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)]
    return [Batch(number, len(slices), part, idempotency_key(report, part)) for number, part in enumerate(slices, 1)]


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


class DeliveryLog:
    """The delivery log in the warehouse; the table is created on first use if it is missing."""

    def __init__(self, engine: sa.Engine, *, table_name: str = DELIVERY_LOG_TABLE, schema: str | None = None):
        self.engine = engine
        self.table = delivery_log_table(sa.MetaData(schema=schema), table_name)
        try:
            self.table.create(engine, checkfirst=True)
        except sa.exc.DBAPIError:
            # Report assets run in parallel: another process may have created it in between.
            if not sa.inspect(engine).has_table(table_name, schema=schema):
                raise

    def delivered_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        query = sa.select(self.table.c.idempotency_key).where(
            self.table.c.outcome == DELIVERED, self.table.c.idempotency_key.in_(list(keys))
        )
        with self.engine.connect() as conn:
            return set(conn.scalars(query))

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
        with self.engine.begin() as conn:
            conn.execute(
                self.table.insert().values(
                    report=report,
                    run_id=run_id,
                    batch_no=batch.number,
                    batch_count=batch.total,
                    idempotency_key=batch.key,
                    url=url,
                    row_count=len(batch.rows),
                    attempt=attempt,
                    outcome=outcome,
                    http_status=http_status,
                    response=(response or "")[:RESPONSE_CHARS] or None,
                    logged_at=datetime.now(UTC),
                )
            )

    def attempt_logger(self, *, report: str, run_id: str, batch: Batch, url: str) -> AttemptCallback:
        """An ``on_attempt`` callback for request_with_retries that records every try of ``batch``."""

        def on_attempt(attempt_no: int, answer: requests.Response | BaseException) -> None:
            if isinstance(answer, requests.Response):
                outcome = DELIVERED if answer.ok else FAILED
                http_status: int | None = answer.status_code
                response = body_excerpt(answer)
            else:
                outcome, http_status, response = FAILED, None, f"{type(answer).__name__}: {answer}"
            self.record(
                report=report,
                run_id=run_id,
                batch=batch,
                url=url,
                attempt=attempt_no,
                outcome=outcome,
                http_status=http_status,
                response=response,
            )

        return on_attempt

    def entries(self, report: str | None = None) -> list[dict[str, Any]]:
        """The log as dictionaries, oldest first (for stewards and tests)."""
        query = sa.select(self.table).order_by(self.table.c.id)
        if report is not None:
            query = query.where(self.table.c.report == report)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


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
) -> PushResult:
    """POST ``rows`` to ``url`` in batches, skipping batches already delivered, logging every attempt.

    Retries (exponential backoff, Retry-After on 429/5xx) are those of connectors.http. When a
    batch still fails, the later batches are not tried (the department is down) and DeliveryError
    says how many remain; they go out on the next run.
    """
    log = engine if isinstance(engine, DeliveryLog) else DeliveryLog(engine)
    session = session or make_session()
    batches = make_batches(report, rows, batch_size)
    already = log.delivered_keys([batch.key for batch in batches])
    result = PushResult(report, url, batch_count=len(batches), row_count=len(rows))
    for batch in batches:
        if batch.key in already:
            log.record(
                report=report,
                run_id=run_id,
                batch=batch,
                url=url,
                attempt=0,
                outcome=SKIPPED,
                response="already delivered with this idempotency key",
            )
            result.skipped.append(batch.key)
            continue
        on_attempt = log.attempt_logger(report=report, run_id=run_id, batch=batch, url=url)
        payload = {
            "report": report,
            "run_id": run_id,
            "batch": batch.number,
            "batch_count": batch.total,
            "idempotency_key": batch.key,
            "rows": list(batch.rows),
        }
        try:
            request_with_retries(
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
            pending = batch.total - batch.number + 1
            raise DeliveryError(
                f"report {report}: batch {batch.number}/{batch.total} could not be delivered to {url} "
                f"({exc}). {len(result.delivered)} batches delivered in this run, {pending} pending; "
                "the pending batches are sent on the next run."
            ) from exc
        result.delivered.append(batch.key)
    return result
