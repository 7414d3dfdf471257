"""A community roster's round trip through `hub demo`: three phones corrected in a returned roster
reach the health department's 变更 workbook in the next run, the file leaves the inbox, 已死亡
becomes alerts, and the same file dropped again changes nothing."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from pipelines.demo import run_demo

NEW_PHONES = ("13900001111", "13900002222", "13900003333")


def health_ids(out: Path) -> set[str]:
    path = max((out / "reports").glob("health_卫健_2*.xlsx"))
    sheet = openpyxl.load_workbook(path, read_only=True)["居民名单"]
    return {str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True) if row and row[0]}


def correct(roster: Path, target: Path, health: set[str]) -> tuple[dict[str, str], str]:
    """Three phones of persons the health department holds overwritten, a fourth person 已死亡."""
    book = openpyxl.load_workbook(roster)
    sheet = book["居民名册"]
    header = [cell.value for cell in sheet[1]]
    key, phone, result = header.index("人员编号"), header.index("联系电话"), header.index("核对结果")
    corrected: dict[str, str] = {}
    deceased = ""
    for row in sheet.iter_rows(min_row=2):
        person = str(row[key].value)
        if person in health and row[phone].value and len(corrected) < 3:
            row[phone].value = NEW_PHONES[len(corrected)]
            row[result].value = "信息有误已更正"
            corrected[person] = row[phone].value
        elif len(corrected) == 3 and not deceased:
            row[result].value = "已死亡"
            deceased = person
    book.save(target)
    return corrected, deceased


def change_lines(out: Path, prefix: str) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for path in (out / "reports").glob(f"{prefix}_*变更_*.xlsx"):
        rows = list(openpyxl.load_workbook(path, read_only=True)["变更明细"].iter_rows(values_only=True))
        lines += [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]
    return lines


def corrections(home: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    with engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from roster_corrections")).scalar() or 0)


def test_a_returned_roster_reaches_the_health_department_once(
    tmp_path: Path, bench_small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, out = tmp_path / ".hub", tmp_path / "out"
    monkeypatch.setenv("HUB_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{home / 'warehouse.sqlite'}")
    assert run_demo(data=bench_small, people=0, seed=0, out=out) == 0
    rosters = sorted((out / "rosters").glob("*.xlsx"), key=lambda p: (p.name.startswith("未识别"), -p.stat().st_size))
    dropped = home / "community-inbox" / "核对完毕.xlsx"
    phones, deceased = correct(rosters[0], dropped, health_ids(out))
    assert len(phones) == 3 and deceased
    copy = tmp_path / "copy.xlsx"
    shutil.copy2(dropped, copy)
    for stale in (out / "reports").glob("*变更*.xlsx"):
        stale.unlink()

    assert run_demo(data=bench_small, people=0, seed=0, out=out) == 0
    lines = change_lines(out, "health")
    for person, phone in phones.items():
        assert {"人员编号": person, "变更类型": "修改", "字段": "mobile", "新值": phone}.items() <= next(
            line for line in lines if line["人员编号"] == person and line["字段"] == "mobile"
        ).items()
    assert not dropped.exists() and (home / "community-inbox" / "processed" / "核对完毕.xlsx").exists()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["community_returns"] == {"files": {"applied": 1}, "corrections": 7}  # 3 phones, 4 results
    with (out / "alerts.csv").open(encoding="utf-8") as handle:
        raised = [row for row in csv.DictReader(handle) if row["kind"] == "community_reported_deceased"]
    assert raised and {row["person_id"] for row in raised} == {deceased}
    applied = corrections(home)

    for stale in (out / "reports").glob("*变更*.xlsx"):
        stale.unlink()
    shutil.copy2(copy, home / "community-inbox" / "又放了一次.xlsx")
    assert run_demo(data=bench_small, people=0, seed=0, out=out) == 0
    assert corrections(home) == applied
    assert not [line for line in change_lines(out, "health") if line["新值"] in NEW_PHONES]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["community_returns"] == {"files": {"already_applied": 1}, "corrections": 0}
    assert not list((home / "community-inbox").glob("*.xlsx"))
