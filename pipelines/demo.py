"""`hub demo`: the whole hub, end to end, on simulated department systems.

It starts the simulated grid, health, civil-affairs, mini-program and department-inbox systems on
127.0.0.1, points the Dagster definitions at them, materializes every asset through Dagster (the
run is then visible in `dagster dev`), and writes the demo's output files.

One demo at a time per warehouse: a second one waits for the warehouse's run lock (bounded) and
then says that a run is in progress. The departments' inbox keeps what it received under
HUB_HOME, so `reports/*_received.json` is each department's whole state, not one run's part.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import execute_run
from dagster._core.execution.job_execution_result import JobExecutionResult
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage

from connectors.simulated.department_inbox import DepartmentInbox
from connectors.simulated.seed import write_synthetic
from connectors.simulated.systems import check_data_dir, start_simulated_systems
from connectors.workbook import neutralise_formula
from hub_errors import HubError
from pipelines.alerts import as_csv_frame, empty_alerts
from pipelines.assets.raw import RAW_SOURCES
from pipelines.faults import crash_point
from pipelines.metadata import hide_credentials, mask_text
from pipelines.review import REVIEW_BOOK, ReviewApplied, export_review, import_steward_inbox, steward_inbox
from pipelines.run_mode import MODE_TAG, default_mode
from pipelines.settings import SystemAddresses, dagster_home, default_database_url, hub_home
from pipelines.warehouse import Warehouse

MAIN_JOB = "hub_all"
PID_TAG = "hub/pid"
# The Dagster UI's Overview timeline lists a run under the job of its code location by this tag, which a
# run launched from the UI gets by itself: workspace.yaml names the location "hub".
REPOSITORY_TAG = ".dagster/repository"
CODE_LOCATION = "__repository__@hub"
HOST_TAG = "hub/host"
DAGSTER_CONFIG = """telemetry:
  enabled: false
# Runs whose worker dies stay STARTED unless something notices: the daemon (make ui) fails runs that
# never start and runs over their dagster/max_runtime tag; `hub demo` fails its own dead runs.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 60
# District backfills (pipelines/assets/districts.py) cannot starve the daily runs: at most one backfill
# run in progress at a time (the others wait in the queue), and at most two district linking steps
# across all runs (the district_linking pool).
concurrency:
  runs:
    tag_concurrency_limits:
      - key: dagster/backfill
        limit: 1
  pools:
    default_limit: 2
"""


RunResult = dg.ExecuteInProcessResult | JobExecutionResult


class DemoFailed(HubError):
    """A step of the demo's Dagster run failed."""


def demo_data(data: Path | None, people: int, seed: int) -> Path:
    """The folder the simulated systems serve: DIR as given, or the seeded synthetic city."""
    if data is None:
        data = hub_home() / f"demo-data-{people}-{seed}"
        if not (data / "grid_residents.csv").exists():
            write_synthetic(data, people=people, seed=seed)
    return data.resolve()


SYSTEMS_STATE = "systems.json"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


@contextmanager
def simulated_department_systems(
    data: Path, *, stable: bool = False
) -> Iterator[tuple[SystemAddresses, DepartmentInbox]]:
    """Start every simulated department system on 127.0.0.1 and export their addresses.

    ``stable`` (`hub systems`): the ports and the grid token of the previous start are reused (kept,
    owner-only, in HUB_HOME/simulated/systems.json), so a `make ui` started against them keeps working
    across a restart."""
    home = hub_home()
    systems_dir = home / "systems"
    shutil.rmtree(systems_dir, ignore_errors=True)
    community_inbox = home / "community-inbox"
    community_inbox.mkdir(parents=True, exist_ok=True)
    state_file = home / "simulated" / SYSTEMS_STATE
    previous: dict = {}
    if stable and state_file.is_file():
        try:
            previous = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
    token = str(previous.get("token") or secrets.token_urlsafe(16))
    with start_simulated_systems(
        data, systems_dir, token=token, history_dir=home / "simulated", ports=previous.get("ports") or {}
    ) as systems:
        inbox = systems.department_inbox
        assert inbox is not None and systems.department_inbox_url is not None
        addresses = SystemAddresses(
            grid_url=systems.grid_url,
            grid_token=token,
            miniprogram_url=systems.miniprogram_url,
            health_db_url=systems.health_db_url,
            health_table=systems.health_table,
            civil_inbox=str(systems.civil_inbox_dir),
            department_inbox_url=systems.department_inbox_url,
            community_inbox=str(community_inbox),
        )
        if stable:
            ports = {
                "grid": port_of(systems.grid_url),
                "miniprogram": port_of(systems.miniprogram_url),
                "department_inbox": port_of(systems.department_inbox_url),
            }
            write_private_file(state_file, json.dumps({"ports": ports, "token": token}))
        addresses.export()
        yield addresses, inbox


