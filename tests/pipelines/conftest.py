"""Fixtures for the pipeline tests: `hub demo` as a separate process (crash and concurrency tests)
and fresh PostgreSQL schemas of this suite's own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

RAW_ERRORS = ("Traceback", "already exists", "UniqueViolation", "IntegrityError", "database is locked")


def demo_env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env.update(
        HUB_HOME=str(home / ".hub"),
        DAGSTER_HOME=str(home / ".dagster"),
        HUB_DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def start_demo(data: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "demo", "--data", str(data), "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_demo_process(
    data: Path, out: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    process = start_demo(data, out, env)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@contextmanager
def postgres_schema(pg_engine: sa.Engine, prefix: str = "hub_faults") -> Iterator[tuple[str, str]]:
    """A fresh schema on the local PostgreSQL, dropped afterwards: (schema, warehouse URL)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = pg_engine.url.set(query={"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        yield schema, url
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))


class DemoProcesses:
    """`hub demo` in child processes, for tests that kill it or run several at once."""

    env = staticmethod(demo_env)
    start = staticmethod(start_demo)
    run = staticmethod(run_demo_process)
    raw_errors = RAW_ERRORS


@pytest.fixture
def demo_processes() -> type[DemoProcesses]:
    return DemoProcesses


@pytest.fixture
def pg_schema(pg_engine: sa.Engine) -> Iterator[tuple[str, str]]:
    with postgres_schema(pg_engine) as made:
        yield made
