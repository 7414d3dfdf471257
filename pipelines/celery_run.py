"""The main job on Dagster's Celery executor: steps run in Celery worker processes fed by a broker.

The run's values pass between steps through the warehouse IO manager (every asset is a warehouse
table), and the Dagster instance (runs, events) is in PostgreSQL through dagster-postgres, so a step
can run in any worker that reaches the broker, the warehouse, the instance and the department systems.

`hub worker` starts one production worker; `hub demo --executor celery --workers N` starts N local
ones on a queue of its own (so no other worker takes its steps), and stops them when the run ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
from dagster._core.execution.api import execute_run
from dagster._core.execution.job_execution_result import JobExecutionResult
from dagster._core.instance.ref import InstanceRef

from hub_errors import HubError

BROKER_ENV = "HUB_BROKER_URL"
DEFAULT_BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
INSTANCE_DB_ENV = "HUB_DAGSTER_DATABASE_URL"
QUEUE_ENV = "HUB_CELERY_QUEUE"
DEFAULT_QUEUE = "hub"
RESULT_BACKEND = "rpc://"
CELERY_APP = "dagster_celery.app"
WORKER_MARK = "Celery worker"  # the metadata label dagster-celery gives the worker in its engine event
READY_SECONDS = 90.0
STOP_SECONDS = 15.0
PR_SET_PDEATHSIG = 1


class CeleryNotReady(HubError):
    """The Celery path lacks something it needs (instance database, shared warehouse, live workers)."""


def broker_url() -> str:
    return os.environ.get(BROKER_ENV) or DEFAULT_BROKER


def celery_job() -> dg.JobDefinition:
    """The main job with the Celery executor: the target a worker reconstructs each step from."""
    from dagster_celery import celery_executor

    from pipelines.definitions import build_definitions
    from pipelines.schedules import MAIN_JOB_NAME

    return build_definitions(executor=celery_executor).resolve_job_def(MAIN_JOB_NAME)


def require_shared_stores() -> None:
    """Workers are other processes: the instance must be in PostgreSQL and the warehouse a server."""
    if not os.environ.get(INSTANCE_DB_ENV):
        raise CeleryNotReady(
            f"--executor celery needs {INSTANCE_DB_ENV} (the Dagster instance in PostgreSQL, for example "
            "postgresql://user@host:5432/dagster): the workers record their steps' events there"
        )
    os.environ[INSTANCE_DB_ENV] = instance_database_url(os.environ[INSTANCE_DB_ENV])
    warehouse = os.environ.get("HUB_DATABASE_URL", "")
    if not warehouse or warehouse.startswith("sqlite"):
        raise CeleryNotReady(
            "--executor celery needs HUB_DATABASE_URL set to a PostgreSQL warehouse (for example "
            "postgresql+psycopg://user@host:5432/hub): the steps pass their tables to each other through it"
        )


def instance_database_url(url: str) -> str:
    """dagster-postgres speaks psycopg2: a postgresql URL with another driver (or none) is given that one."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise CeleryNotReady(f"{INSTANCE_DB_ENV} is not a database URL") from exc
    if parsed.get_backend_name() != "postgresql":
        raise CeleryNotReady(f"{INSTANCE_DB_ENV} must be a PostgreSQL URL (dagster-postgres), not {parsed.drivername}")
    return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def postgres_instance(home: Path) -> dg.DagsterInstance:
    """The Dagster instance under ``home`` with its runs and events in PostgreSQL. The URL stays in the
    environment (the instance reference sent to the workers names the variable, not the password)."""
    ref = InstanceRef.from_dir(
        str(home), overrides={"storage": {"postgres": {"postgres_url": {"env": INSTANCE_DB_ENV}}}}
    )
    return dg.DagsterInstance.from_ref(ref)


def executor_config(queue: str) -> dict[str, object]:
    return {"broker": broker_url(), "backend": RESULT_BACKEND, "config_source": {"task_default_queue": queue}}


def configured_executor() -> dg.ExecutorDefinition:
    """The Celery executor on HUB_BROKER_URL and the queue of HUB_CELERY_QUEUE (`hub worker`'s default)."""
    from dagster_celery import celery_executor

    return celery_executor.configured(executor_config(os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE))


