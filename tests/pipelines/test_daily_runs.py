"""Daily runs: a run against a warehouse that holds a completed run pulls only what the sources
changed or deleted since; a failed or killed run leaves the cursors where the committed rows are."""

from __future__ import annotations

import csv
import json
import shutil
import signal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.demo import DemoFailed, run_demo

EDITED_FILES = {  # summary key -> (file, id column); every one gets an edit, a deletion and an addition
    "grid": ("grid_residents.csv", "记录编号"),
    "health": ("health_records.csv", "record_id"),
    "civil": ("civil_affairs.csv", "编号"),
    "resident_events": ("resident_events.csv", "event_id"),
}
RESIDENT_SOURCES = ("grid", "health", "civil")


DAY1_ROWS = 80  # per file: enough to link, few enough for a quick run


@pytest.fixture(scope="module")
def day1(bench_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first DAY1_ROWS rows of every file of the small bench."""
    folder = tmp_path_factory.mktemp("daily_day1")
    for item in bench_small.glob("*.csv"):
        header, rows = read_rows(item)
        with (folder / item.name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows[:DAY1_ROWS])
    return folder


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def day2(day1: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]]]:
    """The next day: per source its 2nd record edited, its 3rd deleted, a new one added (the truth)."""
    folder = tmp_path_factory.mktemp("daily_day2")
    for item in day1.iterdir():
        shutil.copy(item, folder / item.name)
    truth: dict[str, dict[str, str]] = {}
    for key, (name, id_column) in EDITED_FILES.items():
        header, rows = read_rows(day1 / name)
        text_column = next(column for column in header if column != id_column)
        rows[1] = {**rows[1], text_column: rows[1][text_column] + "改"}
        added = {**rows[0], id_column: rows[0][id_column] + "9"}
        truth[key] = {rows[1][id_column]: "edited", rows[2][id_column]: "removed", added[id_column]: "added"}
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows([rows[0], rows[1], *rows[3:], added])
    return folder, truth


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}"
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    return tmp_path, url


def summary_of(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def lineage_keys(out: Path) -> set[tuple[str, str]]:
    return {(row["source"], row["record_id"]) for row in read_rows(out / "lineage_residents.csv")[1]}


def current_keys(data: Path) -> set[tuple[str, str]]:
    return {
        (key, row[EDITED_FILES[key][1]])
        for key in RESIDENT_SOURCES
        for row in read_rows(data / EDITED_FILES[key][0])[1]
    }


def table(url: str, name: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql_table(name, conn)
    finally:
        engine.dispose()


def cursors(url: str) -> dict[tuple[str, str], str]:
    frame = table(url, "source_cursors")
    return {(row.dataset, row.source): row.cursor for row in frame.itertuples()}


def assert_day2_changes(out: Path, url: str, truth: dict[str, dict[str, str]], data: Path) -> None:
    """Exactly the edited and added records pulled, the deleted ones counted, lineage = current records."""
    summary = summary_of(out)
    assert summary["mode"] == "incremental"
    for key, changes in truth.items():
        assert summary["received"][key] == 2, key  # the edited and the added record, nothing else
        assert summary["received"][key] == summary["accepted"][key] + summary["quarantined"][key]
        assert summary["removed"][key] == sum(change == "removed" for change in changes.values()), key
    assert summary["received"]["grid_events"] == 0 and summary["removed"]["grid_events"] == 0
    assert lineage_keys(out) == current_keys(data), "every current record, none the sources deleted"
    delta = table(url, "residents_delta")
    got = {(row.source, row.record_id): row.change for row in delta.itertuples()}
    expected = {(key, record): change for key in RESIDENT_SOURCES for record, change in truth[key].items()}
    assert got == expected


def test_a_second_run_pulls_only_the_changes_and_the_deletions(
    home: tuple[Path, str], day1: Path, day2: tuple[Path, dict[str, dict[str, str]]]
) -> None:
    folder, url = home
    data2, truth = day2
    assert run_demo(data=day1, people=0, seed=0, out=folder / "out1") == 0
    first = summary_of(folder / "out1")
    assert first["mode"] == "full" and set(first["removed"].values()) == {0}
    std = table(url, "std_residents")
    assert "updated_at" in std.columns and std.loc[std["source"] == "grid", "updated_at"].notna().all()
    assert (table(url, "residents_delta")["change"] == "added").all(), "the first run adds everything"

    assert run_demo(data=data2, people=0, seed=0, out=folder / "out2") == 0
    assert_day2_changes(folder / "out2", url, truth, data2)
    assert len(table(url, "std_residents")) == len(current_keys(data2)), "std_residents is the full current frame"
    incidents = table(url, "incidents").sort_values("incident_id").reset_index(drop=True)

    assert run_demo(data=data2, people=0, seed=0, out=folder / "out3") == 0
    assert table(url, "events_delta").empty, "no report changed: the incidents are kept as merged"
    again = table(url, "incidents").sort_values("incident_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(again, incidents, check_dtype=False)
    assert (folder / "out3" / "lineage_events.csv").read_text() == (folder / "out2" / "lineage_events.csv").read_text()

    assert run_demo(data=data2, people=0, seed=0, out=folder / "out4", full=True) == 0
    rebuilt = summary_of(folder / "out4")
    assert rebuilt["mode"] == "full"
    assert rebuilt["received"]["grid"] == len(read_rows(data2 / "grid_residents.csv")[1])
    assert set(rebuilt["removed"].values()) == {0}
    assert table(url, "residents_delta").empty, "a full run diffs against the state it found"
    assert lineage_keys(folder / "out4") == current_keys(data2)


def test_a_failed_or_killed_run_does_not_advance_the_cursors_and_the_rerun_applies_each_change_once(
    home: tuple[Path, str],
    day1: Path,
    day2: tuple[Path, dict[str, dict[str, str]]],
    demo_processes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, url = home
    data2, truth = day2
    assert run_demo(data=day1, people=0, seed=0, out=folder / "out1") == 0
    before = cursors(url)
    assert {source for _, source in before} == {"grid", "health", "resident"}
    monkeypatch.setenv("HUB_SIMULATED_FAULTS", "grid:malformed_json")
    with pytest.raises(DemoFailed):
        run_demo(data=data2, people=0, seed=0, out=folder / "failed")
    assert cursors(url) == before
    monkeypatch.delenv("HUB_SIMULATED_FAULTS")
    crashed = demo_processes.run(
        data2, folder / "crashed", demo_processes.env(folder, url, HUB_CRASH_AT="before_state_commit")
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert cursors(url) == before, "the pull was landed but nothing was committed"
    assert run_demo(data=data2, people=0, seed=0, out=folder / "out2") == 0
    assert_day2_changes(folder / "out2", url, truth, data2)
    assert cursors(url) != before


def test_killed_after_the_residents_commit_then_rerun_still_reports_the_changes(
    home: tuple[Path, str], day1: Path, day2: tuple[Path, dict[str, dict[str, str]]], demo_processes
) -> None:
    folder, url = home
    data2, truth = day2
    assert run_demo(data=day1, people=0, seed=0, out=folder / "out1") == 0
    env = demo_processes.env(folder, url, HUB_CRASH_AT="after_lineage")
    crashed = demo_processes.run(data2, folder / "crashed", env)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert run_demo(data=data2, people=0, seed=0, out=folder / "out2") == 0
    summary = summary_of(folder / "out2")
    assert summary["received"]["grid"] == 0, "the committed changes are not pulled again"
    assert summary["removed"]["grid"] == 1, "but they are reported against the last completed run"
    assert lineage_keys(folder / "out2") == current_keys(data2)
    delta = table(url, "residents_delta")
    expected = {(key, record): change for key in RESIDENT_SOURCES for record, change in truth[key].items()}
    assert {(row.source, row.record_id): row.change for row in delta.itertuples()} == expected


def deliveries(out: Path) -> dict[str, dict[str, int]]:
    return {name: delivery["changes"] for name, delivery in summary_of(out)["deliveries"].items()}


@pytest.mark.parametrize("point", ["golden_written", "before_complete_run"])
def test_killed_after_the_golden_records_or_the_deliveries_then_rerun_delivers_each_change_once(
    point: str,
    home: tuple[Path, str],
    day1: Path,
    day2: tuple[Path, dict[str, dict[str, int]]],
    demo_processes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed once the day's golden records are written (nothing delivered yet) or once every department
    has its changes (the run not yet complete): the rerun delivers exactly what an uninterrupted day
    delivers, or nothing, and a further run nothing at all."""
    folder, url = home
    data2, truth = day2
    clean = folder / "clean"
    monkeypatch.setenv("HUB_HOME", str(clean / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(clean / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{clean / '.hub' / 'warehouse.sqlite'}")
    assert run_demo(data=day1, people=0, seed=0, out=clean / "out1") == 0
    assert run_demo(data=data2, people=0, seed=0, out=clean / "out2") == 0
    expected = deliveries(clean / "out2")
    assert any(any(counts.values()) for counts in expected.values())

    monkeypatch.setenv("HUB_HOME", str(folder / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(folder / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    assert run_demo(data=day1, people=0, seed=0, out=folder / "out1") == 0
    crashed = demo_processes.run(data2, folder / "crashed", demo_processes.env(folder, url, HUB_CRASH_AT=point))
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert run_demo(data=data2, people=0, seed=0, out=folder / "out2") == 0
    rerun = deliveries(folder / "out2")
    if point == "golden_written":
        assert rerun == expected, "the changes the killed run found reach every department"
    else:
        assert all(not any(counts.values()) for counts in rerun.values()), "already delivered: not sent twice"
    assert_day2_changes_reported(folder / "out2", truth, data2)
    assert department_rows(folder / "out2") == department_rows(clean / "out2"), "each department holds the same"
    assert run_demo(data=data2, people=0, seed=0, out=folder / "out3") == 0
    assert all(not any(counts.values()) for counts in deliveries(folder / "out3").values())
    assert summary_of(folder / "out3")["removed"]["grid"] == 0
    assert department_rows(folder / "out3") == department_rows(clean / "out2")


def department_rows(out: Path) -> dict[str, list[tuple[str, int, str]]]:
    """What each department's inbox holds after the run: per report and batch, its rows (as JSON)."""
    held = {}
    for path in sorted((out / "reports").glob("*_received.json")):
        batches = json.loads(path.read_text(encoding="utf-8"))
        held[path.name] = sorted(
            (str(batch["report"]), int(batch["batch"]), json.dumps(batch["rows"], ensure_ascii=False, sort_keys=True))
            for batch in batches
        )
    return held


def assert_day2_changes_reported(out: Path, truth: dict[str, dict[str, str]], data: Path) -> None:
    """The rerun still reports the day's removals against the last completed run, and lists every
    current record."""
    summary = summary_of(out)
    for key, changes in truth.items():
        assert summary["removed"][key] == sum(change == "removed" for change in changes.values()), key
    assert lineage_keys(out) == current_keys(data)
