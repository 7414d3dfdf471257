"""`hub demo --executor celery`: the main job's steps in real Celery workers (local RabbitMQ), the
Dagster instance and the warehouse in PostgreSQL, against the same data run in one process."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.celery_run import CeleryNotReady, instance_database_url, require_shared_stores
from tests.conftest import make_bench
from tests.pipelines.conftest import demo_env, postgres_schema

BROKER = os.environ.get("HUB_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")


def residents(path: Path) -> set[tuple[str, str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return {(row["source"], row["record_id"], row["person_id"]) for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def bench_2k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2k bench (as ../shared/bench makes it): about 4,000 resident records."""
    return make_bench(tmp_path_factory.mktemp("bench_2k"), 2000, 7)


@pytest.fixture
def instance_database(pg_engine: sa.Engine) -> Iterator[str]:
    """A database of its own for the Dagster instance (dagster-postgres makes its tables there)."""
    name = f"hub_celery_{uuid.uuid4().hex[:8]}"
    admin = pg_engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    try:
        yield pg_engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database "{name}" with (force)'))


def test_celery_run_gives_the_same_persons_with_steps_on_both_workers(
    bench_2k: Path, tmp_path: Path, pg_engine: sa.Engine, instance_database: str
) -> None:
    with postgres_schema(pg_engine, prefix="hub_celery") as (_, warehouse_url):
        env = demo_env(
            tmp_path / "celery",
            warehouse_url,
            HUB_DAGSTER_DATABASE_URL=instance_database,
            HUB_BROKER_URL=BROKER,
        )
        command = [sys.executable, "-m", "pipelines.cli", "demo", "--data", str(bench_2k)]
        local = tmp_path / "local"
        in_process = subprocess.Popen(
            [*command, "--out", str(tmp_path / "out-local")],
            env=demo_env(local, f"sqlite:///{local / 'warehouse.sqlite'}"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            celery = subprocess.run(
                [*command, "--out", str(tmp_path / "out-celery"), "--executor", "celery", "--workers", "2"],
                env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            _, local_errors = in_process.communicate(timeout=300)
        finally:
            in_process.kill()
        assert celery.returncode == 0, celery.stderr[-3000:]
        assert in_process.returncode == 0, local_errors[-3000:]

    summary = json.loads((tmp_path / "out-celery" / "summary.json").read_text(encoding="utf-8"))
    assert summary["executor"] == "celery"
    host = socket.gethostname()
    assert set(summary["steps_by_worker"]) == {f"hub-worker-1@{host}", f"hub-worker-2@{host}"}
    assert all(steps > 0 for steps in summary["steps_by_worker"].values())
    local_summary = json.loads((tmp_path / "out-local" / "summary.json").read_text(encoding="utf-8"))
    assert local_summary["executor"] == "in_process"
    assert sum(summary["steps_by_worker"].values()) == sum(local_summary["steps_by_worker"].values())
    assert summary["persons"] == local_summary["persons"]
    assert residents(tmp_path / "out-celery" / "lineage_residents.csv") == residents(
        tmp_path / "out-local" / "lineage_residents.csv"
    )
    with sa.create_engine(instance_database).connect() as conn:
        status = conn.execute(sa.text("select status from runs where run_id = :id"), {"id": summary["dagster_run_id"]})
        assert status.scalar_one() == "SUCCESS", "the run is in the instance's PostgreSQL database"
    run_id = summary["dagster_run_id"]
    stored = (tmp_path / "celery" / ".dagster" / "storage" / run_id).rglob("*")
    pickled = [path for path in stored if path.is_file() and "compute_logs" not in path.parts]
    assert pickled == [], "no step output pickled to disk: the steps pass tables through the warehouse"
    logs = (tmp_path / "celery" / ".hub" / "workers").glob("*.log")
    assert len(list(logs)) == 2
    stray = subprocess.run(["pgrep", "-f", f"hub-demo-{summary['dagster_run_id'][:8]}"], capture_output=True)
    assert stray.returncode == 1, "the demo's workers were stopped"


def test_celery_needs_the_instance_database_and_a_server_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_DAGSTER_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with pytest.raises(CeleryNotReady, match="HUB_DAGSTER_DATABASE_URL"):
        require_shared_stores()
    monkeypatch.setenv("HUB_DAGSTER_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dagster")
    monkeypatch.setenv("HUB_DATABASE_URL", "sqlite:////tmp/warehouse.sqlite")
    with pytest.raises(CeleryNotReady, match="HUB_DATABASE_URL"):
        require_shared_stores()
    with pytest.raises(CeleryNotReady, match="PostgreSQL"):
        instance_database_url("mysql://user@host/dagster")
    assert instance_database_url("postgresql+psycopg://u@h:5432/d").startswith("postgresql+psycopg2://u@h:5432/d")


def test_a_runs_steps_in_other_processes_go_on_under_its_lock_and_other_runs_wait(pg_engine: sa.Engine) -> None:
    """The demo holds the warehouse's run lock for its run; a worker's step of that run (another process)
    goes on under it, a step of any other run waits and gives up clearly."""
    from pipelines.run_lock import run_lock

    with postgres_schema(pg_engine, prefix="hub_celery_lock") as (_, url):
        engine = sa.create_engine(url)
        probe = (
            "import sqlalchemy as sa, sys\n"
            "from pipelines.run_lock import run_lock, RunInProgress\n"
            "try:\n"
            f"    with run_lock(sa.create_engine({url!r}), sys.argv[1], wait=1.0):\n"
            "        print('ran')\n"
            "except RunInProgress as exc:\n"
            "    print('waited:', exc)\n"
        )
        with run_lock(engine, "run-A"):
            same = subprocess.run([sys.executable, "-c", probe, "run-A"], capture_output=True, text=True, timeout=60)
            other = subprocess.run([sys.executable, "-c", probe, "run-B"], capture_output=True, text=True, timeout=60)
        engine.dispose()
    assert same.stdout.strip() == "ran", same.stderr[-2000:]
    assert other.stdout.startswith("waited:") and "run-A" in other.stdout, other.stderr[-2000:]


def test_hub_executor_celery_gives_every_job_the_celery_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.definitions import build_definitions, default_executor

    monkeypatch.delenv("HUB_EXECUTOR", raising=False)
    assert default_executor() is None
    monkeypatch.setenv("HUB_EXECUTOR", "celery")
    monkeypatch.setenv("HUB_CELERY_QUEUE", "hub-city")
    executor = default_executor()
    assert executor is not None and executor.name == "celery"
    job = build_definitions(executor=executor).resolve_job_def("hub_all")
    assert job.executor_def.name == "celery"
