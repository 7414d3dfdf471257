"""read_civil_inbox on real .xlsx exports: title rows, text IDs, missing columns, processed files."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from connectors.civil_inbox import (
    SheetRow,
    move_to_processed,
    read_civil_inbox,
    read_civil_workbook,
)
from connectors.simulated.civil_system import CivilAffairsSystem
from hub_errors import SourceError

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
        finished: list[Path] = []
        rows = list(read_civil_inbox(inbox, REQUIRED, on_file_done=finished.append))
    assert [row.values for row in rows] == expected
    assert finished == civil.workbooks
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
    assert list(read_civil_workbook(path)) == [
        SheetRow("a.xlsx", 3, {"编号": "C1", "姓名": " 王五 ", "身份证号": "x"})
    ]


def test_processed_files_move_out_of_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = write_workbook(inbox / "a.xlsx", [["标题"], ["编号", "姓名", "身份证号"], ["C1", "王五", "x"]])
    (inbox / "~$a.xlsx").write_bytes(b"lock")
    finished: list[Path] = []
    assert len(list(read_civil_inbox(inbox, on_file_done=finished.append))) == 1
    moved = move_to_processed(finished)
    assert moved == [inbox / "processed" / "a.xlsx"] and not first.exists()
    assert list(read_civil_inbox(inbox)) == []


def test_unreadable_file_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "broken.xlsx").write_text("not a workbook")
    with pytest.raises(SourceError, match=r"broken\.xlsx"):
        list(read_civil_inbox(tmp_path))
