"""The hidden marker that makes a workbook the hub sent out recognisable when it comes back.

Community staff rename files, save them under a date, send them through chat apps: a returned
workbook is recognised by what it holds, not by its name. Every workbook the hub sends for staff to
fill in and drop into the community inbox (a pre-filled roster, a form) carries a hidden sheet
``_hub_return`` of key/value rows: ``kind`` (which handler reads it back: ``roster``, ``form``, ...),
``send_id`` (which send it answers, as the warehouse knows it) and whatever else the sender notes.
``recognise_return`` reads it back; a workbook without it is no return (an intake workbook, say).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.workbook.workbook import Workbook as OpenpyxlWorkbook

from connectors.text import value_as_text

MARKER_SHEET = "_hub_return"
KIND_KEY = "kind"
SEND_KEY = "send_id"
MARKER_HEADER = ("key", "value")


@dataclass(frozen=True)
class ReturnMarker:
    """What a sent workbook says about itself: its kind, the send it belongs to, other facts."""

    kind: str
    send_id: str
    facts: Mapping[str, str] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        return [MARKER_HEADER, (KIND_KEY, self.kind), (SEND_KEY, self.send_id), *self.facts.items()]


def add_marker_xlsxwriter(book: Any, marker: ReturnMarker) -> None:
    """Add the hidden marker sheet to an XlsxWriter workbook (after the visible sheets were added)."""
    sheet = book.add_worksheet(MARKER_SHEET)
    for row, (key, value) in enumerate(marker.rows()):
        sheet.write_string(row, 0, str(key))
        sheet.write_string(row, 1, str(value))
    sheet.hide()


def add_marker_openpyxl(book: OpenpyxlWorkbook, marker: ReturnMarker) -> None:
    """Add the hidden marker sheet to an openpyxl workbook."""
    sheet = book.create_sheet(MARKER_SHEET)
    for key, value in marker.rows():
        sheet.append([str(key), str(value)])
    sheet.sheet_state = "hidden"


def recognise_return(path: Path) -> ReturnMarker | None:
    """The marker of a returned workbook, or None when the file carries none (or cannot be opened:
    the intake reader then rejects it with its reason). Reads only the marker sheet."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # a damaged file is the intake reader's to reject, with its own reason
        return None
    try:
        if MARKER_SHEET not in book.sheetnames:
            return None
        values: dict[str, str] = {}
        for row in book[MARKER_SHEET].iter_rows(values_only=True):
            cells = [value_as_text(cell).strip() for cell in (row or ())[:2]]
            if len(cells) == 2 and cells[0] and (cells[0], cells[1]) != MARKER_HEADER:
                values[cells[0]] = cells[1]
    finally:
        book.close()
    kind, send_id = values.pop(KIND_KEY, ""), values.pop(SEND_KEY, "")
    if not kind:
        return None
    return ReturnMarker(kind=kind, send_id=send_id, facts=values)
