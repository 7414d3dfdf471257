"""The bulk-export writer (XlsxWriter): the same workbook the openpyxl writer gives, cell for cell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd

from connectors.bulk_workbook import write_bulk_workbook
from connectors.workbook import CoverSheet, TableSheet, write_workbook


def sheets() -> tuple[list[TableSheet], CoverSheet]:
    frame = pd.DataFrame(
        {
            "姓名": ['=HYPERLINK("x")', "李四", None],
            "身份证号": ["350603195001011234", "35060319500101123X", None],
            "电话": ["13912345678", "0596-1234567", ""],
            "月发放金额": [800.0, None, 1234.5],
            "备注": ["http://example.invalid", "0012", "+86"],
        }
    )
    cover = CoverSheet("测试报表", [("运行编号", "run-1")], ("列名", "来源"), [("身份证号", "grid 2")])
    table = TableSheet("名单", frame, {"月发放金额": "0.00"}, frozenset({"身份证号", "电话"}))
    return [table, TableSheet("空表", frame.iloc[:0])], cover


def test_bulk_writer_gives_the_same_cells_formats_and_header(tmp_path: Path) -> None:
    tables, cover = sheets()
    bulk = openpyxl.load_workbook(write_bulk_workbook(tmp_path / "bulk" / "r.xlsx", tables, cover))
    styled = openpyxl.load_workbook(write_workbook(tmp_path / "r.xlsx", tables, cover))
    assert bulk.sheetnames == styled.sheetnames == ["说明", "名单", "空表"]
    for name in bulk.sheetnames:
        assert [[c.value for c in row] for row in bulk[name].iter_rows()] == [
            [c.value for c in row] for row in styled[name].iter_rows()
        ], name
    ws = bulk["名单"]
    assert ws["A2"].value == '\'=HYPERLINK("x")' and ws["A2"].data_type == "s"
    assert ws["B2"].data_type == "s" and ws["B2"].number_format == "@"
    assert ws["C3"].value == "0596-1234567" and ws["C3"].number_format == "@"
    assert ws["D2"].value == 800 and ws["D2"].number_format == "0.00"
    assert ws["E2"].data_type == "s" and ws["E3"].value == "0012" and ws["E4"].value == "'+86"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E4"
    assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("305496")
    assert ws.column_dimensions["B"].width >= 18
    assert bulk["说明"]["A1"].value == "测试报表" and bulk["说明"]["A1"].font.bold
    assert bulk["说明"]["B3"].value == "run-1"


def test_both_writers_set_up_every_sheet_for_printing_and_write_real_dates(tmp_path: Path) -> None:
    """Landscape, one page wide, the header row on every page, page numbers in the footer; a date
    is a date cell with its format; a count on the cover is a number."""
    frame = pd.DataFrame({"姓名": ["张三", "李四"], "出生日期": pd.Series([dt.date(1950, 1, 2), None], dtype=object)})
    table = TableSheet("名单", frame, {"出生日期": "yyyy-mm-dd"})
    cover = CoverSheet("测试报表", [("名单 行数", 2)])
    for writer in (write_workbook, write_bulk_workbook):
        book = openpyxl.load_workbook(writer(tmp_path / f"{writer.__name__}.xlsx", [table], cover))
        for ws in book.worksheets:
            assert ws.page_setup.orientation == "landscape", (writer.__name__, ws.title)
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
            assert ws.page_setup.fitToWidth in (1, None)  # 1 is the default, which a writer may leave out
            assert ws.oddFooter.center.text == "第 &P 页，共 &N 页", writer.__name__
        assert book["名单"].print_title_rows == "$1:$1", writer.__name__
        birth = book["名单"]["B2"]
        assert birth.is_date and birth.value == dt.datetime(1950, 1, 2) and birth.number_format == "yyyy-mm-dd"
        assert book["说明"]["B3"].value == 2 and book["说明"]["B3"].data_type == "n"


def test_a_date_column_is_as_wide_as_its_format_shows_it(tmp_path: Path) -> None:
    """1953年9月29日 is wider than 1953-09-29: a column sized on the ISO text prints as ###."""
    births = pd.Series([dt.date(1953, 12, 29)], dtype=object)
    table = TableSheet("名单", pd.DataFrame({"出生": births}), {"出生": 'yyyy"年"m"月"d"日"'})
    for writer in (write_workbook, write_bulk_workbook):
        book = openpyxl.load_workbook(writer(tmp_path / f"{writer.__name__}.xlsx", [table]))
        assert book["名单"].column_dimensions["A"].width >= 16, writer.__name__  # 1953年12月29日 + margin
