"""The hidden return marker: written by either workbook library, read back by content, not by name;
a form sent with the older ``_hub_form`` marker still read as a form return."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd

from connectors.bulk_workbook import write_bulk_workbook
from connectors.return_marker import (
    FORM_KIND,
    LEGACY_FORM_SHEET,
    MARKER_SHEET,
    ReturnMarker,
    add_marker_openpyxl,
    marker_sheet_of,
    recognise_return,
)
from connectors.workbook import TableSheet


def test_a_bulk_workbook_carries_its_marker_in_a_hidden_sheet(tmp_path: Path) -> None:
    path = tmp_path / "随便改的名字.xlsx"
    marker = ReturnMarker("roster", "MC0123456789AB", {"community": "胜利社区"})
    write_bulk_workbook(path, [TableSheet("居民名册", pd.DataFrame({"人员编号": ["P1"]}))], None, marker)
    book = openpyxl.load_workbook(path)
    assert book[MARKER_SHEET].sheet_state == "veryHidden"
    assert book.active.title == "居民名册", "the marker never opens first"
    assert recognise_return(path) == marker


def test_an_openpyxl_workbook_saved_again_keeps_its_marker(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    add_marker_openpyxl(book, ReturnMarker("form", "F1"))
    book.save(tmp_path / "a.xlsx")
    again = openpyxl.load_workbook(tmp_path / "a.xlsx")
    again.active["A1"] = "staff typed here"
    again.save(tmp_path / "b.xlsx")
    assert recognise_return(tmp_path / "b.xlsx") == ReturnMarker("form", "F1", {})


def test_workbooks_without_a_marker_or_unreadable_files_are_no_returns(tmp_path: Path) -> None:
    plain = tmp_path / "intake.xlsx"
    openpyxl.Workbook().save(plain)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    no_kind = tmp_path / "no_kind.xlsx"
    book = openpyxl.Workbook()
    book.create_sheet(MARKER_SHEET).append(["send_id", "X"])
    book.save(no_kind)
    assert recognise_return(plain) is None
    assert recognise_return(broken) is None
    assert recognise_return(no_kind) is None


def old_form_workbook(path: Path, first_row: str = "hub-form/1") -> Path:
    """A form workbook as the hub wrote them before the marker was shared: a very hidden ``_hub_form``
    sheet, a tag row, then key/value rows."""
    book = openpyxl.Workbook()
    book.active.title = "填报"
    sheet = book.create_sheet("_hub_form")
    sheet.append([first_row])
    for key, value in (("form", "elderly"), ("send_id", "0a1b2c3d4e5f6a7b"), ("community", "新华社区"),
                       ("title", "独居老人摸排"), ("due", "2026-12-15")):
        sheet.append([key, value])
    sheet.sheet_state = "veryHidden"
    book.save(path)
    return path


def test_a_form_sent_with_the_old_marker_is_recognised_as_a_form_return(tmp_path: Path) -> None:
    old = old_form_workbook(tmp_path / "新华社区_回收.xlsx")
    facts = {"form": "elderly", "community": "新华社区", "title": "独居老人摸排", "due": "2026-12-15"}
    assert recognise_return(old) == ReturnMarker(FORM_KIND, "0a1b2c3d4e5f6a7b", facts)
    assert recognise_return(old_form_workbook(tmp_path / "other.xlsx", first_row="something else")) is None


def test_the_sheet_list_decides_whether_a_workbook_is_opened(tmp_path: Path) -> None:
    plain = tmp_path / "intake.xlsx"
    openpyxl.Workbook().save(plain)
    assert marker_sheet_of(plain) is None
    assert marker_sheet_of(old_form_workbook(tmp_path / "old.xlsx")) == LEGACY_FORM_SHEET
    book = openpyxl.Workbook()
    add_marker_openpyxl(book, ReturnMarker("roster", "R1"))
    book.save(tmp_path / "new.xlsx")
    assert marker_sheet_of(tmp_path / "new.xlsx") == MARKER_SHEET
