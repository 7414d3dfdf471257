"""One run at a time per warehouse: a second waits (bounded) and then says a run is in progress."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.run_lock import RunInProgress, run_lock
from pipelines.warehouse import create_warehouse_engine


def hold_in_thread(engine: sa.Engine, holder: str, release: threading.Event) -> threading.Event:
    taken = threading.Event()

    def hold() -> None:
        with run_lock(engine, holder):
            taken.set()
            release.wait(30)

    threading.Thread(target=hold, daemon=True).start()
    assert taken.wait(30)
    return taken


def check_second_run_waits_then_goes(engine: sa.Engine) -> None:
    release = threading.Event()
    hold_in_thread(engine, "run-A", release)
    refused = pytest.raises(RunInProgress, match=r"hub run run-A \(process \d+ .*waited 0 s.*HUB_RUN_LOCK_WAIT")
    with refused, run_lock(engine, "run-B", wait=0.3):
        pass
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    # The same run again (as its steps take it): no wait, no deadlock.
    with run_lock(engine, "run-B", wait=30), run_lock(engine, "run-B", wait=0):
        waited = time.monotonic() - started
    assert waited >= 0.3


def test_sqlite_run_lock(tmp_path: Path) -> None:
    check_second_run_waits_then_goes(create_warehouse_engine(f"sqlite:///{tmp_path / 'w.sqlite'}"))


def test_postgres_run_lock(pg_schema: tuple[str, str]) -> None:
    engine = sa.create_engine(pg_schema[1])
    try:
        check_second_run_waits_then_goes(engine)
    finally:
        engine.dispose()


def test_hub_demo_says_a_run_is_in_progress(
    tmp_path: Path, bench_small: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}"
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    monkeypatch.setenv("HUB_RUN_LOCK_WAIT", "0.3")
    release = threading.Event()
    hold_in_thread(create_warehouse_engine(url), "the-other-run", release)
    try:
        assert main(["demo", "--data", str(bench_small), "--out", str(tmp_path / "out")]) == 2
    finally:
        release.set()
    error = capsys.readouterr().err
    assert "hub run the-other-run" in error and "is using this warehouse" in error and "Traceback" not in error
    assert not (tmp_path / "out" / "summary.json").exists()
