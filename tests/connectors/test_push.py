"""Batched HTTP push: retries through connectors.http, exactly-once per content, delivery log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.push import UNACKNOWLEDGED, DeliveryLog, make_batches, push_batches
from connectors.simulated.department_inbox import DepartmentInbox
from hub_errors import DeliveryError

ROWS = [{"编号": f"P{n:03d}", "姓名": f"居民{n}", "身份证号": f"35060319500101{n:04d}"} for n in range(25)]


@pytest.fixture
def inbox() -> Iterator[DepartmentInbox]:
    with DepartmentInbox() as server:
        yield server


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")


def no_sleep(seconds: float) -> None:
    """Tests wait for nothing; the waits asked for are recorded by the caller's list instead."""


def test_keys_depend_on_content_and_on_what_the_department_holds_not_on_run() -> None:
    first = make_batches("civil/核对名单", ROWS, 10)
    again = make_batches("civil/核对名单", [dict(row) for row in ROWS], 10)
    assert [batch.key for batch in first] == [batch.key for batch in again]
    assert [len(batch.rows) for batch in first] == [10, 10, 5]
    changed = [*ROWS[:24], {**ROWS[24], "姓名": "改名"}]
    assert [b.content for b in make_batches("civil/核对名单", changed, 10)][:2] == [b.content for b in first][:2]
    assert make_batches("civil/核对名单", changed, 10)[2].content != first[2].content
    assert make_batches("grid/实有人口", ROWS, 10)[0].key != first[0].key
    after_change = make_batches("civil/核对名单", ROWS, 10, {3: "key-of-the-changed-batch"})
    assert after_change[2].content == first[2].content and after_change[2].key != first[2].key
    assert make_batches("civil/核对名单", [], 10)[0].rows == []


def test_failing_twice_then_succeeding_delivers_each_batch_once(
    inbox: DepartmentInbox, sqlite_engine: sa.Engine
) -> None:
    waits: list[float] = []
    inbox.fail_next(2, 503)
    result = push_batches(
        sqlite_engine,
        report="civil/核对名单",
        run_id="run-1",
        url=inbox.url_for("civil"),
        rows=ROWS,
        batch_size=10,
        backoff=0.01,
        sleep=waits.append,
    )
    keys = inbox.keys("civil")
    assert len(keys) == 3 and len(set(keys)) == 3
    assert result.delivered == keys
    assert inbox.rows("civil") == ROWS
    assert waits == [0.01, 0.02]
    log = DeliveryLog(sqlite_engine).entries("civil/核对名单")
    assert [(e["batch_no"], e["attempt"], e["outcome"], e["http_status"]) for e in log] == [
        (1, 1, "failed", 503),
        (1, 2, "failed", 503),
        (1, 3, "delivered", 200),
        (2, 1, "delivered", 200),
        (3, 1, "delivered", 200),
    ]


def test_rerun_of_same_content_delivers_nothing_new(inbox: DepartmentInbox, sqlite_engine: sa.Engine) -> None:
    url = inbox.url_for("grid")
    push_batches(sqlite_engine, report="grid/实有人口", run_id="run-1", url=url, rows=ROWS, batch_size=10)
    rerun = push_batches(sqlite_engine, report="grid/实有人口", run_id="run-2", url=url, rows=ROWS, batch_size=10)
    assert rerun.delivered == [] and len(rerun.skipped) == 3
    assert len(inbox.requests) == 3
    changed = [*ROWS[:24], {**ROWS[24], "姓名": "改名"}]
    third = push_batches(sqlite_engine, report="grid/实有人口", run_id="run-3", url=url, rows=changed, batch_size=10)
    assert len(third.delivered) == 1 and inbox.rows("grid")[-1]["姓名"] == "改名"


def test_throttling_honours_retry_after(inbox: DepartmentInbox, sqlite_engine: sa.Engine) -> None:
    waits: list[float] = []
    inbox.fail_next(1, 429, retry_after="3")
    push_batches(
        sqlite_engine,
        report="health/居民名单",
        run_id="r",
        url=inbox.url_for("health"),
        rows=ROWS[:5],
        backoff=0.01,
        sleep=waits.append,
    )
    assert waits == [3.0]
    assert len(inbox.keys("health")) == 1


def test_department_down_receives_everything_once_back(inbox: DepartmentInbox, sqlite_engine: sa.Engine) -> None:
    url = inbox.url_for("civil")
    inbox.fail_next(100, 503)
    with pytest.raises(DeliveryError, match=r"batch 1/3 .*3 pending"):
        push_batches(
            sqlite_engine,
            report="civil/核对名单",
            run_id="run-1",
            url=url,
            rows=ROWS,
            batch_size=10,
            attempts=2,
            sleep=no_sleep,
        )
    assert inbox.batches == []
    inbox.fail_next(0)
    result = push_batches(
        sqlite_engine,
        report="civil/核对名单",
        run_id="run-2",
        url=url,
        rows=ROWS,
        batch_size=10,
        sleep=no_sleep,
    )
    assert len(result.delivered) == 3
    assert inbox.rows("civil") == ROWS


