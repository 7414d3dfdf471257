"""The source resources and the demo's Dagster run against simulated systems with faults switched on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.simulated.systems import SimulatedSystems, faults_from_env, start_simulated_systems
from hub_errors import SourceError
from pipelines.resources.grid_system import GridSystemResource
from pipelines.resources.health_system import HealthSystemResource
from pipelines.resources.mini_program import MiniProgramResource


@pytest.fixture
def systems(bench_small: Path, tmp_path: Path) -> Iterator[SimulatedSystems]:
    with start_simulated_systems(bench_small, tmp_path, token="t0ken", faults={}) as running:
        yield running


def test_resources_expose_what_each_pull_received_against_the_total(systems: SimulatedSystems) -> None:
    grid = GridSystemResource(base_url=systems.grid_url, token="t0ken", page_size=50)
    mini = MiniProgramResource(base_url=systems.miniprogram_url)
    assert grid.last_pull("residents") is None
    residents = list(grid.rows("residents"))
    events = list(mini.rows("events"))
    pulled = grid.last_pull("residents")
    assert pulled is not None and pulled.expected_total == pulled.received == len(residents)
    mini_pulled = mini.last_pull("events")
    assert mini_pulled is not None and mini_pulled.expected_total == mini_pulled.received == len(events)
    health = HealthSystemResource(url=systems.health_db_url, table=systems.health_table)
    records = list(health.rows("residents"))
    health_pulled = health.last_pull("residents")
    assert health_pulled is not None and health_pulled.expected_total == health_pulled.received == len(records) > 0


def test_faults_switched_on_at_start_fail_the_resources_clearly(bench_small: Path, tmp_path: Path) -> None:
    faults = faults_from_env("grid:no_more_at_first_page, resident:cursor_cycle")
    with start_simulated_systems(bench_small, tmp_path, token="t0ken", faults=faults) as running:
        grid = GridSystemResource(base_url=running.grid_url, token="t0ken", page_size=50)
        with pytest.raises(SourceError, match=r"grid: .*/api/v1/residents ended after 1 pages with 50 records"):
            list(grid.rows("residents"))
        assert grid.last_pull("residents") is None
        mini = MiniProgramResource(base_url=running.miniprogram_url, limit=5)
        with pytest.raises(SourceError, match=r"resident: .*/api/events stopped at page 3: .*goes in a circle"):
            list(mini.rows("events"))
        assert mini.last_pull("events") is None


def test_unknown_faults_are_refused_before_anything_starts(bench_small: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="ignore_page"):
        start_simulated_systems(bench_small, tmp_path, token="t", faults=faults_from_env("grid:ignore_pages"))
    with pytest.raises(SourceError, match="system:fault"):
        faults_from_env("ignore_page")


def test_the_demo_run_fails_naming_the_source_when_the_grid_sends_broken_json(
    bench_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}")
    monkeypatch.setenv("HUB_SIMULATED_FAULTS", "grid:malformed_json")
    from pipelines.demo import DemoFailed, run_demo

    with pytest.raises(DemoFailed) as failure:
        run_demo(data=bench_small, people=0, seed=0, out=tmp_path / "out")
    message = str(failure.value)
    assert "raw_grid_residents" in message and "did not return valid JSON" in message
    assert "Traceback" not in message
    served = (bench_small / "grid_residents.csv").read_text(encoding="utf-8-sig").splitlines()[1]
    assert [value for value in served.split(",")[1:] if len(value) >= 2 and value in message] == []
