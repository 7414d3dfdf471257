"""One hub run at a time per warehouse: the lock that keeps two runs from pushing the same batches.

A run takes the lock before it pulls, and keeps it until it has delivered; a second run waits for it
(up to a bound) and then says clearly that another run is in progress. The lock dies with its holder,
so a run killed with SIGKILL never leaves it behind:

- PostgreSQL: a session-level advisory lock (per schema) on a connection the holder keeps open;
- SQLite: an exclusive ``flock`` on a file beside the database file.

The same holder (one Dagster run) may take it again in the same process (the demo takes it for the
whole run, the run's steps take it again around their writes): that is a no-op. On PostgreSQL the
run's steps in other processes (Celery workers) find the lock held for their own run and go on under
it: the holder is recorded beside the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hub_errors import HubError

LOCK_NAME = "hub:run"
POLL_SECONDS = 0.25
DEFAULT_WAIT_SECONDS = 600.0
WAIT_ENV = "HUB_RUN_LOCK_WAIT"

_held: dict[str, str] = {}
_held_guard = threading.Lock()


class RunInProgress(HubError):
    """Another hub run holds this warehouse; this one waited as long as it may."""


def wait_seconds() -> float:
    """How long a run waits for another to finish (HUB_RUN_LOCK_WAIT, seconds)."""
    raw = os.environ.get(WAIT_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_WAIT_SECONDS
    except ValueError:
        return DEFAULT_WAIT_SECONDS


def holder_facts(holder: str) -> dict[str, Any]:
    return {"holder": holder, "pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat()}


def describe_holder(facts: dict[str, Any] | None) -> str:
    if not facts:
        return "another hub run"
    where = f"process {facts.get('pid')} on {facts.get('host')}, since {facts.get('since')}"
    return f"hub run {facts.get('holder')} ({where})"


def lock_key(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def run_lock(engine: sa.Engine, holder: str, *, wait: float | None = None) -> Iterator[None]:
    """Hold the warehouse's run lock for ``holder`` (a run id), waiting up to ``wait`` seconds for it."""
    key = lock_key(engine)
    with _held_guard:
        reentered = _held.get(key) == holder
    if reentered:
        yield
        return
    limit = wait_seconds() if wait is None else wait
    dialect = engine.dialect.name
    if dialect == "postgresql":
        acquired = _postgres_lock(engine, holder, limit)
    elif dialect == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        acquired = _file_lock(Path(str(engine.url.database)), holder, limit)
    else:
        acquired = _no_lock()
    with acquired:
        with _held_guard:
            _held[key] = holder
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)


def _give_up(facts: dict[str, Any] | None, limit: float) -> RunInProgress:
    return RunInProgress(
        f"{describe_holder(facts)} is using this warehouse; waited {limit:.0f} s for it to finish. "
        f"Let it finish, then run again (or wait longer with {WAIT_ENV}=SECONDS)."
    )


@contextmanager
def _no_lock() -> Iterator[None]:
    yield


@contextmanager
def _file_lock(database: Path, holder: str, limit: float) -> Iterator[None]:
    path = database.with_name(database.name + ".run-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + limit
    with path.open("a+", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    try:
                        facts = json.loads(handle.read() or "null")
                    except ValueError:
                        facts = None
                    raise _give_up(facts, limit) from None
                time.sleep(POLL_SECONDS)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(holder_facts(holder)))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


HOLDER_TABLE = "hub_run_lock_holder"


@contextmanager
def _postgres_lock(engine: sa.Engine, holder: str, limit: float) -> Iterator[None]:
    deadline = time.monotonic() + limit
    take = sa.text("select pg_try_advisory_lock(hashtext(current_schema() || :name))")
    release = sa.text("select pg_advisory_unlock(hashtext(current_schema() || :name))")
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        while not conn.execute(take, {"name": LOCK_NAME}).scalar_one():
            facts = _postgres_holder(conn)
            if facts is not None and facts.get("holder") == holder:
                yield  # held for this very run by the process that launched it: a step of it goes on
                return
            if time.monotonic() >= deadline:
                raise _give_up(facts, limit)
            time.sleep(POLL_SECONDS)
        try:
            _set_postgres_holder(conn, holder_facts(holder))
            yield
        finally:
            conn.execute(release, {"name": LOCK_NAME})


def _postgres_holder(conn: sa.Connection) -> dict[str, Any] | None:
    try:
        raw = conn.execute(sa.text(f"select facts from {HOLDER_TABLE} where id = 1")).scalar()
    except sa.exc.DBAPIError:
        return None
    return json.loads(raw) if raw else None


def _set_postgres_holder(conn: sa.Connection, facts: dict[str, Any]) -> None:
    """Note who holds the lock, for the message a waiting run gives (best effort, under the lock)."""
    conn.execute(sa.text(f"create table if not exists {HOLDER_TABLE} (id integer primary key, facts text)"))
    conn.execute(sa.text(f"delete from {HOLDER_TABLE} where id = 1"))
    conn.execute(sa.text(f"insert into {HOLDER_TABLE} (id, facts) values (1, :facts)"), {"facts": json.dumps(facts)})