EXECUTORS = ("in_process", "celery")


def run_demo(
    *,
    data: Path | None,
    people: int,
    seed: int,
    out: Path,
    full: bool = False,
    executor: str = "in_process",
    workers: int = 2,
) -> int:
    started = time.perf_counter()
    began = time.time() - 1
    if data is not None:
        check_data_dir(data)
    if executor == "celery":
        from pipelines.celery_run import require_shared_stores

        require_shared_stores()
    os.environ.setdefault("HUB_DATABASE_URL", default_database_url())
    warehouse = Warehouse.from_url(os.environ["HUB_DATABASE_URL"])
    run_id = str(uuid.uuid4())
    with warehouse.run_lock(run_id):
        data = demo_data(data, people, seed)
        out = out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("DAGSTER_HOME", str(dagster_home()))
        prepare_dagster_home(Path(os.environ["DAGSTER_HOME"]))
        os.environ["HUB_OUT"] = str(out)
        instance = demo_instance(executor)
        fail_dead_runs(instance)
        mode = default_mode(warehouse, full=full)
        reviews = import_steward_inbox(warehouse, steward_inbox(hub_home()))
        for name, outcome in reviews:
            print(f"steward inbox: {outcome.line(name) if isinstance(outcome, ReviewApplied) else outcome}")
        with simulated_department_systems(data) as (_, inbox):
            inbox.keep_state_in(hub_home() / "department-inbox")
            tags = {
                PID_TAG: str(os.getpid()),
                HOST_TAG: socket.gethostname(),
                MODE_TAG: mode,
                REPOSITORY_TAG: CODE_LOCATION,
            }
            run_config = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}, "progress": {}}}
            print(f"hub demo: {mode} run on {data}; each step as it finishes:", file=sys.stderr, flush=True)
            by_worker: dict[str, int] = {}
            if executor == "celery":
                result, by_worker = run_on_local_workers(instance, run_id, workers, tags, run_config)
            else:
                result = run_in_process(instance, run_id, tags, run_config)
                by_worker = {f"in_process@{socket.gethostname()}": steps_run(result)}
            if not result.success:
                raise DemoFailed(describe_failure(result))
            crash_point("before_complete_run")
            warehouse.complete_run(run_id, mode)
            held = inbox.write_received(out / "reports")
            pushed = {dept: held[dept] for dept in sorted({batch.department for batch in inbox.batches})}
        summary = {"mode": mode, **export_outputs(warehouse, out, pushed, run_books(result))}
        summary["department_state"] = {dept: path.name for dept, path in held.items()}
        summary["deliveries"] = run_deliveries(result)
        summary["change_workbooks"] = sorted(
            name for delivery in summary["deliveries"].values() for name in delivery["change_workbooks"]
        )
        summary["held_back"] = held_back(warehouse, run_id)
        summary["forms"] = run_forms(result)
        summary["review"] = review_summary(warehouse, out)
        summary["returned_to_communities"] = returned_workbooks(warehouse, run_id)
        summary["rosters"] = rosters_written(out, began)
        summary["community_returns"] = community_returns_of(result)
    summary["executor"] = executor
    summary["steps_by_worker"] = by_worker
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["dagster_run_id"] = result.run_id
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    print_summary(summary, out)
    return 0


