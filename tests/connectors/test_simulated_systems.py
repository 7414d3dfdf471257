"""start_simulated_systems serves every row of a bench folder through the connectors."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import requests

from connectors.civil_inbox import read_civil_inbox
from connectors.grid_api import GridApiClient
from connectors.health_db import read_health_records
from connectors.miniprogram import MiniProgramClient
from connectors.simulated.systems import start_simulated_systems
from hub_errors import SourceError


def csv_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row[0] for row in list(csv.reader(handle))[1:]]


def test_every_row_of_every_file_is_served(bench_small: Path, tmp_path: Path) -> None:
    with start_simulated_systems(bench_small, tmp_path, token="t0k", civil_rows_per_workbook=50) as systems:
        grid = GridApiClient(systems.grid_url, systems.token, page_size=64)
        miniprogram = MiniProgramClient(systems.miniprogram_url)
        served = {
            "grid_residents.csv": [row["记录编号"] for row in grid.iter_residents()],
            "grid_events.csv": [row["事件编号"] for row in grid.iter_events()],
            "resident_events.csv": [row["event_id"] for row in miniprogram.iter_events()],
            "health_records.csv": sorted(
                row["record_id"] for row in read_health_records(systems.health_db_url, systems.health_table)
            ),
            "civil_affairs.csv": [row.values["编号"] for row in read_civil_inbox(systems.civil_inbox_dir).rows],
        }
        grid_url = systems.grid_url
    for name, ids in served.items():
        expected = csv_ids(bench_small / name)
        assert ids == (sorted(expected) if name == "health_records.csv" else expected), name
    with pytest.raises(requests.ConnectionError):
        requests.get(grid_url, timeout=1)


def test_a_missing_file_is_named(bench_small: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(bench_small, data)
    (data / "health_records.csv").unlink()
    with pytest.raises(SourceError, match=r"health_records\.csv"):
        start_simulated_systems(data, tmp_path / "work", token="t")
