"""Every command finds the same hub home wherever it is run: HUB_HOME, else the nearest .hub folder
above the current folder, else the per-user default; never a new one in the current folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.settings import dagster_home, default_database_url, hub_home
from pipelines.warehouse import Warehouse


@pytest.fixture()
def no_configured_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HUB_HOME", "DAGSTER_HOME", "HUB_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    return tmp_path


def a_project_warehouse(project: Path) -> Warehouse:
    """A project whose last run accepted grid:G1, grid:G2 and health:H1."""
    warehouse = Warehouse.from_url(f"sqlite:///{project / '.hub' / 'warehouse.sqlite'}")
    accepted = pd.DataFrame({"source": ["grid", "grid", "health"], "record_id": ["G1", "G2", "H1"]})
    warehouse.write_table("std_residents", accepted, "run-1")
    return warehouse


def test_a_subfolder_finds_the_project_home_above_it(
    no_configured_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = no_configured_home / "project"
    (project / ".hub").mkdir(parents=True)
    (project / "reports" / "2026").mkdir(parents=True)
    monkeypatch.chdir(project / "reports" / "2026")
    assert hub_home() == (project / ".hub").resolve()
    assert dagster_home() == (project / ".dagster").resolve()
    assert default_database_url() == f"sqlite:///{(project / '.hub' / 'warehouse.sqlite').resolve()}"


def test_outside_any_project_the_per_user_home_is_used_not_the_current_folder(
    no_configured_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = no_configured_home / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert hub_home() == (no_configured_home / "user-data" / "hub").resolve()
    assert dagster_home() == (no_configured_home / "user-data" / "hub" / "dagster").resolve()


def test_hub_home_wins_over_a_project_folder(no_configured_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (no_configured_home / ".hub").mkdir()
    monkeypatch.chdir(no_configured_home)
    monkeypatch.setenv("HUB_HOME", str(no_configured_home / "chosen"))
    assert hub_home() == (no_configured_home / "chosen").resolve()


def test_decide_from_a_subfolder_writes_to_the_project_warehouse(
    no_configured_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = no_configured_home / "project"
    warehouse = a_project_warehouse(project)
    (project / "notes").mkdir()
    monkeypatch.chdir(project / "notes")
    assert main(["decide", "grid:G1", "health:H1", "--same", "--steward", "王"]) == 0
    assert str((project / ".hub").resolve()) in capsys.readouterr().out
    decisions = warehouse.decisions()
    assert decisions[["left_record_id", "right_record_id"]].values.tolist() == [["G1", "H1"]]
    assert not (project / "notes" / ".hub").exists()


def test_decide_where_no_run_has_been_refuses_and_creates_no_warehouse(
    no_configured_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = no_configured_home / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["decide", "grid:G1", "health:H1", "--same"]) == 2
    err = capsys.readouterr().err
    assert "no warehouse at" in err and "HUB_HOME" in err and "Traceback" not in err
    assert not (elsewhere / ".hub").exists()
    assert not (no_configured_home / "user-data" / "hub" / "warehouse.sqlite").exists()


def test_decide_refuses_a_record_that_does_not_exist(
    no_configured_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = a_project_warehouse(no_configured_home)
    monkeypatch.chdir(no_configured_home)
    assert main(["decide", "grid:G1", "health:H404", "--different"]) == 2
    err = capsys.readouterr().err
    assert "health:H404" in err and "grid:G1" not in err.split("record")[1].split("in the")[0]
    assert warehouse.decisions().empty


def test_decide_refuses_a_record_paired_with_itself(
    no_configured_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = a_project_warehouse(no_configured_home)
    monkeypatch.chdir(no_configured_home)
    assert main(["decide", "grid:G1", "grid:G1", "--same"]) == 2
    assert "paired with itself" in capsys.readouterr().err
    assert warehouse.decisions().empty