def demo_instance(executor: str) -> dg.DagsterInstance:
    """The Dagster instance of DAGSTER_HOME; for Celery, with runs and events in PostgreSQL."""
    if executor == "celery":
        from pipelines.celery_run import postgres_instance

        return postgres_instance(Path(os.environ["DAGSTER_HOME"]))
    return dg.DagsterInstance.get()


def run_in_process(
    instance: dg.DagsterInstance, run_id: str, tags: dict[str, str], run_config: dict
) -> JobExecutionResult:
    """Run the main job in this process, step after step. Not `execute_in_process`: that keeps every
    step's output in memory for the result (all the city's tables at once); here each step's tables go
    to the warehouse and are freed when the step ends, so the peak is one step's, not the run's. The
    definitions are built now, so they read this run's environment (warehouse URL, systems)."""
    from pipelines.definitions import build_definitions

    job = build_definitions().resolve_job_def(MAIN_JOB)
    config = {**run_config, "execution": {"config": {"in_process": {}}}}
    with event_log_held_open(instance, run_id):
        run = instance.create_run_for_job(job_def=job, run_id=run_id, run_config=config, tags=tags)
        return execute_run(InMemoryJob(job), run, instance)


@contextmanager
def event_log_held_open(instance: dg.DagsterInstance, run_id: str) -> Iterator[None]:
    """Keep the run's SQLite event log files (its shard and the cross-run index) open for the run.

    Dagster's SQLite storage opens and closes a connection for every event (a run has hundreds); the
    close of the last connection to a WAL database checkpoints it, a synced write of its own each
    time. With one more connection open that checkpoint waits until the run ends (SQLite's automatic
    one still runs as the log grows); every event is committed and synced as before."""
    storage = instance.event_log_storage
    if not isinstance(storage, SqliteEventLogStorage):
        yield
        return
    with storage.run_connection(run_id):  # creates the run's shard (WAL) through Dagster's own set-up
        pass
    held = []
    try:
        for shard in (INDEX_SHARD_NAME, run_id):
            connection = sqlite3.connect(storage.path_for_shard(shard))
            held.append(connection)
            connection.execute("SELECT count(*) FROM sqlite_master").fetchall()  # maps the WAL index: a reader
        yield
    finally:
        for connection in held:
            connection.close()


def run_on_local_workers(
    instance: dg.DagsterInstance, run_id: str, workers: int, tags: dict[str, str], run_config: dict
) -> tuple[RunResult, dict[str, int]]:
    """Start ``workers`` Celery workers on a queue of this run's own, run the job on them, stop them."""
    from pipelines.celery_run import execute_on_celery, local_workers, steps_by_worker

    queue = f"hub-demo-{run_id[:8]}"
    with local_workers(workers, queue, hub_home() / "workers"):
        result = execute_on_celery(instance, run_id=run_id, queue=queue, tags=tags, run_config=run_config)
    return result, steps_by_worker(instance, run_id)


def steps_run(result: RunResult) -> int:
    return sum(1 for event in result.all_events if event.is_step_start)


class StopRequested(Exception):
    """SIGTERM or SIGHUP asked `hub systems` to stop (Ctrl-C raises KeyboardInterrupt)."""


def _stop(signum: int, _frame: object) -> None:
    raise StopRequested(signal.Signals(signum).name)


def write_private_file(path: Path, text: str) -> None:
    """Write ``path`` readable and writable by its owner only (0600): it holds a bearer token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        handle.write(text)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark as failed the demo runs left STARTED by a process on this host that no longer exists
    (killed mid-run): run monitoring cannot see into an in-process run, so the next demo does it."""
    statuses = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]
    host = socket.gethostname()
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=statuses, tags={HOST_TAG: host})):
        pid = run.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            instance.report_run_failed(
                run, message=f"the process running it ({pid} on {host}) ended without finishing the run"
            )
            failed.append(run.run_id)
    return failed