def execute_on_celery(
    instance: dg.DagsterInstance,
    *,
    run_id: str,
    queue: str,
    tags: Mapping[str, str],
    run_config: Mapping[str, object],
) -> JobExecutionResult:
    """Run the main job with its steps sent to ``queue``; returns when every step has ended."""
    recon = dg.reconstructable(celery_job)
    job = recon.get_definition()
    config = {**run_config, "execution": {"config": executor_config(queue)}}
    run = instance.create_run_for_job(
        job_def=job,
        run_id=run_id,
        run_config=config,
        tags=dict(tags),
        job_code_origin=recon.get_python_origin(),
    )
    with warnings.catch_warnings():
        # dagster-celery registers its step task again for every step it submits; harmless
        warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
        return execute_run(recon, run, instance)


def steps_by_worker(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    """{worker name: steps run} from the run's event log (dagster-celery notes the worker of each step)."""
    counts: Counter[str] = Counter()
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.event_specific_data if event is not None else None
        metadata = getattr(data, "metadata", None) or {}
        worker = metadata.get(WORKER_MARK)
        if worker is not None and event is not None and event.step_key:
            counts[str(getattr(worker, "value", worker))] += 1
    return dict(sorted(counts.items()))


def worker_config_module(folder: Path, queue: str) -> Path:
    """The `dagster_celery_config` module dagster-celery's app reads: broker, backend and queue."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "broker_url": broker_url(),
        "result_backend": RESULT_BACKEND,
        "task_default_queue": queue,
        "worker_prefetch_multiplier": 1,
    }
    (folder / "dagster_celery_config.py").write_text(
        "".join(f"{key} = {value!r}\n" for key, value in settings.items()), encoding="utf-8"
    )
    return folder


def worker_argv(queue: str, name: str, concurrency: int, loglevel: str = "INFO") -> list[str]:
    """A Celery worker on dagster-celery's app, with the hub's definitions imported before it forks."""
    return [
        sys.executable, "-m", "celery", "-A", CELERY_APP, "worker",
        "--queues", queue, "--hostname", name, "--concurrency", str(concurrency),
        "--prefetch-multiplier", "1", "--include", "pipelines.celery_run,pipelines.definitions",
        "--loglevel", loglevel, "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def run_worker(*, queue: str, name: str, concurrency: int, loglevel: str) -> int:
    """`hub worker`: become a Celery worker taking the hub's steps from ``queue``."""
    folder = worker_config_module(Path(tempfile.mkdtemp(prefix="hub-celery-")), queue)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    argv = worker_argv(queue, name, concurrency, loglevel)
    os.execv(argv[0], argv)
    return 0  # not reached


def worker_name(index: int) -> str:
    return f"hub-worker-{index}@{socket.gethostname()}"


@contextmanager
def local_workers(count: int, queue: str, log_dir: Path) -> Iterator[list[str]]:
    """Start ``count`` `hub worker` processes on ``queue``, wait until each answers, stop them all after
    (SIGTERM to each one's process group, SIGKILL if it lingers), whatever happens in between."""
    log_dir.mkdir(parents=True, exist_ok=True)
    names = [worker_name(i) for i in range(1, count + 1)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in names:
            log = (log_dir / f"{name.split('@')[0]}.log").open("wb")
            command = [sys.executable, "-m", "pipelines.cli", "worker", "--queue", queue, "--name", name]
            processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
                                 start_new_session=True, preexec_fn=die_with_parent)
            )  # fmt: skip
            log.close()
        wait_until_ready(names, processes, log_dir)
        yield names
    finally:
        stop_workers(processes)


def die_with_parent() -> None:
    """In the worker before it starts: SIGTERM it when the demo's process dies, even by SIGKILL (Linux)."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_until_ready(names: list[str], processes: list[subprocess.Popen[bytes]], log_dir: Path) -> None:
    from celery import Celery

    app = Celery("hub-ping", broker=broker_url(), backend=RESULT_BACKEND)
    deadline = time.monotonic() + READY_SECONDS
    waiting = set(names)
    try:
        while waiting:
            for process, name in zip(processes, names, strict=True):
                if process.poll() is not None:
                    raise CeleryNotReady(
                        f"Celery worker {name} exited with code {process.returncode} before it was ready; "
                        f"its log is in {log_dir}"
                    )
            try:
                replies = app.control.ping(destination=sorted(waiting), timeout=1.0)
            except OSError as exc:
                raise CeleryNotReady(f"Celery broker unreachable ({BROKER_ENV}): {exc}") from exc
            for reply in replies:
                waiting -= set(reply)
            if waiting and time.monotonic() > deadline:
                raise CeleryNotReady(
                    f"Celery workers {sorted(waiting)} did not answer within {READY_SECONDS:.0f} s; logs in {log_dir}"
                )
    finally:
        app.close()


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        signal_group(process, signal.SIGKILL)
        process.wait()


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the worker's own process group (the worker and its pool children), started by us."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
