"""Each source resource yields every row its department system holds, with where it came from."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.simulated.systems import SimulatedSystems, start_simulated_systems
from pipelines.resources.civil_inbox import CivilInboxResource
from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.resources.grid_system import GridSystemResource
from pipelines.resources.health_system import HealthSystemResource
from pipelines.resources.mini_program import MiniProgramResource


def csv_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return [row[0] for row in csv.reader(f)][1:]


@pytest.fixture(scope="module")
def systems(bench_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedSystems]:
    with start_simulated_systems(bench_small, tmp_path_factory.mktemp("systems"), token="t0ken") as running:
        yield running


def test_grid_resource_pages_residents_and_events_to_the_end(systems: SimulatedSystems, bench_small: Path) -> None:
    grid = GridSystemResource(base_url=systems.grid_url, token="t0ken", page_size=50)
    residents = list(grid.rows("residents"))
    assert [row["记录编号"] for _, row in residents] == csv_ids(bench_small / "grid_residents.csv")
    assert residents[0][0].endswith("/api/v1/residents #1")
    events = list(grid.rows("events"))
    assert sorted(row["事件编号"] for _, row in events) == sorted(csv_ids(bench_small / "grid_events.csv"))


def test_other_sources_yield_their_rows_and_nothing_for_a_dataset_they_lack(
    systems: SimulatedSystems, bench_small: Path
) -> None:
    health = HealthSystemResource(url=systems.health_db_url, table=systems.health_table)
    assert sorted(row["record_id"] for _, row in health.rows("residents")) == sorted(
        csv_ids(bench_small / "health_records.csv")
    )
    assert list(health.rows("events")) == []

    civil = CivilInboxResource(path=str(systems.civil_inbox_dir))
    civil_rows = list(civil.rows("residents"))
    assert sorted(row["编号"] for _, row in civil_rows) == sorted(csv_ids(bench_small / "civil_affairs.csv"))
    assert all(":第" in ref and ref.endswith("行") for ref, _ in civil_rows)

    mini = MiniProgramResource(base_url=systems.miniprogram_url)
    assert sorted(row["event_id"] for _, row in mini.rows("events")) == sorted(
        csv_ids(bench_small / "resident_events.csv")
    )
    assert list(mini.rows("residents")) == []


def test_community_inbox_without_a_folder_is_simply_empty(tmp_path: Path) -> None:
    inbox = CommunityInboxResource(path=str(tmp_path / "not-yet-created"))
    assert inbox.workbooks() == []
    assert list(inbox.rows("residents")) == []