def serve_systems(*, data: Path | None, people: int, seed: int, out: Path, env_file: Path) -> int:
    """Keep the simulated systems running for `make ui`, their addresses in `env_file`, until stopped.

    The file holds the grid system's bearer token: it is written for the owner only and removed
    however the command ends (Ctrl-C, SIGTERM, SIGHUP, an error).
    """
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with simulated_department_systems(demo_data(data, people, seed), stable=True) as (addresses, _):
            lines = [f"{var}={getattr(addresses, attr)}" for attr, var in SystemAddresses.ENV.items()]
            lines += [f"HUB_OUT={out.resolve()}", f"HUB_DATABASE_URL={default_database_url()}"]
            try:
                write_private_file(env_file, "\n".join(lines) + "\n")
                print(f"simulated department systems running; addresses in {env_file} (owner only):")
                print("\n".join(f"  {hide_credentials(line)}" for line in lines if "TOKEN" not in line), flush=True)
                print("run `make ui` in another terminal to materialize from the Dagster UI; Ctrl-C stops them")
                while True:
                    time.sleep(3600)
            finally:
                env_file.unlink(missing_ok=True)
    except (KeyboardInterrupt, StopRequested):
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def prepare_dagster_home(folder: Path) -> None:
    """A local Dagster instance (SQLite) that `make ui` shows too: no telemetry leaves the machine, and
    run monitoring is on (added to a dagster.yaml written before it was)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_CONFIG, encoding="utf-8")
    elif "run_monitoring" not in config.read_text(encoding="utf-8"):
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + DAGSTER_CONFIG[DAGSTER_CONFIG.index("# Runs whose") :])
    elif "concurrency:" not in config.read_text(encoding="utf-8"):
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + DAGSTER_CONFIG[DAGSTER_CONFIG.index("# District backfills") :])


def describe_failure(result: RunResult) -> str:
    """The failed steps and their errors, for a steward, with where to look further."""
    lines = [f"Dagster run {result.run_id} failed:"]
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            message = error.message.strip() if error else "unknown error"
            cause = error.cause.message.strip() if error and error.cause else ""
            lines.append(f"  step {event.step_key}: {mask_text(cause or message)}")
    lines.append("Open the run in the Dagster UI (make ui) for the full log.")
    return "\n".join(lines)


def run_books(result: RunResult) -> dict[str, dict[str, dict]]:
    """Per dataset and source, the accounting the run's blocking check verified (received = accepted
    + quarantined, superseded copies beside), and per source the files its inbox did not read."""
    books: dict[str, dict[str, dict]] = {}
    for dataset in ("residents", "events"):
        for materialization in result.asset_materializations_for_node(f"standardize_{dataset}"):
            per_source = materialization.metadata.get("per_source")
            if materialization.asset_key.path[-1] == f"std_{dataset}" and per_source is not None:
                books[dataset] = dict(per_source.value)  # type: ignore[arg-type]
    files: dict[str, dict] = {}
    for spec in RAW_SOURCES:
        for materialization in result.asset_materializations_for_node(spec.asset):
            rejected = materialization.metadata.get("rejected_files")
            if rejected is not None:
                files[summary_key(spec.dataset, spec.source)] = {"rejected_files": rejected.value}
    books["files"] = files
    return books


def export_outputs(
    warehouse: Warehouse, out: Path, pushed: dict[str, Path], books: dict[str, dict[str, dict]] | None = None
) -> dict:
    """Write the demo contract's files from the warehouse tables the run produced; the counts of
    summary.json come from the run's checked accounting (``books``) where given."""
    books = books or {}
    person_ids = write_lineage_csv(warehouse, out / "lineage_residents.csv")
    incidents = warehouse.read_table("incident_lineage")
    incidents.rename(columns={"record_id": "event_id"})[["source", "event_id", "incident_id"]].to_csv(
        out / "lineage_events.csv", index=False
    )
    quarantine = pd.concat(
        [warehouse.read_table("quarantine_residents"), warehouse.read_table("quarantine_events")],
        ignore_index=True,
    )
    columns = ["source", "record_id", "field", "check", "value", "reason"]
    quarantine[columns].map(csv_safe).to_csv(out / "quarantine.csv", index=False)
    alerts = warehouse.read_table("alerts") if warehouse.has_table("alerts") else empty_alerts()
    as_csv_frame(alerts).map(csv_safe).to_csv(out / "alerts.csv", index=False)
    reports = out / "reports"
    received: dict[str, int] = {}
    accepted: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    superseded: dict[str, int] = {}
    removed: dict[str, int] = {}
    for dataset in ("residents", "events"):
        if dataset in books:
            for source, figures in books[dataset].items():
                if figures["received"] or figures.get("superseded") or figures.get("removed") or figures.get("current"):
                    key = summary_key(dataset, source)
                    received[key] = int(figures["received"])
                    accepted[key] = int(figures["accepted"])
                    quarantined[key] = int(figures["quarantined"])
                    superseded[key] = int(figures.get("superseded", 0))
                    removed[key] = int(figures.get("removed", 0))
            continue
        run = warehouse.table_run(f"std_{dataset}")
        landed = warehouse.raw_counts(run["run_id"] if run else "", dataset)
        std_sources = warehouse.read_table(f"std_{dataset}")["source"]
        quarantine_records = warehouse.read_table(f"quarantine_{dataset}").drop_duplicates(["source", "record_id"])
        for source, count in landed.items():
            key = summary_key(dataset, source)
            received[key] = count
            accepted[key] = int((std_sources == source).sum())
            quarantined[key] = int((quarantine_records["source"] == source).sum())
    files = books.get("files", {})
    return {
        "received": received,
        "accepted": accepted,
        "quarantined": quarantined,
        "superseded": superseded,
        "removed": removed,
        "rejected_files": {key: int(figures["rejected_files"]) for key, figures in files.items()},
        "persons": len(person_ids),
        "incidents": int(incidents["incident_id"].nunique()),
        "reports": sorted(p.name for p in reports.glob("*.xlsx")),
        "pushed": {department: path.name for department, path in pushed.items()},
        "alerts": {str(kind): int(count) for kind, count in alerts["kind"].value_counts().sort_index().items()},
    }


