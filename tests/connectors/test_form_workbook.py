"""A form workbook carries the shared return marker (kind form) and is read back by it."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from connectors.form_workbook import DATA_SHEET, FormColumn, FormMarker, read_form_return, write_form_workbook
from connectors.return_marker import (
    FORM_KIND,
    LEGACY_FORM_SHEET,
    MARKER_SHEET,
    ReturnMarker,
    add_marker_openpyxl,
    recognise_return,
)

MARKER = FormMarker("elderly", "0a1b2c3d4e5f6a7b", "新华社区", "独居老人摸排", "2026-12-15")
COLUMNS = [FormColumn("姓名", prefilled=True), FormColumn("是否独居", prefilled=False, choices=("是", "否"))]


def test_a_new_form_workbook_carries_the_return_marker_of_kind_form(tmp_path: Path) -> None:
    path = write_form_workbook(tmp_path / "表.xlsx", MARKER, COLUMNS, [["陈秀兰", None]], ["P1"], [])
    book = openpyxl.load_workbook(path)
    assert MARKER_SHEET in book.sheetnames and LEGACY_FORM_SHEET not in book.sheetnames
    assert book[MARKER_SHEET].sheet_state == "veryHidden"
    assert book.active.title == DATA_SHEET, "staff open the data sheet, never the marker"
    facts = {"form": "elderly", "community": "新华社区", "title": "独居老人摸排", "due": "2026-12-15"}
    assert recognise_return(path) == ReturnMarker(FORM_KIND, MARKER.send_id, facts)
    returned = read_form_return(path)
    assert returned is not None and returned.marker == MARKER


def test_a_workbook_of_another_kind_is_no_form_return(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    add_marker_openpyxl(book, ReturnMarker("roster", "MC0123456789AB"))
    book.save(tmp_path / "名册.xlsx")
    assert read_form_return(tmp_path / "名册.xlsx") is None
