"""The community inbox resource: bad entries set aside with reasons, copies read once, long names."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from connectors.intake_workbook import write_intake_template
from pipelines.resources.community_inbox import CommunityInboxResource

RESIDENT_ROW = ["陈丽婷", "35060319900101124X", "女", "1990-01-01", "13912345678", "幸福路12号3栋2单元501室"]


def intake_workbook(path: Path, *rows: list[object], birth_format: str | None = None) -> Path:
    write_intake_template(path)
    book = openpyxl.load_workbook(path)
    sheet = book["居民信息"]
    for offset, row in enumerate(rows, start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=offset, column=column, value=value)
            if birth_format and column == 4:
                cell.number_format = birth_format
    book.save(path)
    return path


@pytest.fixture
def messy_inbox(tmp_path: Path) -> Path:
    """What a shared folder collects: a good workbook, its copy, and entries that cannot be read."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = intake_workbook(inbox / "幸福社区_1101.xlsx", RESIDENT_ROW)
    shutil.copy2(good, inbox / "幸福社区_1101 - 副本.xlsx")
    long_name = "胜利社区" + "很长的文件名" * 12 + "xxxxxxx.XLSX"
    assert len(long_name.encode()) >= 240
    intake_workbook(inbox / long_name, ["王五", "", "男", 60, "", "新华路3号1栋2单元301室"], birth_format="yyyy-mm-dd")
    (inbox / "损坏.xlsx").write_bytes(good.read_bytes()[:1500])
    (inbox / "旧版.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1"))
    (inbox / "文件夹.xlsx").mkdir()
    (inbox / "链接.xlsx").symlink_to(good)
    shutil.copy(good, inbox / "名\x0b字.xlsx")
    (inbox / "空.xlsm").write_bytes(b"")
    return inbox


def test_bad_entries_are_set_aside_and_the_rest_read_once(messy_inbox: Path) -> None:
    inbox = CommunityInboxResource(path=str(messy_inbox))
    pulled = inbox.pull("residents")
    assert {r.path.name: r.check for r in pulled.rejected} == {
        "损坏.xlsx": "unreadable",
        "旧版.xls": "legacy_format",
        "文件夹.xlsx": "folder",
        "链接.xlsx": "symlink",
        "名\x0b字.xlsx": "name_control_chars",
        "空.xlsm": "empty",
    }
    assert [d.path.name for d in pulled.duplicates] and len(pulled.duplicates) == 1
    names = sorted(row["姓名"] for _, row in pulled.rows)
    assert names == ["王五", "陈丽婷"], "the copy adds no row, the long-named .XLSX is read"
    long_row = next(row for _, row in pulled.rows if row["姓名"] == "王五")
    assert len(long_row["记录编号"]) <= 80 and long_row["出生日期"] == "1900-02-29"
    assert len(inbox.workbooks()) == 3, "the damaged file is found only when opened"
