"""read_civil_inbox on real .xlsx exports: title rows, text IDs, missing columns, processed files."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from connectors.civil_inbox import (
    SheetRow,
    move_to_processed,
    read_civil_inbox,
    read_civil_workbook,
)
from connectors.inbox import move_rejected
from connectors.simulated.civil_system import CivilAffairsSystem
from hub_errors import SourceError
from schemas.standardize import accounting, standardize

REQUIRED = ["编号", "姓名", "身份证号"]


def test_split_export_is_read_whole_with_ids_as_text(bench_small: Path, tmp_path: Path) -> None:
    with (bench_small / "civil_affairs.csv").open(encoding="utf-8", newline="") as handle:
        expected = list(csv.DictReader(handle))
    inbox = tmp_path / "inbox"
    with CivilAffairsSystem(bench_small / "civil_affairs.csv", inbox, rows_per_workbook=40) as civil:
        assert len(civil.workbooks) == -(-len(expected) // 40) > 1
        title = openpyxl.load_workbook(civil.workbooks[0])["救助与补贴对象名册"]
        assert str(title["A1"].value).startswith("XX区民政局救助与补贴对象名册（导出时间：")
        assert title["C3"].number_format == "@"
        read = read_civil_inbox(inbox, REQUIRED)
    rows = read.rows
    assert [row.values for row in rows] == expected
    assert read.files == civil.workbooks and not read.rejected and not read.duplicates
    assert (rows[0].file, rows[0].row_number) == (civil.workbooks[0].name, 3)
    assert (rows[40].file, rows[40].row_number) == (civil.workbooks[1].name, 3)


def write_workbook(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("A1:D1")
    workbook.save(path)
    return path


def test_numeric_id_cells_stay_recognisable_as_numbers(tmp_path: Path) -> None:
    """An ID typed into a number cell loses its last digits (a double holds ~15); it reads in
    exponent notation, as a spreadsheet shows it, so the schema knows it arrived as a number and
    never takes it for an identity (however its check digit comes out)."""
    path = write_workbook(
        tmp_path / "mangled.xlsx",
        [
            ["民政局名册（导出时间：2026-03-01）"],
            [],
            ["编号", "姓名", "身份证号", "月发放金额"],
            ["C1", "王五", 350604193610010014, 680.0],
            ["C2", "赵六", 3.50604193610010e17, 512.5],
            ["C3", "钱七", "35060419361001001X", None],
            [None, None, None, None],
        ],
    )
    rows = list(read_civil_workbook(path, REQUIRED))
    assert [(row.row_number, row.values["身份证号"], row.values["月发放金额"]) for row in rows] == [
        (4, "3.5060419361001E+17", "680"),
        (5, "3.5060419361001E+17", "512.5"),
        (6, "35060419361001001X", ""),
    ]


def test_missing_column_names_file_and_column_before_any_row(tmp_path: Path) -> None:
    layout = [["名册"], ["编号", "姓名", "证件号码", "电话"], ["C1", "王五", "1", "2"]]
    path = write_workbook(tmp_path / "old_layout.xlsx", layout)
    rows = read_civil_workbook(path, REQUIRED)
    with pytest.raises(SourceError, match=r"old_layout\.xlsx.*身份证号"):
        next(rows)


def test_header_found_without_required_columns(tmp_path: Path) -> None:
    layout = [["标题"], ["编号", "姓名", "身份证号"], ["C1", " 王五 ", "x"]]
    path = write_workbook(tmp_path / "a.xlsx", layout)
    assert list(read_civil_workbook(path)) == [SheetRow("a.xlsx", 3, {"编号": "C1", "姓名": " 王五 ", "身份证号": "x"})]


def test_processed_files_move_out_of_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = write_workbook(inbox / "a.xlsx", [["标题"], ["编号", "姓名", "身份证号"], ["C1", "王五", "x"]])
    (inbox / "~$a.xlsx").write_bytes(b"lock")
    read = read_civil_inbox(inbox)
    assert len(read.rows) == 1 and not read.rejected
    moved = move_to_processed(read.files)
    assert moved == [inbox / "processed" / "a.xlsx"] and not first.exists()
    assert read_civil_inbox(inbox).rows == []


def test_a_damaged_file_is_rejected_and_the_others_are_read(tmp_path: Path) -> None:
    write_workbook(tmp_path / "a.xlsx", [["标题"], ["编号", "姓名", "身份证号"], ["C1", "王五", "x"]])
    (tmp_path / "broken.xlsx").write_text("not a workbook")
    read = read_civil_inbox(tmp_path, REQUIRED)
    assert [row.values["编号"] for row in read.rows] == ["C1"]
    assert [(r.path.name, r.check) for r in read.rejected] == [("broken.xlsx", "unreadable")]
    assert "损坏" in read.rejected[0].reason


def test_every_file_in_an_unagreed_layout_stops_the_source_with_the_missing_column(tmp_path: Path) -> None:
    write_workbook(
        tmp_path / "old_layout.xlsx", [["名册"], ["编号", "姓名", "证件号码", "电话"], ["C1", "王五", "1", "2"]]
    )
    with pytest.raises(SourceError, match=r"old_layout\.xlsx.*身份证号"):
        read_civil_inbox(tmp_path, REQUIRED)
    write_workbook(tmp_path / "b.xlsx", [["标题"], ["编号", "姓名", "身份证号"], ["C2", "赵六", "y"]])
    read = read_civil_inbox(tmp_path, REQUIRED)
    assert [row.values["编号"] for row in read.rows] == ["C2"]
    assert [(r.path.name, r.check) for r in read.rejected] == [("old_layout.xlsx", "layout")]
    assert "身份证号" in read.rejected[0].reason


def civil_with(faults: Sequence[str], bench: Path, inbox: Path) -> tuple[CivilAffairsSystem, list[dict[str, str]]]:
    with (bench / "civil_affairs.csv").open(encoding="utf-8", newline="") as handle:
        expected = list(csv.DictReader(handle))
    return CivilAffairsSystem(bench / "civil_affairs.csv", inbox, rows_per_workbook=20, faults=faults), expected


def test_declared_dimension_merged_name_header_and_odd_suffixes_lose_no_row(bench_small: Path, tmp_path: Path) -> None:
    civil, expected = civil_with(["dimension", "merged_header", "suffixes", "long_name"], bench_small, tmp_path)
    with civil:
        assert {p.suffix for p in civil.workbooks} >= {".XLSX", ".xlsm", ".xlsx"}
        assert max(len(p.name.encode()) for p in civil.workbooks) >= 240
        read = read_civil_inbox(tmp_path, REQUIRED)
    assert not read.rejected and not read.duplicates
    by_id = {row.values["编号"]: row.values for row in read.rows}
    assert len(read.rows) == len(expected) == len(by_id), "the file declaring A1:I3 is read whole"
    assert all(by_id[row["编号"]] == row for row in expected), "王五 split over a merged header reads 王五"
    assert max(len(row.file) for row in read.rows) <= 60, "a long file name is shortened in row references"


def test_excel_fake_leap_day_and_escaped_control_character_reach_the_schema(bench_small: Path, tmp_path: Path) -> None:
    civil, expected = civil_with(["fake_leap_day", "control_chars", "huge_name"], bench_small, tmp_path)
    with civil:
        read = read_civil_inbox(tmp_path, REQUIRED)
    by_id = {row.values["编号"]: row.values for row in read.rows}
    assert len(by_id) == len(expected)
    leap, tab, huge = (by_id[expected[index]["编号"]] for index in (5, 6, 7))
    assert leap["出生年月"] == "1900-02-29", "serial 60 is Excel's nonexistent day, not 1900-02-28"
    assert tab["姓名"] == expected[6]["姓名"][:1] + "\x0b" + expected[6]["姓名"][1:]
    assert len(huge["姓名"]) == 32_767


def test_bad_entries_are_rejected_with_reasons_and_a_copy_is_read_once(bench_small: Path, tmp_path: Path) -> None:
    civil, expected = civil_with(["bad_entries", "duplicate_export", "newer_export"], bench_small, tmp_path)
    with civil:
        read = read_civil_inbox(tmp_path, REQUIRED)
    checks = {r.path.name.split("_坏_")[-1]: r.check for r in read.rejected}
    assert checks == {
        "损坏.xlsx": "unreadable",
        "旧版.xls": "legacy_format",
        "文件夹.xlsx": "folder",
        "快捷方式.xlsx": "symlink",
        "名\x0b字.xlsx": "name_control_chars",
    }
    assert all(r.reason and "\x0b" not in r.reason for r in read.rejected)
    assert "另存为 .xlsx 后重新放入" in next(r.reason for r in read.rejected if r.check == "legacy_format")
    assert len(read.duplicates) == 1
    ids = [row.values["编号"] for row in read.rows]
    assert len(ids) == len(expected) + 2 and len(set(ids)) == len(expected), "the newer export repeats 2 ids"
    assert read.rows[-1].file.endswith("_更新.xlsx"), "the newer export is received last, so it wins"

    moved = move_rejected(read.rejected, tmp_path / "rejected")
    assert len(moved) == 5 and (tmp_path / "rejected" / "救助与补贴对象名册_坏_快捷方式.xlsx").is_symlink()
    notes = sorted((tmp_path / "rejected").glob("*.退回原因.txt"))
    assert len(notes) == 5 and "损坏" in next(n for n in notes if "损坏" in n.name).read_text(encoding="utf-8")
    assert civil.workbooks[0].exists(), "a rejected link moves, never the file it points to"
    assert not read_civil_inbox(tmp_path, REQUIRED).rejected


def test_a_rejected_file_with_a_240_byte_name_still_gets_its_note(tmp_path: Path) -> None:
    name = "民政" + "长" * 76 + "xx.xls"
    assert len(name.encode()) >= 240
    (tmp_path / name).write_bytes(b"\xd0\xcf\x11\xe0")
    read = read_civil_inbox(tmp_path, REQUIRED)
    moved = move_rejected(read.rejected, tmp_path / "rejected")
    assert len(moved) == 1 and moved[0].exists()
    assert len(list((tmp_path / "rejected").glob("*.退回原因.txt"))) == 1


def test_a_cell_merged_down_a_household_gives_each_row_its_value(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "household.xlsx",
        [
            ["名册"],
            ["编号", "姓名", "身份证号", "户籍地址"],
            ["C1", "王五", "x", "幸福路12号3栋501室"],
            ["C2", "王六", "y", None],
            ["C3", "赵七", "z", "新华路3号"],
        ],
    )
    book = openpyxl.load_workbook(path)
    book.active.merge_cells("D3:D4")  # type: ignore[union-attr]
    book.save(path)
    rows = list(read_civil_workbook(path, REQUIRED))
    assert [row.values["户籍地址"] for row in rows] == ["幸福路12号3栋501室", "幸福路12号3栋501室", "新华路3号"]


def test_the_whole_export_dropped_again_later_quarantines_nothing(bench_small: Path, tmp_path: Path) -> None:
    """A second export of the same roster (another export time, so other bytes) replaces the first
    record by record: every record once, its earlier copy superseded, none quarantined for it."""
    inbox, first = tmp_path / "inbox", tmp_path / "first"
    csv_path = bench_small / "civil_affairs.csv"
    with CivilAffairsSystem(csv_path, inbox, rows_per_workbook=25, exported_at=datetime(2026, 3, 1, 8)) as once:
        alone = standardize("residents", "civil", rows_frame(read_civil_inbox(inbox, REQUIRED).rows))
        shutil.copytree(inbox, first)
    with CivilAffairsSystem(csv_path, inbox, rows_per_workbook=25, exported_at=datetime(2026, 3, 2, 8)):
        for path in first.iterdir():
            shutil.copy(path, inbox / path.name)
            os.utime(inbox / path.name, (1, 1))  # the older export is older on disk too
        read = read_civil_inbox(inbox, REQUIRED)
    assert len(read.files) == 2 * len(once.workbooks) and not read.duplicates
    twice = standardize("residents", "civil", rows_frame(read.rows))
    assert accounting(twice) == {**accounting(alone), "superseded": accounting(alone)["received"]}


def rows_frame(rows: Sequence[SheetRow]) -> pd.DataFrame:
    return pd.DataFrame([row.values for row in rows], dtype=object).fillna("")
