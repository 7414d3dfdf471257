"""The hidden return marker: written by either workbook library, read back by content, not by name."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd

from connectors.bulk_workbook import write_bulk_workbook
from connectors.return_marker import MARKER_SHEET, ReturnMarker, add_marker_openpyxl, recognise_return
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
