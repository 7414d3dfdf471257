"""`hub demo` under faults, in child processes: killed with SIGKILL at chosen points then rerun, and
several runs at once against one fresh warehouse (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json
import signal
from collections import Counter
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
import sqlalchemy as sa

DEPARTMENTS = ("grid", "health", "civil")


def warehouse_url(tmp_path: Path, backend: str, pg_schema: tuple[str, str] | None) -> str:
    if backend == "postgresql":
        assert pg_schema is not None
        return pg_schema[1]
    return f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return warehouse_url(tmp_path, "postgresql", request.getfixturevalue("pg_schema"))
    return warehouse_url(tmp_path, "sqlite", None)


def assert_clean(result, demo_processes) -> None:
    assert result.returncode == 0, result.stderr[-2000:]
    for raw in demo_processes.raw_errors:
        assert raw not in result.stderr, result.stderr[-2000:]


def lineage(out: Path) -> list[dict[str, str]]:
    with (out / "lineage_residents.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def delivered_per_batch(url: str) -> Counter[tuple[str, int]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("select report, batch_no from hub_delivery_log where outcome = 'delivered'")
            ).all()
    finally:
        engine.dispose()
    return Counter((str(report), int(no)) for report, no in rows)


def journal(home: Path) -> list[dict]:
    path = home / ".hub" / "department-inbox" / "received.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_three_runs_at_once_on_a_fresh_warehouse_deliver_each_batch_once(
    tmp_path: Path, bench_small: Path, backend_url: str, demo_processes
) -> None:
    env = demo_processes.env(tmp_path, backend_url)
    outs = [tmp_path / f"out{n}" for n in range(3)]
    processes = [demo_processes.start(bench_small, out, env) for out in outs]
    results = [process.communicate(timeout=1800) for process in processes]
    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr[-2000:]
        for raw in demo_processes.raw_errors:
            assert raw not in stderr, stderr[-2000:]
    delivered = delivered_per_batch(backend_url)
    assert delivered and set(delivered.values()) == {1}, "every batch is delivered exactly once"
    received = journal(tmp_path)
    assert len(received) == len(delivered)
    assert len({(entry["department"], entry["idempotency_key"]) for entry in received}) == len(received)
    summaries = [json.loads((out / "summary.json").read_text(encoding="utf-8")) for out in outs]
    assert sorted(bool(summary["pushed"]) for summary in summaries) == [False, False, True]
    assert len({frozenset((r["source"], r["record_id"], r["person_id"]) for r in lineage(out)) for out in outs}) == 1


def history_and_lineage_ids(url: str) -> tuple[set[str], set[str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            history = set(conn.scalars(sa.text("select person_id from person_id_history")))
            has_lineage = sa.inspect(conn).has_table("person_lineage")
            current = set(conn.scalars(sa.text("select person_id from person_lineage"))) if has_lineage else set()
    finally:
        engine.dispose()
    return history, current


def test_killed_after_the_history_write_then_rerun_gives_every_record_its_id(
    tmp_path: Path, bench_small: Path, backend_url: str, demo_processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed = demo_processes.run(bench_small, tmp_path / "out1", demo_processes.env(
        tmp_path, backend_url, HUB_CRASH_AT="after_history"
    ))
    assert crashed.returncode == -signal.SIGKILL
    assert history_and_lineage_ids(backend_url) == (set(), set()), "history and lineage are written together or not"

    rerun = demo_processes.run(bench_small, tmp_path / "out2", demo_processes.env(tmp_path, backend_url))
    assert_clean(rerun, demo_processes)
    rows = lineage(tmp_path / "out2")
    summary = json.loads((tmp_path / "out2" / "summary.json").read_text(encoding="utf-8"))
    assert len(rows) == sum(summary["accepted"][source] for source in DEPARTMENTS)
    assert all(row["person_id"] for row in rows)
    history, current = history_and_lineage_ids(backend_url)
    assert history == current == {row["person_id"] for row in rows}, "no ghost ids in the history"

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    with dg.DagsterInstance.get() as instance:
        statuses = Counter(run.status for run in instance.get_runs())
    assert statuses == {dg.DagsterRunStatus.FAILURE: 1, dg.DagsterRunStatus.SUCCESS: 1}


def readable(path: Path) -> bool:
    try:
        openpyxl.load_workbook(path, read_only=True).close()
    except Exception:
        return False
    return True


def test_killed_while_saving_a_workbook_leaves_no_broken_file_and_the_department_keeps_its_whole_state(
    tmp_path: Path, bench_small: Path, demo_processes
) -> None:
    url = warehouse_url(tmp_path, "sqlite", None)
    monday = {"HUB_AS_OF": "2026-03-16"}  # every run writes workbooks: the rosters' and the grid's full day
    first = demo_processes.run(bench_small, tmp_path / "out", demo_processes.env(tmp_path, url, **monday))
    assert_clean(first, demo_processes)
    reports = tmp_path / "out" / "reports"
    before = {path.name: path.read_bytes() for path in reports.glob("*.xlsx")}
    state_before = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in reports.glob("*_received.json")}
    assert set(state_before) == {f"{d}_received.json" for d in DEPARTMENTS}

    crashed = demo_processes.run(bench_small, tmp_path / "out", demo_processes.env(
        tmp_path, url, HUB_CRASH_AT="workbook_written", **monday
    ))
    assert crashed.returncode == -signal.SIGKILL
    assert all(readable(path) for path in reports.glob("*.xlsx"))
    assert {path.name for path in reports.glob("*.xlsx")} == set(before)

    rerun = demo_processes.run(bench_small, tmp_path / "out", demo_processes.env(tmp_path, url, **monday))
    assert_clean(rerun, demo_processes)
    assert all(readable(path) for path in reports.glob("*.xlsx"))
    assert not list(reports.glob(".*.tmp")), "no temporary file is left behind"
    state_after = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in reports.glob("*_received.json")}
    assert state_after == state_before, "reports/*_received.json is each department's whole state, not a run's part"
