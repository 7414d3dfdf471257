"""Reads department spreadsheets as people make them: a title row or two above the header.

Exports from department systems put a merged title row (and sometimes a date line) above the
header, and store ID numbers as numbers or as text. The reader finds the header row, keeps every
value as the text a person saw (an ID number never becomes a float) and says where each row was.

It reads what the sheet holds, not what the file declares: every row whatever the sheet's stated
size (`<dimension>`, often wrong in files other tools wrote), a header merged over two columns as one
column whose value joins the cells under it (a name split into surname and given name), a cell
merged down several rows as that value on each of them, a character XML cannot hold as the
character Excel escaped (`_x000B_`, for the schema to remove and flag), and Excel's fake 1900-02-29
(serial 60, which openpyxl turns into 1900-02-28) as the impossible date it is, so the schema rejects it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.datetime import WINDOWS_EPOCH
from openpyxl.utils.escape import unescape
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from connectors.inbox import rejection_reason
from connectors.text import value_as_text
from hub_errors import SourceError

HEADER_SEARCH_ROWS = 20
MIN_HEADER_CELLS = 3
EXCEL_FAKE_LEAP_DAY = "1900-02-29"
_AMBIGUOUS_1900_DAY = dt.date(1900, 2, 28)  # openpyxl gives it for serial 59 and for the fake 60


class WorkbookRejected(SourceError):
    """A workbook that cannot be read as agreed; ``check`` and ``reason`` (Chinese) say why."""

    def __init__(self, message: str, *, check: str, reason: str) -> None:
        super().__init__(message)
        self.check = check
        self.reason = reason


@dataclass(frozen=True)
class SheetRow:
    """One data row with where it came from, for quarantine messages (file name, Excel row number)."""

    file: str
    row_number: int
    values: dict[str, str]


def find_header(rows: Sequence[Sequence[object]], required_columns: Sequence[str]) -> tuple[int, list[str]] | None:
    """Index and cells of the header row: the first row holding all required columns, or, with none
    required, the first row with several non-empty cells (a merged title row has only one)."""
    for index, row in enumerate(rows):
        cells = [value_as_text(value).strip() for value in row]
        filled = [cell for cell in cells if cell]
        if required_columns:
            if set(required_columns) <= set(filled):
                return index, cells
        elif len(filled) >= MIN_HEADER_CELLS:
            return index, cells
    return None


def open_workbook(path: Path, *, source: str) -> Workbook:
    """The whole workbook (not read-only: merged ranges are known and the declared size is ignored).

    A file that is not a readable .xlsx raises WorkbookRejected naming the file, never its content.
    """
    try:
        return openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl and zipfile raise many kinds for a broken file
        raise WorkbookRejected(
            f"{source}: {path.name} is not a readable .xlsx workbook ({type(exc).__name__}).",
            check="unreadable",
            reason=rejection_reason("unreadable"),
        ) from None


def sheet_values(path: Path, workbook: Workbook, sheet: Worksheet) -> list[list[Any]]:
    """Every row of a sheet as cell values, cells merged down filled in, the fake leap day marked."""
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    for merged in sheet.merged_cells.ranges:
        column = merged.min_col - 1
        top = rows[merged.min_row - 1][column] if merged.min_row <= len(rows) else None
        for row_number in range(merged.min_row + 1, min(merged.max_row, len(rows)) + 1):
            rows[row_number - 1][column] = top
    dates_1900 = workbook.epoch == WINDOWS_EPOCH
    ambiguous = []
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                if "_x" in value:
                    row[c] = unescape(value)  # Excel's _x000B_ for a character XML cannot hold
            elif dates_1900 and isinstance(value, dt.datetime) and value.date() == _AMBIGUOUS_1900_DAY:
                ambiguous.append((r, c))
    if ambiguous:
        _mark_fake_leap_days(path, workbook.worksheets.index(sheet), rows, ambiguous)
    return rows


def _mark_fake_leap_days(path: Path, sheet_index: int, rows: list[list[Any]], cells: list[tuple[int, int]]) -> None:
    """Read the stored serials of the cells openpyxl dated 1900-02-28; serial 60 is Excel's 1900-02-29."""
    raw_book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        raw_book._date_formats = set()  # no date conversion: the serial numbers as stored
        raw_sheet = raw_book.worksheets[sheet_index]
        raw_sheet.reset_dimensions()
        wanted = set(cells)
        last_row = max(r for r, _ in cells)
        for r, row in enumerate(raw_sheet.iter_rows(values_only=True)):
            if r > last_row:
                break
            for c, value in enumerate(row):
                if (r, c) in wanted and isinstance(value, int | float) and 60 <= value < 61:
                    rows[r][c] = EXCEL_FAKE_LEAP_DAY
    finally:
        raw_book.close()


def _join(parts: Sequence[str]) -> str:
    """Cells under one merged header as one value: CJK parts run together (王 + 五), others spaced."""
    text = ""
    for part in parts:
        if not part:
            continue
        if text and not (text[-1] >= "\u2e80" or part[0] >= "\u2e80"):
            text += " "
        text += part
    return text


def _header_columns(header: list[str], header_row: int, sheet: Worksheet) -> list[tuple[str, range]]:
    """(column name, positions it spans): a header cell merged across columns spans all of them."""
    spans = {
        merged.min_col - 1: range(merged.min_col - 1, merged.max_col)
        for merged in sheet.merged_cells.ranges
        if merged.min_row == header_row and merged.max_col > merged.min_col
    }
    return [(name, spans.get(pos, range(pos, pos + 1))) for pos, name in enumerate(header) if name]


def _data_start(header_row: int, sheet: Worksheet) -> int:
    """First data row (1-based): below any header cell merged down over several rows."""
    bottoms = [merged.max_row for merged in sheet.merged_cells.ranges if merged.min_row == header_row]
    return max([header_row, *bottoms]) + 1


def read_workbook_rows(
    path: Path, required_columns: Sequence[str] = (), *, source: str, hint: str = ""
) -> Iterator[SheetRow]:
    """Every non-empty data row below the header of the workbook's first sheet.

    A workbook that cannot be opened, or whose first rows hold no header with the required columns,
    raises WorkbookRejected naming the source, file, sheet and missing columns before any row.
    """
    workbook = open_workbook(path, source=source)
    try:
        sheet = workbook.worksheets[0]
        rows = sheet_values(path, workbook, sheet)
    finally:
        workbook.close()
    top = rows[:HEADER_SEARCH_ROWS]
    found = find_header(top, required_columns)
    if found is None:
        missing = sorted(set(required_columns) - {value_as_text(v).strip() for r in top for v in r})
        detail = f"column(s) {'、'.join(missing)} missing" if missing else "no header row found"
        raise WorkbookRejected(
            f"{source}: {path.name} sheet {sheet.title!r}: {detail} in the first {HEADER_SEARCH_ROWS} rows. " + hint,
            check="layout",
            reason=rejection_reason("layout", detail=f"缺少列：{'、'.join(missing)}" if missing else "找不到表头行"),
        )
    header_index, header = found
    columns = _header_columns(header, header_index + 1, sheet)
    start = _data_start(header_index + 1, sheet)
    for row_number in range(start, len(rows) + 1):
        row = rows[row_number - 1]
        values = {
            name: _join([value_as_text(row[pos]) for pos in span if pos < len(row)])
            if len(span) > 1
            else (value_as_text(row[span.start]) if span.start < len(row) else "")
            for name, span in columns
        }
        if any(value.strip() for value in values.values()):
            yield SheetRow(path.name, row_number, values)
