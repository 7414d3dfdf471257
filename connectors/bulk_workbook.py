"""Bulk exports (department reports, rosters) written with XlsxWriter in constant-memory mode.

Same workbook as connectors.workbook.write_workbook gives (cover sheet, styled frozen header with
filters, widths that fit, identifier columns in the text format, no cell a spreadsheet could run as
a formula), several times faster on large reports (benchmarks/bench_workbooks.py). openpyxl stays
for reading workbooks and for the styled intake template and rejection workbooks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from connectors.return_marker import ReturnMarker, add_marker_xlsxwriter
from connectors.workbook import (
    PAGE_FOOTER,
    TEXT_FORMAT,
    WIDTH_SAMPLE_ROWS,
    CoverSheet,
    TableSheet,
    cell_value,
    column_widths,
    column_widths_of,
    safe_sheet_title,
)

OPTIONS = {
    "constant_memory": True,  # rows go to disk as written: memory stays flat on a million-row sheet
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
}


class Styles:
    """The formats of one workbook (XlsxWriter formats belong to the workbook that made them)."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.header = book.add_format(
            {"bold": True, "font_color": "#FFFFFF", "bg_color": "#305496", "pattern": 1, "align": "center",
             "valign": "vcenter", "text_wrap": True, "bottom": 1, "bottom_color": "#1F3864"}
        )  # fmt: skip
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.label = book.add_format({"bold": True})
        self.text = book.add_format({"num_format": TEXT_FORMAT})
        self._numbers: dict[str, Format] = {}

    def number(self, number_format: str) -> Format:
        if number_format not in self._numbers:
            self._numbers[number_format] = self.book.add_format({"num_format": number_format})
        return self._numbers[number_format]


def write_value(ws: Worksheet, row: int, col: int, value: Any, style: Format | None = None) -> None:
    """One cell: text always as text (never a formula, number or link), numbers as numbers."""
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(row, col, value, style)
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, value, style)
    elif isinstance(value, int | float):
        ws.write_number(row, col, value, style)
    else:
        ws.write_string(row, col, str(value), style)


def set_widths(ws: Worksheet, widths: Sequence[float], text: Sequence[bool], styles: Styles) -> None:
    for index, width in enumerate(widths):
        ws.set_column(index, index, width, styles.text if index < len(text) and text[index] else None)


def set_print_setup(ws: Worksheet, header_rows: int = 1) -> None:
    """As connectors.workbook.set_print_setup: landscape A4, one page wide, header row repeated,
    page numbers in the footer (XlsxWriter writes &P/&N as the openpyxl writer does)."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    if header_rows:
        ws.repeat_rows(0, header_rows - 1)
    ws.set_footer(f"&C{PAGE_FOOTER}")


def write_table_sheet(book: xlsxwriter.Workbook, styles: Styles, sheet: TableSheet) -> None:
    ws = book.add_worksheet(safe_sheet_title(sheet.title))
    headers = [str(column) for column in sheet.frame.columns]
    is_text = [header in sheet.text_columns for header in headers]
    columns = [column_cells(sheet.frame.iloc[:, index], text) for index, text in enumerate(is_text)]
    sample = [cells[:WIDTH_SAMPLE_ROWS] for cells in columns]
    widths = column_widths_of(headers, sample, sheet.number_formats)
    set_widths(ws, widths, is_text, styles)
    ws.freeze_panes(1, 0)
    set_print_setup(ws)
    ws.autofilter(0, 0, len(sheet.frame), max(0, len(headers) - 1))
    for col, header in enumerate(headers):
        ws.write_string(0, col, str(cell_value(header) or ""), styles.header)
    plan: list[tuple[int, Callable[..., Any], Format | None]] = []
    for col, (header, text, cells) in enumerate(zip(headers, is_text, columns, strict=True)):
        number_format = sheet.number_formats.get(header)
        style = styles.text if text else styles.number(number_format) if number_format else None
        plan.append((col, column_writer(ws, cells, text), style))
    for row, values in enumerate(zip(*columns, strict=True), start=1):
        for col, write, style in plan:
            value = values[col]
            if value is not None:
                write(row, col, value, style)
    add_dropdowns(ws, headers, sheet.choices, len(sheet.frame))


def column_cells(values: pd.Series, text: bool) -> list[Any]:
    """A column's cell values (connectors.workbook.cell_value), as text throughout in a text column."""
    cells = [cell_value(value) for value in values]
    if text:
        return [value if value is None or type(value) is str else str(value) for value in cells]
    return cells


