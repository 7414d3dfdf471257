"""What the Dagster UI relies on: `hub systems` keeps its addresses across a restart, the accounting
check's figures are a table, `make ui` runs the current command, demo runs are on the Overview timeline."""

from __future__ import annotations

import socket
from pathlib import Path

import dagster as dg
import pytest
import requests
import yaml

from pipelines.assets.standardized import accounting_check
from pipelines.demo import CODE_LOCATION, simulated_department_systems

REPO = Path(__file__).resolve().parents[2]


def test_a_restart_of_the_systems_keeps_their_ports_and_token(
    bench_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    with simulated_department_systems(bench_small, stable=True) as (first, _):
        pass
    with simulated_department_systems(bench_small, stable=True) as (second, _):
        assert (second.grid_url, second.miniprogram_url, second.department_inbox_url) == (
            first.grid_url,
            first.miniprogram_url,
            first.department_inbox_url,
        )
        assert second.grid_token == first.grid_token
        answer = requests.get(
            f"{second.grid_url}/api/v1/residents",
            headers={"Authorization": f"Bearer {first.grid_token}"},
            params={"page": 1, "page_size": 1},
            timeout=10,
        )
        assert answer.status_code == 200
    state = tmp_path / ".hub" / "simulated" / "systems.json"
    assert state.stat().st_mode & 0o077 == 0, "the token file is the owner's only"


def test_a_taken_port_falls_back_to_a_free_one(
    bench_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    with simulated_department_systems(bench_small, stable=True) as (first, _):
        pass
    taken = int(first.grid_url.rsplit(":", 1)[1])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        with simulated_department_systems(bench_small, stable=True) as (second, _):
            assert second.grid_url != first.grid_url
            assert second.miniprogram_url == first.miniprogram_url


def test_the_accounting_figures_are_a_table_not_json() -> None:
    books: dict[str, dict[str, object]] = {
        "grid": {"received": 5, "accepted": 4, "quarantined": 1, "superseded": 0, "reasons": {"id_invalid": 1}},
        "health": {"received": 3, "accepted": 2, "quarantined": 0, "superseded": 0, "reasons": {}},
    }
    check = accounting_check("residents", books)
    table = check.metadata["per_source"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [column.name for column in table.schema.columns][:4] == ["source", "received", "accepted", "quarantined"]
    rows = {record.data["source"]: record.data for record in table.records}
    assert rows["grid"]["balanced"] is True and rows["grid"]["reasons"] == "id_invalid 1"
    assert rows["health"]["balanced"] is False and not check.passed


def test_make_ui_runs_dg_dev_on_the_workspace_that_names_the_demo_runs_location() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    ui = makefile.split("\nui:")[1].split("\n\n")[0]
    assert "dg dev -w workspace.yaml" in ui and "dagster dev" not in ui
    assert "dagster-dg-cli" in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text(encoding="utf-8"))
    location = workspace["load_from"][0]["python_module"]["location_name"]
    assert f"__repository__@{location}" == CODE_LOCATION
