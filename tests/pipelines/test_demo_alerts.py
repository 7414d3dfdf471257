"""Cross-department verification through `hub demo` on bench data with planted contradictions: every
kind found, alerts.csv and the 核验 sheets agree, an answer stays answered, a gone cause closes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import openpyxl
import pytest

from pipelines.alerts import CSV_COLUMNS, alert_id
from pipelines.demo import run_demo
from pipelines.settings import default_database_url
from pipelines.warehouse import Warehouse

SHARED_BENCH = Path(os.environ.get("HUB_SHARED_BENCH", Path(__file__).resolve().parents[3] / "shared" / "bench"))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_keys(path: Path) -> set[tuple[str, str, str]]:
    return {(r["kind"], r["source"], r["record_id"]) for r in read_csv(path)}


def verification_rows(out: Path, prefix: str) -> list[dict[str, object]]:
    path = next((out / "reports").glob(f"{prefix}_*.xlsx"))
    sheet = openpyxl.load_workbook(path)["核验"]
    (validation,) = sheet.data_validations.dataValidation
    assert "已更正" in str(validation.formula1)
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture()
def planted(tmp_path: Path, bench_small: Path) -> Path:
    script = SHARED_BENCH / "plant_alerts.py"
    if not script.exists():
        pytest.skip("../shared/bench/plant_alerts.py is not beside the repository")
    data = tmp_path / "data"
    shutil.copytree(bench_small, data)
    subprocess.run([sys.executable, str(script), "--data", str(data), "--rate", "0.05", "--seed", "3"], check=True,
                   capture_output=True)
    return data


def test_demo_finds_each_kind_and_keeps_answers_across_runs(
    tmp_path: Path, planted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}")
    monkeypatch.setenv("HUB_REFERENCE_DATE", "2026-11-01")  # the day the bench's truth counts ages on
    out = tmp_path / "out"
    assert run_demo(data=planted, people=0, seed=0, out=out) == 0

    with (out / "alerts.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == CSV_COLUMNS
    truth = read_keys(planted / "truth_alerts.csv")
    found = read_keys(out / "alerts.csv")
    for kind in {key[0] for key in truth}:
        expected, flagged = {k for k in truth if k[0] == kind}, {k for k in found if k[0] == kind}
        hits = len(expected & flagged)
        assert hits >= 0.9 * len(expected) and hits >= 0.8 * len(flagged), (kind, len(expected), len(flagged), hits)
    alerts = read_csv(out / "alerts.csv")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert sum(summary["alerts"].values()) == len(alerts)
    for prefix in ("grid", "civil", "health"):
        rows = verification_rows(out, prefix)
        expected = sorted(a["record_id"] for a in alerts if a["source"] == prefix)
        assert sorted(str(r["记录编号"]) for r in rows) == expected, prefix

    # Civil affairs answers one alert; health corrects one death date (the cause of a grid alert goes).
    warehouse = Warehouse.from_url(default_database_url())
    civil_alert = next(a for a in alerts if a["kind"] == "duplicate_benefit")
    answered_id = alert_id(civil_alert["kind"], civil_alert["source"], civil_alert["record_id"])
    warehouse.answer_alert(answered_id, "核实无误", by="民政", note="两条记录为同一笔发放")
    gone = next(a for a in alerts if a["kind"] == "deceased_still_registered")
    lineage = read_csv(out / "lineage_residents.csv")
    dead_person_records = {r["record_id"] for r in lineage if r["person_id"] == gone["person_id"]}
    health = read_csv(planted / "health_records.csv")
    for row in health:
        if row["record_id"] in dead_person_records:
            row["death_date"] = ""
    with (planted / "health_records.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(health[0]))
        writer.writeheader()
        writer.writerows(health)

    again = tmp_path / "out2"
    assert run_demo(data=planted, people=0, seed=0, out=again, full=True) == 0  # full workbooks carry the 核验 sheet
    later = read_csv(again / "alerts.csv")
    assert gone["record_id"] not in {a["record_id"] for a in later if a["kind"] == "deceased_still_registered"}
    states = warehouse.alert_states().set_index("alert_id")
    assert states.loc[alert_id(gone["kind"], gone["source"], gone["record_id"]), "status"] == "closed"
    assert states.loc[answered_id, "status"] == "answered"
    civil_rows = {str(r["核验编号"]): r for r in verification_rows(again, "civil")}
    assert (civil_rows[answered_id]["状态"], civil_rows[answered_id]["核验结果"]) == ("已答复", "核实无误")

    run_id = json.loads((again / "summary.json").read_text(encoding="utf-8"))["dagster_run_id"]
    checks = dg.DagsterInstance.get().get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    evaluations = [r.event_log_entry.dagster_event.asset_check_evaluation_data for r in checks.records]
    per_department = {e.check_name: e for e in evaluations if e.check_name.startswith("alerts_answered_in_time_")}
    assert set(per_department) == {  # health holds records the community-reported kinds flag
        "alerts_answered_in_time_civil", "alerts_answered_in_time_grid", "alerts_answered_in_time_health"
    }
    assert per_department["alerts_answered_in_time_health"].metadata["open"].value == 0
    civil_metadata = per_department["alerts_answered_in_time_civil"].metadata
    assert civil_metadata["answered"].value == 1
    assert civil_metadata["open"].value == sum(1 for a in later if a["source"] == "civil") - 1
