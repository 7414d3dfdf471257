"""Write tables as .xlsx workbooks that departments and community staff can open and trust.

Workbooks are streamed with openpyxl's write-only mode so a 20,000-row report takes seconds. Every
workbook gets the same treatment: a cover sheet saying what it is, a styled and frozen header with
filters, column widths that fit the content, identifiers kept as text, and no cell that a
spreadsheet program could run as a formula (formula injection through a hand-typed name), dates as
date cells a clerk can sort and filter, and a print setup (landscape, one page wide, the header row
repeated on every page, page numbers in the footer).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TEXT_FORMAT = "@"
MIN_WIDTH = 6.0
MAX_WIDTH = 60.0
WIDTH_SAMPLE_ROWS = 2000
MAX_SHEET_TITLE = 31

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", start_color="305496", end_color="305496")
HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_BORDER = Border(bottom=Side(style="thin", color="1F3864"))
LABEL_FONT = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
# Printing: every sheet landscape, as wide as one page, the header row on every page, page numbers.
PAGE_FOOTER = "第 &P 页，共 &N 页"


def neutralise_formula(value: str) -> str:
    """Prefix a value a spreadsheet would read as a formula (= + - @, tab, CR) with an apostrophe.

    The apostrophe stays visible, so the text survives a later CSV export or a copy into another
    sheet, where a hidden quote-prefix style would be lost.
    """
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def display_width(text: str) -> float:
    """Column width in Excel units: East Asian wide characters take two."""
    if text.isascii():
        return float(len(text))
    return float(sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text))


@dataclass(frozen=True)
class TableSheet:
    """One data sheet: a frame whose column names are the header row.

    ``number_formats`` names the numeric columns (header -> Excel format). ``text_columns`` are
    identifiers (ID numbers, phones) whose cells also carry the text format, so a spreadsheet never
    turns them into numbers, not even when staff edit them; other values are written as they are.
    ``choices`` gives a column (header) a dropdown of the values a recipient may pick.
    """

    title: str
    frame: pd.DataFrame
    number_formats: Mapping[str, str] = field(default_factory=dict)
    text_columns: frozenset[str] = frozenset()
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CoverSheet:
    """The first sheet: a title, labelled facts (run, time, counts) and a table on the columns."""

    title: str
    facts: Sequence[tuple[str, Any]]  # counts are numbers, so they are number cells
    table_headers: Sequence[str] = ()
    table_rows: Sequence[Sequence[Any]] = ()
    sheet_title: str = "说明"


def cell_value(value: Any) -> Any:
    """The value a cell receives: missing -> empty, text neutralised, numbers kept as numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return neutralise_formula(value) if value else None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | dt.date):
        return value
    return neutralise_formula(str(value))


DATE_TOKENS = re.compile(r"yyyy|yy|mm|m|dd|d|hh|h|ss|s", re.IGNORECASE)


def shown_width(number_format: str) -> float:
    """How wide a date in ``number_format`` shows at most (yyyy"年"m"月"d"日" -> 2026年12月28日)."""
    widest = {"yyyy": "2026", "yy": "26"}
    sample = DATE_TOKENS.sub(lambda match: widest.get(match.group().lower(), "28"), number_format.replace('"', ""))
    return display_width(sample)


def column_widths(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], number_formats: Mapping[str, str] | None = None
) -> list[float]:
    """Widths that fit the header and the longest value seen (a date as its number format shows it),
    within sane bounds."""
    columns: list[list[Any]] = [[] for _ in headers]
    for row in rows:
        for index, value in enumerate(row):
            columns[index].append(value)
    return column_widths_of(headers, columns, number_formats)


def column_widths_of(
    headers: Sequence[str], columns: Sequence[Sequence[Any]], number_formats: Mapping[str, str] | None = None
) -> list[float]:
    """column_widths for values given column by column."""
    widths = []
    for header, values in zip(headers, columns, strict=False):
        width = display_width(str(header)) + 2
        dates = [value for value in values if isinstance(value, dt.date)]
        width = max(
            width, widest([str(value) for value in values if value is not None and not isinstance(value, dt.date)])
        )
        if dates:
            number_format = (number_formats or {}).get(str(header))
            width = max(width, shown_width(number_format) + 2 if number_format else display_width(str(dates[-1])) + 2)
        widths.append(min(MAX_WIDTH, max(MIN_WIDTH, width)))
    return widths


def widest(texts: Iterable[str]) -> float:
    """The largest display width + 2 of ``texts`` (0 for none), measuring only those that could be it
    (a text is at least as wide as it is long, at most twice) and none once MAX_WIDTH is reached."""
    best = 0.0
    for text in sorted(set(texts), key=len, reverse=True):
        if 2 * len(text) + 2 <= best or best >= MAX_WIDTH:
            break
        best = max(best, display_width(text) + 2)
    return best


def safe_sheet_title(title: str) -> str:
    """Excel forbids some characters and more than 31 characters in a sheet name."""
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in title).strip("'") or "Sheet"
    return cleaned[:MAX_SHEET_TITLE]


