"""The simulated systems across starts: served again on an edited folder, they report only what
changed (with newer update times) and tombstone what is gone, as real department systems do."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from connectors.grid_api import GridApiClient
from connectors.health_db import read_health_deletions, read_health_records
from connectors.miniprogram import MiniProgramClient
from connectors.simulated.grid_server import GridServer
from connectors.simulated.health_system import HealthSystem
from connectors.simulated.history import ServedHistory
from connectors.simulated.miniprogram_server import MiniProgramServer

TOKEN = "t0ken"


def rows_of(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def next_day(day1: Path, out: Path, name: str) -> tuple[Path, str, str, str]:
    """A copy of ``name`` with its 2nd record edited, its 3rd removed and one record added:
    (file, edited id, removed id, added id)."""
    out.mkdir(parents=True, exist_ok=True)
    header, rows = rows_of(day1 / name)
    id_column, text_column = header[0], header[1]
    edited, removed = rows[1][id_column], rows[2][id_column]
    rows[1] = {**rows[1], text_column: rows[1][text_column] + "改"}
    added = {**rows[0], id_column: rows[0][id_column] + "-new"}
    write_rows(out / name, header, [rows[0], rows[1], *rows[3:], added])
    return out / name, edited, removed, added[id_column]


@pytest.fixture()
def day1(bench_small: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "day1"
    shutil.copytree(bench_small, folder)
    return folder


def test_grid_reports_only_the_changes_and_the_deletions(day1: Path, tmp_path: Path) -> None:
    history = ServedHistory(tmp_path / "simulated" / "grid")
    with GridServer(day1 / "grid_residents.csv", day1 / "grid_events.csv", token=TOKEN, history=history) as server:
        client = GridApiClient(server.url, TOKEN, page_size=50, paging="keyset", id_fields={"residents": "记录编号"})
        first = list(client.iter_residents())
        cursor = client.latest_updated_at
        assert client.deletions("residents") == []
    changed, edited, removed, added = next_day(day1, tmp_path / "day2", "grid_residents.csv")
    shutil.copy(day1 / "grid_events.csv", changed.parent / "grid_events.csv")
    with GridServer(changed, changed.parent / "grid_events.csv", token=TOKEN, history=history) as server:
        client = GridApiClient(server.url, TOKEN, page_size=50, paging="keyset", id_fields={"residents": "记录编号"})
        pulled = list(client.iter_residents(cursor))
        gone = client.deletions("residents", cursor)
        assert {row["记录编号"] for row in pulled} == {edited, added}
        assert all(row["updated_at"] > (cursor or "") for row in pulled)
        assert [key for key, _ in gone] == [removed]
        assert client.deletions("residents", gone[0][1]) == [], "the deletion cursor moves past the tombstone"
        assert list(client.iter_residents(client.latest_updated_at)) == []
        everything = {row["记录编号"]: row["updated_at"] for row in client.iter_residents()}
    unchanged = {row["记录编号"]: row["updated_at"] for row in first if row["记录编号"] not in (edited, removed)}
    assert {key: everything[key] for key in unchanged} == unchanged, "unchanged records keep their update time"


def test_mini_program_reports_only_the_changes_and_the_deletions(day1: Path, tmp_path: Path) -> None:
    history = ServedHistory(tmp_path / "simulated" / "miniprogram")
    with MiniProgramServer(day1 / "resident_events.csv", history=history) as server:
        client = MiniProgramClient(server.url, limit=7, id_field="event_id")
        assert len(list(client.iter_events())) == len(rows_of(day1 / "resident_events.csv")[1])
        cursor = client.latest_updated_at
    changed, edited, removed, added = next_day(day1, tmp_path / "day2", "resident_events.csv")
    with MiniProgramServer(changed, history=history) as server:
        client = MiniProgramClient(server.url, limit=7, id_field="event_id")
        pulled = list(client.iter_events(cursor))
        assert {row["event_id"] for row in pulled} == {edited, added}
        assert [key for key, _ in client.deletions(cursor)] == [removed]
        assert client.last_pull is not None and client.last_pull.expected_total == 2


def test_health_database_stamps_updates_and_keeps_tombstones(day1: Path, tmp_path: Path) -> None:
    history = ServedHistory(tmp_path / "simulated" / "health")
    (tmp_path / "work").mkdir()
    with HealthSystem(day1 / "health_records.csv", tmp_path / "work", history=history) as health:
        first = list(read_health_records(health.url, health.table))
        cursor = max(row["updated_at"] for row in first)
    changed, edited, removed, added = next_day(day1, tmp_path / "day2", "health_records.csv")
    with HealthSystem(changed, tmp_path / "work", history=history) as health:
        pulled = list(read_health_records(health.url, health.table, updated_since=cursor))
        assert {row["record_id"] for row in pulled} == {edited, added}
        gone = read_health_deletions(health.url, health.table + "_deleted", since=cursor)
        assert [key for key, _ in gone] == [removed]
        assert len(list(read_health_records(health.url, health.table))) == len(first)


def test_without_a_history_every_start_serves_the_first_day_again(day1: Path, tmp_path: Path) -> None:
    changed, _, _, _ = next_day(day1, tmp_path / "day2", "resident_events.csv")
    with MiniProgramServer(changed) as server:
        client = MiniProgramClient(server.url, limit=50)
        assert client.deletions() == []
        assert len(list(client.iter_events())) == len(rows_of(changed)[1])
