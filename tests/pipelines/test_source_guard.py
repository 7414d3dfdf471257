"""The source shrink guard: a source that shrank too much holds back only the reports fed by it."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from hub_errors import ConfigError
from pipelines.demo import run_demo
from pipelines.source_guard import GUARD_FILE, judge_pull, load_guard_config
from pipelines.warehouse import Warehouse

CONFIG = load_guard_config()


def test_verdicts() -> None:
    assert judge_pull("residents", "civil", None, 10, CONFIG).passed, "a first pull is the baseline"
    assert judge_pull("residents", "civil", 1000, 850, CONFIG).passed
    shrunk = judge_pull("residents", "civil", 1000, 700, CONFIG)
    assert not shrunk.passed and round(shrunk.shrink, 2) == 0.3
    assert "1000" in shrunk.describe(CONFIG.max_shrink, ["civil"]) and "civil" in shrunk.describe(0.2, ["civil"])
    assert judge_pull("residents", "civil", CONFIG.min_previous - 1, 0, CONFIG).passed, "too small to judge"
    steward = judge_pull("residents", "civil", 1000, 700, CONFIG, accepted={"residents/civil"})
    assert steward.passed and steward.accepted_by_steward
    assert CONFIG.sources_of("civil") == ("residents/civil",)
    assert CONFIG.sources_of("a_new_department") == CONFIG.sources


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_shrink": 20}, "share between 0 and 1"),
        ({"reports": {"civil": ["residents/nowhere"]}}, "unguarded sources residents/nowhere"),
        ({"reports": {"nobody": ["residents/civil"]}}, "no report specification named nobody"),
    ],
)
def test_bad_guard_file_is_refused_with_a_reason(tmp_path: Path, change: dict, message: str) -> None:
    raw = yaml.safe_load(GUARD_FILE.read_text(encoding="utf-8"))
    path = tmp_path / "guard.yaml"
    path.write_text(yaml.safe_dump({**raw, **change}), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_guard_config(path, report_names=["grid", "health", "civil", "community"])


def check_baseline(warehouse: Warehouse) -> None:
    assert warehouse.last_passed_pull("residents", "civil") is None
    warehouse.record_pulled("r1", "residents", "civil", 1000, passed=True)
    warehouse.record_pulled("r2", "residents", "civil", 400, passed=False)
    assert warehouse.last_passed_pull("residents", "civil") == 1000, "a stopped pull is no baseline"
    warehouse.record_pulled("r3", "residents", "civil", 990, passed=True)
    assert warehouse.last_passed_pull("residents", "civil") == 990


def test_baseline_on_sqlite(tmp_path: Path) -> None:
    check_baseline(Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}"))


def test_baseline_on_postgres(pg_schema: tuple[str, str]) -> None:
    engine = sa.create_engine(pg_schema[1])
    try:
        check_baseline(Warehouse(engine))
    finally:
        engine.dispose()


def copy_with_half_of(data: Path, name: str, target: Path) -> int:
    """The bench folder with one department file cut to half its rows (a truncated export)."""
    target.mkdir()
    for path in data.glob("*.csv"):
        shutil.copy(path, target / path.name)
    with (data / name).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        fields = reader.fieldnames or []
    kept = rows[: len(rows) // 2]
    with (target / name).open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    return len(kept)


def guard_checks(run_id: str) -> dict[str, dg.AssetCheckEvaluation]:
    instance = dg.DagsterInstance.get()
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [r.event_log_entry.dagster_event.asset_check_evaluation_data for r in records]
    return {e.check_name: e for e in evaluations if e.asset_key == dg.AssetKey("source_guard")}


def test_a_shrunken_source_holds_back_only_its_reports(
    tmp_path: Path, bench_small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}")
    assert run_demo(data=bench_small, people=0, seed=0, out=tmp_path / "out1") == 0
    first = json.loads((tmp_path / "out1" / "summary.json").read_text(encoding="utf-8"))
    assert first["held_back"] == []

    now = copy_with_half_of(bench_small, "civil_affairs.csv", tmp_path / "truncated")
    assert run_demo(data=tmp_path / "truncated", people=0, seed=0, out=tmp_path / "out2") == 0
    second = json.loads((tmp_path / "out2" / "summary.json").read_text(encoding="utf-8"))
    previous = first["received"]["civil"]
    assert second["held_back"] == [
        {"source": "residents/civil", "previous": previous, "now": now, "reports": ["civil"]}
    ]
    workbooks = {path.name.split("_")[0] for path in (tmp_path / "out2" / "reports").glob("*.xlsx")}
    assert workbooks == {"grid", "health"}, "other departments' reports go on"
    assert "civil" not in second["pushed"]
    checks = guard_checks(second["dagster_run_id"])
    civil = checks["residents_civil_not_shrunk"]
    assert not civil.passed
    assert civil.metadata["previous"].value == previous and civil.metadata["now"].value == now
    assert civil.metadata["source"].value == "residents/civil"
    assert all(check.passed for name, check in checks.items() if name != "residents_civil_not_shrunk")

    assert run_demo(data=bench_small, people=0, seed=0, out=tmp_path / "out3") == 0
    third = json.loads((tmp_path / "out3" / "summary.json").read_text(encoding="utf-8"))
    assert third["held_back"] == []
    delivery = third["deliveries"]["civil"]
    assert delivery["nothing_to_deliver"] or delivery["change_workbooks"], "civil's report is made again"
