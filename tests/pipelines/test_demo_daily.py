"""`hub demo` twice on one HUB_HOME, the department files edited in between: the second run gives each
department a 变更 workbook with exactly the edits, pushes only those rows, and each department's
inbox then holds its whole current report."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from stdnum.cn import ric

from pipelines.changes import normalise, table_rows
from pipelines.demo import run_demo
from pipelines.departments import load_report_specs
from pipelines.reporting import build_department_report
from pipelines.warehouse import Warehouse

AS_OF = "2026-03-11"  # a Wednesday: no department's full day
PHONE_HEADERS = {"civil": "电话", "grid": "联系电话", "health": "mobile"}
KEY_HEADERS = {"civil": "编号", "grid": "人员编号", "health": "person_id"}
NEW_PHONE = "13912340000"
BOOKS = {"civil": "civil_民政", "grid": "grid_网格", "health": "health_卫健"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def change_lines(path: Path) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["变更明细"].iter_rows(values_only=True))
    book.close()
    return rows[1:]


def elderly_grid_only(out: Path, data: Path) -> list[tuple[str, dict[str, str]]]:
    """Persons held by one grid record only, born before 1955 (every department covers them)."""
    lineage = read_csv(out / "lineage_residents.csv")
    records: dict[str, list[dict[str, str]]] = {}
    for row in lineage:
        records.setdefault(row["person_id"], []).append(row)
    grid = {row["记录编号"]: row for row in read_csv(data / "grid_residents.csv")}
    chosen = []
    for person_id, rows in sorted(records.items()):
        if len(rows) == 1 and rows[0]["source"] == "grid":
            row = grid[rows[0]["record_id"]]
            if row["出生日期"][:4].isdigit() and int(row["出生日期"][:4]) < 1955 and len(row["联系电话"]) == 11:
                chosen.append((person_id, row))
    return chosen


@pytest.fixture()
def daily_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / '.hub' / 'warehouse.sqlite'}")
    monkeypatch.setenv("HUB_AS_OF", AS_OF)
    return tmp_path


def test_second_demo_delivers_each_department_exactly_the_edits(daily_env: Path, bench_small: Path) -> None:
    data = daily_env / "data"
    shutil.copytree(bench_small, data)
    first = daily_env / "out1"
    assert run_demo(data=data, people=0, seed=0, out=first) == 0
    summary = json.loads((first / "summary.json").read_text(encoding="utf-8"))
    assert summary["change_workbooks"] == []
    assert {d["delivery"] for d in summary["deliveries"].values()} == {"full"}

    (edited_id, edited), (removed_id, removed) = elderly_grid_only(first, data)[:2]
    grid_rows = read_csv(data / "grid_residents.csv")
    newcomer = dict(edited)
    stem = "35060319450505301"
    newcomer.update(
        记录编号="G09999999",
        姓名="欧阳新来",
        公民身份号码=stem + ric.calc_check_digit(stem),
        出生日期="1945-05-05",
        性别="女",
        联系电话="13655554444",
        现住址=edited["现住址"].split("社区")[0] + "社区新华路999号",
    )
    for row in grid_rows:
        if row["记录编号"] == edited["记录编号"]:
            row["联系电话"] = NEW_PHONE
    grid_rows = [row for row in grid_rows if row["记录编号"] != removed["记录编号"]] + [newcomer]
    write_csv(data / "grid_residents.csv", grid_rows)

    second = daily_env / "out2"
    assert run_demo(data=data, people=0, seed=0, out=second) == 0
    after = json.loads((second / "summary.json").read_text(encoding="utf-8"))
    lineage = {(r["source"], r["record_id"]): r["person_id"] for r in read_csv(second / "lineage_residents.csv")}
    new_id = lineage["grid", "G09999999"]
    assert not any(r["person_id"] == new_id for r in read_csv(first / "lineage_residents.csv"))

    reports = sorted(p.name for p in (second / "reports").glob("*.xlsx"))
    assert (
        reports
        == sorted(after["change_workbooks"])
        == [f"civil_民政_变更_{AS_OF}.xlsx", f"grid_网格_变更_{AS_OF}.xlsx", f"health_卫健_变更_{AS_OF}.xlsx"]
    ), "an incremental day brings change workbooks only"
    for name in ("civil", "grid", "health"):
        lines = change_lines(second / "reports" / f"{BOOKS[name]}_变更_{AS_OF}.xlsx")
        assert {line[:2] for line in lines} == {(edited_id, "修改"), (removed_id, "删除"), (new_id, "新增")}, name
        modified = [line for line in lines if line[1] == "修改"]
        assert [(line[2], line[4]) for line in modified] == [(PHONE_HEADERS[name], NEW_PHONE)], name
        delivery = after["deliveries"][name]
        assert delivery["delivery"] == "changes" and delivery["change_rows_pushed"] == 3, name

    warehouse = Warehouse.from_url(f"sqlite:///{daily_env / '.hub' / 'warehouse.sqlite'}")
    persons, incidents = warehouse.read_table("golden_persons"), warehouse.read_table("incidents")
    specs = load_report_specs()
    for name in ("civil", "grid", "health"):
        report = build_department_report(specs[name], persons, incidents, as_of=date.fromisoformat(AS_OF))
        held = json.loads((second / "reports" / f"{name}_received.json").read_text(encoding="utf-8"))
        for table in report.tables:
            rows = [row for batch in held if batch["report"] == f"{name}/{table.sheet}" for row in batch["rows"]]
            key = KEY_HEADERS[name] if table.covers == "persons" else "事件编号"
            assert {str(row[key]): normalise(row) for row in rows} == table_rows(table), (name, table.sheet)