LINEAGE_CHUNK = 50_000


def write_lineage_csv(warehouse: Warehouse, path: Path) -> set[str]:
    """Every current record's person, streamed from the warehouse in chunks (a city's lineage is never
    held whole); returns the person ids. Written under a temporary name, then renamed."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    person_ids: set[str] = set()
    if not warehouse.has_table("person_lineage"):
        raise HubError("warehouse table 'person_lineage' does not exist yet: the run linked no residents")
    with warehouse.engine.connect() as conn, temporary.open("w", encoding="utf-8", newline="") as handle:
        chunks = pd.read_sql_query(
            sa.text("select source, record_id, person_id from person_lineage"), conn, chunksize=LINEAGE_CHUNK
        )
        header = True
        for chunk in chunks:
            chunk.to_csv(handle, index=False, header=header)
            header = False
            person_ids.update(chunk["person_id"].astype(str))
        if header:
            handle.write("source,record_id,person_id\n")
    os.replace(temporary, path)
    return person_ids


def run_deliveries(result: RunResult) -> dict[str, dict]:
    """Per department report of this run: full or changes only, why, and what changed (nothing to
    deliver when there were no changes)."""
    deliveries: dict[str, dict] = {}
    for event in result.all_events:
        if not event.is_step_materialization:
            continue
        materialization = event.step_materialization_data.materialization
        delivery = materialization.metadata.get("delivery")
        if delivery is not None:
            deliveries[materialization.asset_key.path[-1].removeprefix("report_")] = dict(delivery.value)  # type: ignore[arg-type]
    return deliveries


def run_forms(result: RunResult) -> dict[str, dict]:
    """Per department form, where it stands after this run (returned / pending / overdue communities,
    persons answered): the progress its form_progress_<form> asset recorded."""
    forms: dict[str, dict] = {}
    for event in result.all_events:
        if not event.is_step_materialization:
            continue
        materialization = event.step_materialization_data.materialization
        name = materialization.asset_key.path[-1]
        progress = materialization.metadata.get("progress")
        if name.startswith("form_progress_") and progress is not None:
            forms[name.removeprefix("form_progress_")] = dict(progress.value)  # type: ignore[arg-type]
    return forms


def community_returns_of(result: RunResult) -> dict[str, object]:
    """What this run did with the returns in the community inbox: files per outcome (applied,
    rejected, already_applied, unknown_kind) and the corrections applied."""
    for event in result.all_events:
        if not event.is_step_materialization:
            continue
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path[-1] == "community_corrections":
            metadata = materialization.metadata
            return {
                "files": dict(metadata["files"].value) if "files" in metadata else {},  # type: ignore[arg-type]
                "corrections": metadata["corrections_this_run"].value if "corrections_this_run" in metadata else 0,
            }
    return {}


def csv_safe(value: object) -> object:
    """A CSV value a spreadsheet opens as text: one starting with = + - @ (or tab, CR) gets a '."""
    return neutralise_formula(value) if isinstance(value, str) else value


