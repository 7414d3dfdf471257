"""The xlsx writer: opens with openpyxl, keeps identifiers as text, neutralises formulas, is fast."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd

from connectors.workbook import (
    MAX_WIDTH,
    CoverSheet,
    TableSheet,
    column_widths,
    neutralise_formula,
    write_workbook,
)


def test_neutralise_formula_prefixes_dangerous_starts_only() -> None:
    assert neutralise_formula('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert [neutralise_formula(v) for v in ("+1", "-2", "@SUM(A1)", "\tx")] == [
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
    ]
    assert neutralise_formula("张三") == "张三"


def test_sheet_opens_with_text_ids_styled_frozen_filtered_header(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "姓名": ['=HYPERLINK("x")', "李四", None],
            "身份证号": ["350603195001011234", "35060319500101123X", None],
            "电话": ["13912345678", "0596-1234567", ""],
            "月发放金额": [800.0, None, 1234.5],
        }
    )
    cover = CoverSheet("测试报表", [("运行编号", "run-1")], ("列名", "来源"), [("身份证号", "grid 2")])
    sheet = TableSheet("名单", frame, {"月发放金额": "0.00"}, frozenset({"身份证号", "电话"}))
    path = write_workbook(tmp_path / "out" / "report.xlsx", [sheet], cover)

    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "名单"]
    ws = wb["名单"]
    assert [cell.value for cell in ws[1]] == ["姓名", "身份证号", "电话", "月发放金额"]
    assert ws["A2"].value == '\'=HYPERLINK("x")' and ws["A2"].data_type == "s"
    assert ws["B2"].value == "350603195001011234" and ws["B2"].data_type == "s"
    assert ws["B2"].number_format == "@"
    assert ws["C2"].value == "13912345678" and ws["C2"].data_type == "s"
    assert ws["D2"].value == 800 and ws["D2"].number_format == "0.00"
    assert ws["D3"].value is None and ws["B4"].value is None
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:D4"
    assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("305496")
    assert ws.column_dimensions["B"].width >= 18
    assert wb["说明"]["A1"].value == "测试报表"
    assert wb["说明"]["B3"].value == "run-1"


def test_twenty_thousand_rows_all_written_with_identifiers_as_text(tmp_path: Path) -> None:
    rows = 20_000
    frame = pd.DataFrame(
        {
            "编号": [f"P{n:06d}" for n in range(rows)],
            "姓名": [f"居民{n}" for n in range(rows)],
            "身份证号": [f"35060319500101{n % 10000:04d}" for n in range(rows)],
            "电话": [f"139{n:08d}" for n in range(rows)],
            "地址": ["福建省漳州市芗城区某街道某社区幸福路12号3栋2单元501室"] * rows,
            "年龄": [60 + n % 40 for n in range(rows)],
            "金额": [800.5] * rows,
            "类型": ["低保"] * rows,
        }
    )
    path = write_workbook(
        tmp_path / "big.xlsx",
        [TableSheet("名单", frame, {"年龄": "0", "金额": "0.00"}, frozenset({"身份证号", "电话"}))],
    )
    with zipfile.ZipFile(path) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert sheet_xml.count("<row ") == rows + 1
    book = openpyxl.load_workbook(path, read_only=True)
    last = next(book["名单"].iter_rows(min_row=rows + 1, max_row=rows + 1, values_only=True))
    assert last[2] == f"35060319500101{(rows - 1) % 10000:04d}" and last[3] == f"139{rows - 1:08d}"
    assert last[5] == 60 + (rows - 1) % 40


def test_column_widths_measure_every_value_that_could_be_widest() -> None:
    headers = ["编号", "地址", "日期", "空"]
    rows = [
        ["A1", "x" * 20, dt.date(2026, 1, 5), None],
        ["A22", "新华路" * 5, dt.date(2026, 1, 6), None],  # 15 wide characters: 30 units, wider than 21 ASCII
        ["A333", "y" * 21, None, None],
    ]
    widths = column_widths(headers, rows, {"日期": 'yyyy"年"m"月"d"日"'})
    assert widths == [6.0, 32.0, 16.0, 6.0]
    assert column_widths(["长"], [["长" * 40]]) == [MAX_WIDTH]