def styled(ws: WriteOnlyWorksheet, value: Any, **style: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def header_cells(ws: WriteOnlyWorksheet, headers: Sequence[str]) -> list[WriteOnlyCell]:
    return [
        styled(
            ws,
            cell_value(str(header)),
            font=HEADER_FONT,
            fill=HEADER_FILL,
            alignment=HEADER_ALIGNMENT,
            border=HEADER_BORDER,
        )
        for header in headers
    ]


def set_widths(ws: WriteOnlyWorksheet, widths: Sequence[float], text_columns: Sequence[bool] = ()) -> None:
    """Widths (and the text format of empty cells staff may fill later) must precede the first row."""
    for index, width in enumerate(widths, start=1):
        dimension = ws.column_dimensions[get_column_letter(index)]
        dimension.width = width
        if index <= len(text_columns) and text_columns[index - 1]:
            dimension.number_format = TEXT_FORMAT


def frame_rows(frame: pd.DataFrame) -> Iterator[list[Any]]:
    for row in frame.itertuples(index=False, name=None):
        yield [cell_value(value) for value in row]


def set_print_setup(ws: WriteOnlyWorksheet | Worksheet, header_rows: int = 1) -> None:
    """Landscape, fit to one page wide (as many pages long as needed), the first ``header_rows``
    rows repeated on every page, and 第 n 页，共 m 页 in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if header_rows:
        ws.print_title_rows = f"1:{header_rows}"
    ws.oddFooter.center.text = PAGE_FOOTER
    ws.evenFooter.center.text = PAGE_FOOTER


def write_table_sheet(wb: Workbook, sheet: TableSheet) -> None:
    """A data sheet: styled, frozen, filtered header; identifier columns carry the text format."""
    ws = wb.create_sheet(safe_sheet_title(sheet.title))
    headers = [str(column) for column in sheet.frame.columns]
    is_text = [header in sheet.text_columns for header in headers]
    sample = frame_rows(sheet.frame.head(WIDTH_SAMPLE_ROWS))
    set_widths(ws, column_widths(headers, sample, sheet.number_formats), is_text)
    ws.freeze_panes = "A2"
    set_print_setup(ws)
    last_row = len(sheet.frame) + 1
    ws.auto_filter.ref = f"A1:{get_column_letter(max(1, len(headers)))}{last_row}"
    add_dropdowns(ws, headers, sheet.choices, last_row)
    ws.append(header_cells(ws, headers))
    number_formats = [sheet.number_formats.get(header) for header in headers]
    styled_columns = [
        (index, format_style(ws, TEXT_FORMAT if text else str(number_formats[index])), text)
        for index, text in enumerate(is_text)
        if text or number_formats[index]
    ]
    for cells in frame_rows(sheet.frame):
        for index, style, text in styled_columns:
            value = cells[index]
            if value is not None:
                cells[index] = Cell(ws, 1, 1, str(value) if text else value, style)
        ws.append(cells)


def add_dropdowns(
    ws: WriteOnlyWorksheet, headers: Sequence[str], choices: Mapping[str, Sequence[str]], last_row: int
) -> None:
    """A list dropdown on the data cells of each column in ``choices`` (values without commas)."""
    for header, values in choices.items():
        if header not in headers or not values:
            continue
        letter = get_column_letter(headers.index(header) + 1)
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(str(value) for value in values) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="输入有误",
            error="请从下拉列表中选择。",
        )
        validation.add(f"{letter}2:{letter}{max(2, last_row)}")
        ws.data_validations.append(validation)


def format_style(ws: WriteOnlyWorksheet, number_format: str) -> StyleArray:
    """A style carrying only a number format, built once and shared by a column's cells (speed)."""
    prototype = WriteOnlyCell(ws)
    prototype.number_format = number_format
    return prototype._style


def write_cover_sheet(wb: Workbook, cover: CoverSheet) -> None:
    ws = wb.create_sheet(safe_sheet_title(cover.sheet_title))
    set_print_setup(ws, header_rows=0)
    table_rows = [[cell_value(value) for value in row] for row in cover.table_rows]
    label_rows = [[label] for label, _ in cover.facts]  # values may overflow into empty cells
    width_count = max(2, len(cover.table_headers))
    padded = [[*row, *([None] * (width_count - len(row)))] for row in [*label_rows, *table_rows]]
    set_widths(ws, column_widths(list(cover.table_headers) or ["", ""], padded))
    ws.append([styled(ws, cell_value(cover.title), font=TITLE_FONT)])
    ws.append([])
    for label, value in cover.facts:
        ws.append([styled(ws, cell_value(label), font=LABEL_FONT), cell_value(value)])
    if cover.table_headers:
        ws.append([])
        ws.append(header_cells(ws, cover.table_headers))
        for row in table_rows:
            ws.append(row)


def write_workbook(path: Path, sheets: Sequence[TableSheet], cover: CoverSheet | None = None) -> Path:
    """Write the cover (if any) then each table sheet to ``path``; parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    if cover is not None:
        write_cover_sheet(wb, cover)
    for sheet in sheets:
        write_table_sheet(wb, sheet)
    if not sheets and cover is None:
        wb.create_sheet("Sheet")
    wb.save(path)
    return path