def held_back(warehouse: Warehouse, run_id: str) -> list[dict]:
    """The sources the shrink guard stopped in this run, with the reports they held back."""
    written = warehouse.table_run("source_guard")
    if written is None or written["run_id"] != run_id:
        return []
    guard = warehouse.read_table("source_guard")
    failed = guard[~guard["passed"].astype(bool)]
    return [
        {
            "source": f"{row['dataset']}/{row['source']}",
            "previous": int(row["previous"]),
            "now": int(row["now"]),
            "reports": [name for name in str(row["held_reports"]).split(",") if name],
        }
        for row in failed.to_dict("records")
    ]


def summary_key(dataset: str, source: str) -> str:
    """Resident sources by name (grid, health, civil); event sources suffixed, since grid has both."""
    return source if dataset == "residents" else f"{source}_events"


def workbooks_this_run(summary: dict) -> int:
    """Full workbooks plus change workbooks this run wrote (``reports`` lists every workbook in the
    folder, earlier days' included)."""
    deliveries = summary.get("deliveries")
    if not deliveries:
        return len(summary["reports"])
    full = sum(1 for delivery in deliveries.values() if delivery["delivery"] == "full")
    return full + sum(len(delivery["change_workbooks"]) for delivery in deliveries.values())


def review_summary(warehouse: Warehouse, out: Path) -> dict:
    """Write the stewards' review workbook (pipelines/review.py) and say what it asks."""
    path, pairs, words = export_review(warehouse, out / REVIEW_BOOK)
    return {"workbook": path.name, "pairs": pairs, "words": words}


def returned_workbooks(warehouse: Warehouse, run_id: str) -> list[str]:
    """The rejection workbooks (退回修改) this run wrote back to the community inbox."""
    written = warehouse.table_run("intake_rejections")
    if written is None or written["run_id"] != run_id:
        return []
    return [str(path) for path in warehouse.read_table("intake_rejections")["returned_as"]]


def rosters_written(out: Path, since: float) -> int:
    """Community rosters this run wrote under OUT/rosters/ (files written since it started)."""
    folder = out / "rosters"
    if not folder.is_dir():
        return 0
    return sum(1 for path in folder.rglob("*.xlsx") if path.stat().st_mtime >= since)


