"""Enter once: a dropped intake workbook flows through the same validation; bad rows go back marked."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import openpyxl
import pytest

from connectors.intake_workbook import write_intake_template
from pipelines.demo import run_demo
from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.sensors import community_inbox_sensor


def fill_intake(path: Path) -> Path:
    write_intake_template(path)
    book = openpyxl.load_workbook(path)
    residents = book["居民信息"]
    headers = [cell.value for cell in residents[1]]
    rows = [
        {"姓名": "陈丽婷", "公民身份号码": "35060319900101124X", "性别": "女", "出生日期": "1990-01-01",
         "联系电话": "13912345678", "现住址": "幸福路12号3栋2单元501室"},
        {"姓名": "", "公民身份号码": "", "性别": "男", "出生日期": "1985-02-30",
         "联系电话": "", "现住址": "幸福路12号3栋2单元502室"},
    ]
    for offset, row in enumerate(rows, start=2):
        for column, header in enumerate(headers, start=1):
            if header in row:
                residents.cell(row=offset, column=column, value=row[header])
    events = book["事件上报"]
    event_headers = [cell.value for cell in events[1]]
    event = {"事件类型": "违章搭建", "发生时间": "2026-10-02 09:30", "事发地点": "幸福路12号3栋",
             "事件描述": "绿地上搭了棚子", "处置状态": "上报"}
    for column, header in enumerate(event_headers, start=1):
        if header in event:
            events.cell(row=2, column=column, value=event[header])
    book.save(path)
    return path


def test_dropped_intake_workbook_is_accepted_except_its_bad_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bench_small: Path
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'w.sqlite'}")
    inbox = tmp_path / ".hub" / "community-inbox"
    inbox.mkdir(parents=True)
    fill_intake(inbox / "幸福社区_1101.xlsx")

    out = tmp_path / "out"
    assert run_demo(data=bench_small, people=0, seed=0, out=out) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["received"]["intake"] == 2
    assert summary["accepted"]["intake"] == 1
    assert summary["quarantined"]["intake"] == 1
    assert summary["accepted"]["intake_events"] == 1
    lineage = (out / "lineage_residents.csv").read_text(encoding="utf-8")
    assert "intake,幸福社区_1101:居民信息:2," in lineage

    rejected = inbox / "rejected" / "幸福社区_1101_退回修改.xlsx"
    book = openpyxl.load_workbook(rejected)
    sheet = book["居民信息"]
    headers = [cell.value for cell in sheet[1]]
    name_cell = sheet.cell(row=2, column=headers.index("姓名") + 1)
    assert name_cell.comment is not None and "姓名" in name_cell.comment.text
    assert sheet.cell(row=3, column=1).value in (None, "")


def test_sensor_requests_one_run_per_new_workbook(tmp_path: Path) -> None:
    inbox = CommunityInboxResource(path=str(tmp_path))
    context = dg.build_sensor_context(resources={"community_inbox": inbox})
    assert isinstance(community_inbox_sensor(context), dg.SkipReason)
    fill_intake(tmp_path / "社区A.xlsx")
    result = community_inbox_sensor(context)
    assert isinstance(result, dg.SensorResult) and len(result.run_requests or []) == 1
    again = dg.build_sensor_context(resources={"community_inbox": inbox}, cursor=result.cursor)
    assert isinstance(community_inbox_sensor(again), dg.SkipReason)
