"""The hidden marker that makes a workbook the hub sent out recognisable when it comes back.

Community staff rename files, save them under a date, send them through chat apps: a returned
workbook is recognised by what it holds, not by its name. Every workbook the hub sends for staff to
fill in and drop into the community inbox (a pre-filled roster, a department form) carries a hidden
sheet ``_hub_return`` of key/value rows: ``kind`` (which handler reads it back: ``roster``, ``form``,
...), ``send_id`` (which send it answers, as the warehouse knows it) and whatever else the sender
notes. ``recognise_return`` reads it back; a workbook without it is no return (an intake workbook).

The sheet is very hidden (``veryHidden``): Excel's and WPS's 取消隐藏 dialog does not list it, so staff
cannot unhide and edit the marker by accident, which would turn a return into an intake workbook.
Forms sent before the marker was shared carry ``_hub_form`` instead (a first row ``hub-form/1``, then
key/value rows ``form, send_id, community, title, due``); ``recognise_return`` reads those as kind
``form`` with the same facts, so a form already out in the field comes back like a new one.
"""

from __future__ import annotations

import re
import zipfile
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
SHEET_STATE = "veryHidden"
FORM_KIND = "form"
LEGACY_FORM_SHEET = "_hub_form"
LEGACY_FORM_TAG = "hub-form/1"
SHEET_NAMES = re.compile(rb'<sheet [^>]*name="([^"]*)"')


@dataclass(frozen=True)
class ReturnMarker:
    """What a sent workbook says about itself: its kind, the send it belongs to, other facts."""

    kind: str
    send_id: str
    facts: Mapping[str, str] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        return [MARKER_HEADER, (KIND_KEY, self.kind), (SEND_KEY, self.send_id), *self.facts.items()]


def add_marker_xlsxwriter(book: Any, marker: ReturnMarker) -> None:
    """Add the very hidden marker sheet to an XlsxWriter workbook (after the visible sheets)."""
    sheet = book.add_worksheet(MARKER_SHEET)
    for row, (key, value) in enumerate(marker.rows()):
        sheet.write_string(row, 0, str(key))
        sheet.write_string(row, 1, str(value))
    sheet.very_hidden()


def add_marker_openpyxl(book: OpenpyxlWorkbook, marker: ReturnMarker) -> None:
    """Add the very hidden marker sheet to an openpyxl workbook."""
    sheet = book.create_sheet(MARKER_SHEET)
    for key, value in marker.rows():
        sheet.append([str(key), str(value)])
    sheet.sheet_state = SHEET_STATE


def marker_sheet_of(path: Path) -> str | None:
    """Which marker sheet a workbook has, from the sheet list in its workbook.xml alone (cheap for
    every workbook of an inbox, whatever its size); None when it has none or is no readable .xlsx."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = SHEET_NAMES.findall(archive.read("xl/workbook.xml"))
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    for sheet in (MARKER_SHEET, LEGACY_FORM_SHEET):
        if sheet.encode() in names:
            return sheet
    return None


def _legacy_form_marker(rows: list[list[str]]) -> ReturnMarker | None:
    if not rows or not rows[0] or rows[0][0] != LEGACY_FORM_TAG:
        return None
    facts = {row[0]: row[1] if len(row) > 1 else "" for row in rows[1:] if row and row[0]}
    return ReturnMarker(kind=FORM_KIND, send_id=facts.pop(SEND_KEY, ""), facts=facts)


def recognise_return(path: Path) -> ReturnMarker | None:
    """The marker of a returned workbook (``_hub_return``, or a form's older ``_hub_form``), or None
    when the file carries none or cannot be opened (the intake reader then rejects it with its
    reason). Opens the workbook only when its sheet list names a marker sheet."""
    sheet = marker_sheet_of(path)
    if sheet is None:
        return None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # a damaged file is the intake reader's to reject, with its own reason
        return None
    try:
        rows = [
            [value_as_text(cell).strip() for cell in (row or ())[:2]]
            for row in book[sheet].iter_rows(values_only=True)
        ]
    finally:
        book.close()
    if sheet == LEGACY_FORM_SHEET:
        return _legacy_form_marker(rows)
    values = {
        cells[0]: cells[1]
        for cells in rows
        if len(cells) == 2 and cells[0] and (cells[0], cells[1]) != MARKER_HEADER
    }
    kind, send_id = values.pop(KIND_KEY, ""), values.pop(SEND_KEY, "")
    if not kind:
        return None
    return ReturnMarker(kind=kind, send_id=send_id, facts=values)