def count_table(summary: dict) -> list[str]:
    """Per source: received, accepted, quarantined, removed, as aligned columns with a total line."""
    headers = ["source", "received", "accepted", "quarantined", "removed"]
    sources = list(summary["received"])
    rows = [
        [
            source,
            *(f"{int(summary.get(column, {}).get(source, 0)):,}" for column in headers[1:]),
        ]
        for source in sources
    ]
    rows.append(["total", *(f"{sum(int(v) for v in summary.get(column, {}).values()):,}" for column in headers[1:])])
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for number, row in enumerate([headers, *rows]):
        cells = [row[0].ljust(widths[0]), *(value.rjust(widths[i]) for i, value in enumerate(row) if i)]
        lines.append("  " + "  ".join(cells))
        if number == 0 or number == len(rows) - 1:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return lines


def print_summary(summary: dict, out: Path) -> None:
    """A short table of what came in, what came out, where it is and where to look next."""
    print(f"hub demo: {summary.get('mode', 'full')} run finished in {summary['seconds']} s")
    print()
    print("\n".join(count_table(summary)))
    alerts = sum(summary.get("alerts", {}).values())
    print()
    print(f"  persons {summary['persons']:,}    incidents {summary['incidents']:,}    alerts {alerts:,}")
    print()
    print(f"written to {out}:")
    workbooks = workbooks_this_run(summary)
    print(f"  reports/            {workbooks} department workbook(s) this run, and what each department received")
    for name, delivery in sorted(summary.get("deliveries", {}).items()):
        changes = "，".join(f"{kind} {count}" for kind, count in delivery["changes"].items() if count)
        if delivery["delivery"] == "full":
            what = "full workbook" + (f" and changes ({changes})" if changes else "")
        elif delivery["nothing_to_deliver"]:
            what = "no changes: nothing written or pushed"
        else:
            what = f"changes only ({changes}; {delivery['change_rows_pushed']} change rows pushed)"
        print(f"                        {name}: {what}")
    for book in summary.get("change_workbooks", []):
        print(f"                        change workbook: reports/{book}")
    if summary.get("rosters"):
        print(f"  rosters/            {summary['rosters']} community roster(s) to check (核对结果), returned via the "
              "community inbox")
    returned = summary.get("returned_to_communities", [])
    if returned:
        folder = Path(returned[0]).parent
        print(f"  {len(returned)} rejection workbook(s) (退回修改) for community staff in {folder}")
    review = summary.get("review")
    if review:
        print(
            f"  {review['workbook']}   {review['pairs']} pair(s) to judge, {review['words']} word(s) to map; "
            f"return it to {steward_inbox(hub_home())} or run `hub review import FILE`"
        )
    quarantined = sum(summary["quarantined"].values())
    print(f"  quarantine.csv      {quarantined:,} record(s) set aside, each with its field and reason")
    kinds = ", ".join(f"{kind} {count}" for kind, count in summary.get("alerts", {}).items())
    print(f"  alerts.csv          {alerts:,} cross-department alert(s)" + (f" ({kinds})" if kinds else ""))
    print("  lineage_residents.csv, lineage_events.csv, summary.json")
    for stop in summary.get("held_back", []):
        print(
            f"  held back: {', '.join(stop['reports'])} (source {stop['source']} shrank from {stop['previous']} "
            f"to {stop['now']}; see the source_guard checks)"
        )
    for form, progress in sorted(summary.get("forms", {}).items()):
        if progress["persons_sent"]:
            print(
                f"  form {form}: {progress['returned']} of {progress['communities']} communities returned "
                f"({progress['overdue']} overdue), {progress['persons_answered']} of {progress['persons_sent']} "
                f"persons answered (forms/{form}/汇总_{form}.xlsx)"
            )
    returns = summary.get("community_returns") or {}
    if returns.get("files"):
        outcomes = ", ".join(f"{outcome} {count}" for outcome, count in returns["files"].items())
        print(f"  community inbox     returns: {outcomes}; {returns['corrections']} correction(s) applied")
    print()
    print("next:")
    print(f"  open {out / 'reports'} (one workbook per department) and {out / REVIEW_BOOK} (stewards)")
    print(f"  warehouse: {hide_credentials(os.environ['HUB_DATABASE_URL'])}")
    print("  Dagster UI: make ui, then http://127.0.0.1:3000 (this run is under Runs)")