def test_unreachable_endpoint_is_logged_and_raises(sqlite_engine: sa.Engine) -> None:
    with DepartmentInbox() as closed:
        url = closed.url_for("grid")
    with pytest.raises(DeliveryError, match="pending"):
        push_batches(
            sqlite_engine,
            report="grid/x",
            run_id="r",
            url=url,
            rows=ROWS[:2],
            attempts=2,
            timeout=1,
            sleep=no_sleep,
        )
    log = DeliveryLog(sqlite_engine).entries("grid/x")
    assert [entry["outcome"] for entry in log] == ["failed", "failed"]
    assert "ConnectionError" in log[0]["response"]


def test_login_page_with_200_is_not_a_delivery_and_the_next_run_sends_it(
    inbox: DepartmentInbox, sqlite_engine: sa.Engine
) -> None:
    url = inbox.url_for("civil")
    inbox.serve_login_page(1)
    with pytest.raises(DeliveryError, match=r"batch 1/3 .*not counted as delivered.*3 pending"):
        push_batches(sqlite_engine, report="civil/核对名单", run_id="run-1", url=url, rows=ROWS, batch_size=10)
    assert inbox.batches == []
    log = DeliveryLog(sqlite_engine).entries("civil/核对名单")
    assert [(e["outcome"], e["http_status"]) for e in log] == [(UNACKNOWLEDGED, 200)]
    assert "请登录" in log[0]["response"]
    rerun = push_batches(sqlite_engine, report="civil/核对名单", run_id="run-2", url=url, rows=ROWS, batch_size=10)
    assert len(rerun.delivered) == 3 and rerun.skipped == []
    assert inbox.current_rows("civil") == ROWS


def test_value_changed_and_changed_back_is_sent_again(inbox: DepartmentInbox, sqlite_engine: sa.Engine) -> None:
    url = inbox.url_for("civil")
    phone_a = ROWS
    phone_b = [*ROWS[:24], {**ROWS[24], "电话": "13900000002"}]
    for run, rows in enumerate([phone_a, phone_b, phone_a], 1):
        result = push_batches(
            sqlite_engine, report="civil/核对名单", run_id=f"r{run}", url=url, rows=rows, batch_size=10
        )
        assert len(result.delivered) == (3 if run == 1 else 1)
        assert inbox.current_rows("civil", "civil/核对名单") == rows
    unchanged = push_batches(sqlite_engine, report="civil/核对名单", run_id="r4", url=url, rows=phone_a, batch_size=10)
    assert unchanged.delivered == [] and len(inbox.batches) == 5


def test_send_acknowledged_but_not_recorded_is_confirmed_as_duplicate(
    inbox: DepartmentInbox, sqlite_engine: sa.Engine
) -> None:
    """A crash between the department's acknowledgement and the hub's record: the rerun sends the same
    key, the department answers duplicate, and nothing is stored twice."""
    url = inbox.url_for("grid")
    log = DeliveryLog(sqlite_engine)
    push_batches(log, report="grid/实有人口", run_id="r1", url=url, rows=ROWS, batch_size=10)
    with sqlite_engine.begin() as conn:
        conn.execute(log.state.delete())
    rerun = push_batches(log, report="grid/实有人口", run_id="r2", url=url, rows=ROWS, batch_size=10)
    assert len(rerun.delivered) == 3
    assert len(inbox.batches) == 3 and inbox.current_rows("grid") == ROWS
    assert [r.status for r in inbox.requests] == [200] * 6


def test_a_report_that_shrinks_or_empties_leaves_the_department_only_the_current_rows(
    inbox: DepartmentInbox, sqlite_engine: sa.Engine
) -> None:
    url = inbox.url_for("health")
    for run, rows in enumerate([ROWS, ROWS[:15], []], 1):
        push_batches(sqlite_engine, report="health/居民名单", run_id=f"r{run}", url=url, rows=rows, batch_size=10)
        assert inbox.current_rows("health") == rows


def test_delivery_log_on_postgresql(inbox: DepartmentInbox, pg_engine: sa.Engine) -> None:
    schema = f"delivery_push_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        log = DeliveryLog(pg_engine, schema=schema)
        url = inbox.url_for("health")
        push_batches(log, report="health/居民名单", run_id="run-1", url=url, rows=ROWS, batch_size=10)
        rerun = push_batches(log, report="health/居民名单", run_id="run-2", url=url, rows=ROWS, batch_size=10)
        assert len(rerun.skipped) == 3 and len(inbox.keys("health")) == 3
        assert [entry["outcome"] for entry in log.entries()] == ["delivered"] * 3 + ["skipped"] * 3
        changed = [*ROWS[:24], {**ROWS[24], "电话": "13900000002"}]
        push_batches(log, report="health/居民名单", run_id="run-3", url=url, rows=changed, batch_size=10)
        push_batches(log, report="health/居民名单", run_id="run-4", url=url, rows=ROWS, batch_size=10)
        assert inbox.current_rows("health") == ROWS and len(inbox.batches) == 5
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
