"""`hub demo` end to end on bench data: the OUT files of the contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.demo import run_demo

DEPARTMENT_PREFIXES = ("grid_", "health_", "civil_")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def csv_rows(path: Path) -> int:
    return len(read_csv(path))


@pytest.fixture()
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}")
    return tmp_path


def check_outputs(out: Path, data: Path, pairwise_f1: Callable[[Path, Path], float]) -> dict:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for source, received in summary["received"].items():
        assert received == summary["accepted"][source] + summary["quarantined"][source], source
    assert summary["received"]["grid"] == csv_rows(data / "grid_residents.csv")
    assert summary["received"]["health"] == csv_rows(data / "health_records.csv")
    assert summary["received"]["civil"] == csv_rows(data / "civil_affairs.csv")

    lineage = read_csv(out / "lineage_residents.csv")
    assert list(lineage[0]) == ["source", "record_id", "person_id"]
    residents_accepted = sum(summary["accepted"][s] for s in ("grid", "health", "civil"))
    assert len(lineage) == residents_accepted
    assert len({(r["source"], r["record_id"]) for r in lineage}) == len(lineage)
    assert summary["persons"] == len({r["person_id"] for r in lineage})

    events = read_csv(out / "lineage_events.csv")
    assert list(events[0]) == ["source", "event_id", "incident_id"]
    assert {r["source"] for r in events} <= {"grid", "resident", "intake"}

    quarantine = read_csv(out / "quarantine.csv") if (out / "quarantine.csv").stat().st_size else []
    quarantined_records = {(r["source"], r["record_id"]) for r in quarantine}
    assert not quarantined_records & {(r["source"], r["record_id"]) for r in lineage}
    assert all(r["reason"] for r in quarantine)

    workbooks = sorted((out / "reports").glob("*.xlsx"))
    for prefix in DEPARTMENT_PREFIXES:
        matching = [p for p in workbooks if p.name.startswith(prefix)]
        assert matching, f"no workbook for {prefix}"
        book = openpyxl.load_workbook(matching[0], read_only=True)
        assert len(book.sheetnames) >= 2
        book.close()

    grid_book = openpyxl.load_workbook(next(p for p in workbooks if p.name.startswith("grid_")), read_only=True)
    incident_rows = list(grid_book["网格事件"].iter_rows(values_only=True))
    grid_column = incident_rows[0].index("所属网格")
    placed = [row for row in incident_rows[1:] if row[grid_column]]
    assert len(placed) >= 0.8 * (len(incident_rows) - 1), "residents' own reports are placed in a grid too"
    grid_book.close()

    f1 = pairwise_f1(data / "truth_residents.csv", out / "lineage_residents.csv")
    assert f1 > 0.9, f1
    return summary


def person_ids(out: Path) -> dict[tuple[str, str], str]:
    return {(r["source"], r["record_id"]): r["person_id"] for r in read_csv(out / "lineage_residents.csv")}


def two_records_of_one_person(ids: dict[tuple[str, str], str]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    members: dict[str, list[tuple[str, str]]] = {}
    for key, person in ids.items():
        members.setdefault(person, []).append(key)
    return [(group[0], group[1]) for group in members.values() if len(group) == 2]


def check_asset_metadata(run_id: str) -> None:
    """Every asset the run materialized shows a steward its row count and a sample; the UI shows the run
    finished (SUCCESS, with an end time), not left started."""
    instance = dg.DagsterInstance.get()
    run = instance.get_run_record_by_id(run_id)
    assert run is not None and run.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert run.end_time is not None and run.end_time >= (run.start_time or 0)
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    materialized = {r.event_log_entry.asset_materialization.asset_key: r.event_log_entry for r in records}
    assert len(materialized) >= 20
    for key, entry in materialized.items():
        metadata = entry.asset_materialization.metadata
        assert "rows" in metadata and "sample" in metadata, key
    checks = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    assert {r.event_log_entry.dagster_event.asset_check_evaluation_data.passed for r in checks} == {True}


def test_demo_on_bench_data_writes_the_contract_files(
    demo_env: Path, bench_small: Path, pairwise_f1: Callable[[Path, Path], float]
) -> None:
    out = demo_env / "out"
    assert run_demo(data=bench_small, people=0, seed=0, out=out) == 0
    summary = check_outputs(out, bench_small, pairwise_f1)
    assert summary["pushed"], "the first run pushes every department's batches"
    check_asset_metadata(summary["dagster_run_id"])

    again = demo_env / "out2"
    assert run_demo(data=bench_small, people=0, seed=0, out=again) == 0
    rerun = json.loads((again / "summary.json").read_text(encoding="utf-8"))
    assert rerun["pushed"] == {}, "a rerun on the same data delivers nothing new"
    assert rerun["persons"] == summary["persons"]
    first_ids = person_ids(out)
    assert first_ids == person_ids(again), "person ids are stable across runs"

    merged = next(pair for pair in two_records_of_one_person(first_ids))
    assert main(["decide", ":".join(merged[0]), ":".join(merged[1]), "--different", "--note", "twins"]) == 0
    third = demo_env / "out3"
    assert run_demo(data=bench_small, people=0, seed=0, out=third) == 0
    after = person_ids(third)
    assert after[merged[0]] != after[merged[1]], "a steward's decision is honoured by the next run"
    kept = sum(after[key] == first_ids[key] for key in first_ids)
    assert kept >= len(first_ids) - 2, "everyone else keeps their person id"


def test_demo_with_postgres_warehouse(
    demo_env: Path,
    bench_small: Path,
    pairwise_f1: Callable[[Path, Path], float],
    pg_engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = f"hub_demo_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = pg_engine.url.set(query={"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    try:
        out = demo_env / "out"
        assert run_demo(data=bench_small, people=0, seed=0, out=out) == 0
        check_outputs(out, bench_small, pairwise_f1)
        with pg_engine.connect() as conn:
            landed = conn.execute(sa.text(f'select count(*) from "{schema}".raw_records')).scalar_one()
        assert landed == sum(json.loads((out / "summary.json").read_text())["received"].values())
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))


def test_a_department_file_missing_a_column_fails_the_run_with_a_clear_message(
    demo_env: Path, bench_small: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in bench_small.glob("*.csv"):
        (broken / path.name).write_bytes(path.read_bytes())
    rows = read_csv(bench_small / "civil_affairs.csv")
    with (broken / "civil_affairs.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[c for c in rows[0] if c != "身份证号"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    from pipelines.demo import DemoFailed

    with pytest.raises(DemoFailed) as failure:
        run_demo(data=broken, people=0, seed=0, out=demo_env / "out")
    message = str(failure.value)
    assert "raw_civil_affairs" in message and "身份证号" in message
    assert "Traceback" not in message


def test_the_printed_workbook_count_is_this_runs_not_the_folders() -> None:
    from pipelines.demo import workbooks_this_run

    quiet_day = {
        "reports": ["civil_1.xlsx", "grid_1.xlsx", "health_1.xlsx"],
        "deliveries": {
            dept: {"delivery": "changes", "change_workbooks": []} for dept in ("civil", "grid", "health")
        },
    }
    assert workbooks_this_run(quiet_day) == 0
    quiet_day["deliveries"]["grid"] = {"delivery": "full", "change_workbooks": ["grid_变更_1.xlsx"]}
    assert workbooks_this_run(quiet_day) == 2


def test_the_closing_summary_is_a_short_table_naming_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.demo import print_summary

    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://hub:secret@127.0.0.1:5432/hub")
    returned = str(tmp_path / ".hub" / "community-inbox" / "rejected" / "东梅社区_退回修改.xlsx")
    summary = {
        "mode": "full",
        "received": {"grid": 1200, "intake": 5},
        "accepted": {"grid": 1190, "intake": 3},
        "quarantined": {"grid": 10, "intake": 2},
        "removed": {"grid": 0, "intake": 0},
        "persons": 1000,
        "incidents": 80,
        "alerts": {"duplicate_benefit": 2},
        "reports": ["grid_网格_2026-11-28.xlsx"],
        "deliveries": {},
        "rosters": 13,
        "returned_to_communities": [returned],
        "review": {"workbook": "待核对_复核.xlsx", "pairs": 49, "words": 2},
        "seconds": 12.5,
    }
    print_summary(summary, tmp_path / "out")
    printed = capsys.readouterr().out
    assert "{" not in printed and "secret" not in printed
    table = [line for line in printed.splitlines() if line.strip().startswith(("source", "grid", "intake", "total"))]
    assert table[0].split() == ["source", "received", "accepted", "quarantined", "removed"]
    assert table[-1].split() == ["total", "1,205", "1,193", "12", "0"]
    assert "rosters/" in printed and "13 community roster(s)" in printed
    assert "1 rejection workbook(s) (退回修改)" in printed and "community-inbox" in printed
    assert "待核对_复核.xlsx" in printed and "49 pair(s)" in printed and "steward-inbox" in printed
    assert "next:" in printed and len(printed.splitlines()) < 30


def test_the_event_log_held_open_during_a_run_keeps_every_event_and_is_checkpointed_after(tmp_path: Path) -> None:
    from pipelines.demo import event_log_held_open

    @dg.op
    def step() -> int:
        return 1

    @dg.job
    def tiny() -> None:
        step()

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run_id = str(uuid.uuid4())
        with event_log_held_open(instance, run_id):
            result = tiny.execute_in_process(instance=instance, run_id=run_id)
            shard = Path(instance.event_log_storage.path_for_shard(run_id))  # type: ignore[attr-defined]
            assert shard.with_name(shard.name + "-wal").exists(), "the run's log stays in WAL until the run ends"
        assert result.success
        stored = instance.all_logs(run_id)
        assert {event.dagster_event_type for event in stored if event.is_dagster_event} >= {
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.RUN_SUCCESS,
        }
        assert not shard.with_name(shard.name + "-wal").exists(), "checkpointed when the last connection closed"
