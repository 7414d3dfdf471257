"""`hub demo` with faults injected into the simulated systems and the community inbox, on PostgreSQL.

Damaged, misnamed and duplicate files, a workbook that lies about its size, a 5 MB name, NUL and
vertical-tab characters, Excel's fake 1900-02-29 and a record pulled twice: the run completes, every
department gets its reports, every row pulled ends accepted or quarantined with a reason, and each
fault is reported where a steward looks (rejected/ folders, summary.json, asset metadata).
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.intake_workbook import write_intake_template
from connectors.simulated.civil_system import CIVIL_FAULTS, FAULTS_ENV
from pipelines.demo import run_demo

HUGE = "王" * 1_750_000  # 5 MB in UTF-8


def rewrite_csv(path: Path, changes: dict[int, dict[str, str]]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for index, change in changes.items():
        rows[index].update(change)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def faulty_data(bench: Path, folder: Path) -> dict[str, list[dict[str, str]]]:
    """Bench files with a 5 MB name and a NUL in the health system, a vertical tab in the grid's."""
    folder.mkdir()
    for path in bench.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    with (bench / "health_records.csv").open(encoding="utf-8", newline="") as handle:
        first = next(csv.DictReader(handle))
    name = first["name"]
    health = rewrite_csv(folder / "health_records.csv", {0: {"name": HUGE}, 1: {"name": f"李\x00{name[1:]}"}})
    grid = rewrite_csv(folder / "grid_residents.csv", {2: {"姓名": "王\x0b五"}})
    with (bench / "civil_affairs.csv").open(encoding="utf-8", newline="") as handle:
        civil = list(csv.DictReader(handle))
    return {"health": health, "grid": grid, "civil": civil}


def intake_workbook(path: Path, row: list[str]) -> Path:
    write_intake_template(path)
    book = openpyxl.load_workbook(path)
    book["居民信息"].append(row)
    book.save(path)
    return path


def messy_community_inbox(inbox: Path) -> None:
    inbox.mkdir(parents=True)
    good = intake_workbook(
        inbox / "幸福社区_1101.xlsx",
        ["陈丽婷", "35060319900101124X", "女", "1990-01-01", "", "幸福路12号3栋2单元501室"],
    )
    shutil.copy2(good, inbox / "幸福社区_1101 - 副本.xlsx")
    (inbox / "损坏.xlsx").write_bytes(good.read_bytes()[:1500])
    (inbox / "旧版.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1"))
    (inbox / "文件夹.xlsx").mkdir()
    (inbox / "链接.xlsx").symlink_to(good)
    intake_workbook(
        inbox / ("社区" + "长" * 77 + ".xlsx"), ["王五", "", "男", "1950-03-01", "", "新华路3号1栋2单元301室"]
    )


def test_faulty_sources_and_files_do_not_stop_the_run_and_every_row_is_accounted_for(
    tmp_path: Path, bench_small: Path, pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / ".hub"
    monkeypatch.setenv("HUB_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv(FAULTS_ENV, ",".join(CIVIL_FAULTS))
    schema = f"hub_files_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = pg_engine.url.set(query={"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    data = faulty_data(bench_small, tmp_path / "data")
    messy_community_inbox(home / "community-inbox")
    out = tmp_path / "out"
    field_limit = csv.field_size_limit(len(HUGE.encode()) * 2)  # the simulated health system loads its CSV
    try:
        assert run_demo(data=tmp_path / "data", people=0, seed=0, out=out) == 0
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        with pg_engine.connect() as conn:
            std = pd.read_sql(
                sa.text(f'select source, record_id, name, quality_flags from "{schema}".std_residents'), conn
            )
            landed = conn.execute(sa.text(f'select count(*) from "{schema}".raw_records')).scalar_one()
    finally:
        csv.field_size_limit(field_limit)
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))

    for source, received in summary["received"].items():
        assert received == summary["accepted"][source] + summary["quarantined"][source], source
    assert landed == sum(summary["received"].values()) + sum(summary["superseded"].values())
    assert summary["received"]["civil"] == len(data["civil"]), "every civil record, each once"
    assert summary["superseded"]["civil"] == 2, "the newer export's 2 rows replace the older copies"
    assert summary["received"]["health"] == len(data["health"])
    assert summary["received"]["intake"] == 2, "a copy is read once; a long-named workbook is read"
    assert summary["rejected_files"] == {"civil": 5, "intake": 4, "intake_events": 4}
    assert {"grid_", "health_", "civil_"} <= {p.name[:7].split("_")[0] + "_" for p in (out / "reports").glob("*.xlsx")}

    quarantine = pd.read_csv(out / "quarantine.csv", dtype=str, keep_default_na=False)
    assert (out / "quarantine.csv").stat().st_size < 200_000 and quarantine["value"].str.len().max() <= 60
    checks = quarantine.groupby(["source", "record_id"])["check"].apply(set).to_dict()
    civil_ids = [row["编号"] for row in data["civil"]]
    assert "birth_impossible" in checks[("civil", civil_ids[5])], "Excel's 1900-02-29"
    assert (
        "too_long" in checks[("civil", civil_ids[7])]
        and "too_long" in checks[("health", data["health"][0]["record_id"])]
    )
    assert all(quarantine["reason"] != ""), "every quarantined row says why"

    flagged = std.set_index(["source", "record_id"])
    for key, name in [
        (("grid", data["grid"][2]["记录编号"]), "王五"),
        (("health", data["health"][1]["record_id"]), "李" + data["health"][1]["name"][2:]),
        (("civil", civil_ids[6]), data["civil"][6]["姓名"]),
    ]:
        assert flagged.loc[key, "name"] == name and "name_control_chars" in flagged.loc[key, "quality_flags"], key
    merged_header_rows = {row["编号"]: row["姓名"] for row in data["civil"][-3:]}
    assert all(flagged.loc[("civil", rid), "name"] == name for rid, name in merged_header_rows.items())

    civil_rejected = home / "systems" / "civil_inbox" / "rejected"
    assert len(list(civil_rejected.glob("*.退回原因.txt"))) == 5
    returned = home / "community-inbox" / "rejected"
    assert len(list(returned.glob("*_退回修改.xlsx"))) == 4 and (returned / "链接.xlsx").is_symlink()
    guide = openpyxl.load_workbook(next(returned.glob("旧版.xls*_退回修改.xlsx")))["填写说明"]
    assert "另存为 .xlsx 后重新放入" in str(guide["A2"].value)

    instance = dg.DagsterInstance.get()
    records = instance.get_records_for_run(
        summary["dagster_run_id"], of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    sizes = {r.event_log_entry.asset_materialization.asset_key: len(repr(r.event_log_entry)) for r in records}
    assert max(sizes.values()) < 100_000, "no 5 MB value in the run database"
    raw_civil = next(
        r.event_log_entry.asset_materialization.metadata
        for r in records
        if r.event_log_entry.asset_materialization.asset_key == dg.AssetKey("raw_civil_affairs")
    )
    assert raw_civil["rejected_files"].value == 5 and raw_civil["duplicate_files"].value == 1