def column_writer(ws: Worksheet, cells: Sequence[Any], text: bool) -> Callable[..., Any]:
    """The worksheet method for a column's cells: text as text (never a formula, number or link),
    numbers as numbers, dates as dates; per cell only in a column of mixed kinds."""
    kinds = {type(value) for value in cells if value is not None}
    if text or kinds <= {str}:
        return ws.write_string
    if kinds <= {int, float}:
        return ws.write_number

    def write_any(row: int, col: int, value: Any, style: Format | None) -> None:
        if isinstance(value, str):
            ws.write_string(row, col, value, style)
        elif isinstance(value, bool):
            ws.write_boolean(row, col, value, style)
        elif isinstance(value, dt.date):
            ws.write_datetime(row, col, value, style)
        else:
            ws.write_number(row, col, value, style)

    return write_any


def add_dropdowns(ws: Worksheet, headers: Sequence[str], choices: Mapping[str, Sequence[str]], last_row: int) -> None:
    """A list dropdown on the data cells of each column in ``choices``, as the openpyxl writer adds."""
    for header, values in choices.items():
        if header not in headers or not values:
            continue
        col = headers.index(header)
        ws.data_validation(
            1,
            col,
            max(1, last_row),
            col,
            {
                "validate": "list",
                "source": [str(value) for value in values],
                "ignore_blank": True,
                "error_title": "输入有误",
                "error_message": "请从下拉列表中选择。",
            },
        )


def write_cover_sheet(book: xlsxwriter.Workbook, styles: Styles, cover: CoverSheet) -> None:
    ws = book.add_worksheet(safe_sheet_title(cover.sheet_title))
    set_print_setup(ws, header_rows=0)
    table_rows = [[cell_value(value) for value in row] for row in cover.table_rows]
    label_rows = [[label] for label, _ in cover.facts]
    width_count = max(2, len(cover.table_headers))
    padded = [[*row, *([None] * (width_count - len(row)))] for row in [*label_rows, *table_rows]]
    set_widths(ws, column_widths(list(cover.table_headers) or ["", ""], padded), (), styles)
    write_value(ws, 0, 0, cell_value(cover.title), styles.title)
    row = 2
    for label, value in cover.facts:
        write_value(ws, row, 0, cell_value(label), styles.label)
        write_value(ws, row, 1, cell_value(value))
        row += 1
    if cover.table_headers:
        row += 1
        for col, header in enumerate(cover.table_headers):
            write_value(ws, row, col, cell_value(header), styles.header)
        for values in table_rows:
            row += 1
            for col, value in enumerate(values):
                write_value(ws, row, col, value)


def write_bulk_workbook(
    path: Path, sheets: Sequence[TableSheet], cover: CoverSheet | None = None, marker: ReturnMarker | None = None
) -> Path:
    """Write the cover (if any) then each table sheet to ``path``; parent folders are created. A
    workbook staff return to the hub gets its hidden ``marker`` (connectors/return_marker.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), OPTIONS)
    styles = Styles(book)
    if cover is not None:
        write_cover_sheet(book, styles, cover)
    for sheet in sheets:
        write_table_sheet(book, styles, sheet)
    if not sheets and cover is None:
        book.add_worksheet("Sheet")
    if marker is not None:
        add_marker_xlsxwriter(book, marker)
    book.close()
    return path
