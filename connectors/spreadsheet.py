"""Reads department spreadsheets as people make them: a title row or two above the header.

Exports from department systems put a merged title row (and sometimes a date line) above the
header, and store ID numbers as numbers or as text. The reader finds the header row, keeps every
value as the text a person saw (an ID number never becomes a float) and says where each row was.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from connectors.text import value_as_text
from hub_errors import SourceError

HEADER_SEARCH_ROWS = 20
MIN_HEADER_CELLS = 3


@dataclass(frozen=True)
class SheetRow:
    """One data row with where it came from, for quarantine messages (file name, Excel row number)."""

    file: str
    row_number: int
    values: dict[str, str]


def find_header(
    rows: Sequence[Sequence[object]], required_columns: Sequence[str]
) -> tuple[int, list[str]] | None:
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


def read_workbook_rows(
    path: Path, required_columns: Sequence[str] = (), *, source: str, hint: str = ""
) -> Iterator[SheetRow]:
    """Every non-empty data row below the header of the workbook's first sheet.

    A workbook whose first rows hold no header with the required columns raises SourceError naming
    the source, file, sheet and missing columns before any row is yielded.
    """
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise SourceError(f"{source}: {path.name} is not a readable .xlsx workbook ({exc}).") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        top = [row for _, row in zip(range(HEADER_SEARCH_ROWS), rows, strict=False)]
        found = find_header(top, required_columns)
        if found is None:
            missing = sorted(set(required_columns) - {value_as_text(v).strip() for r in top for v in r})
            detail = f"column(s) {'、'.join(missing)} missing" if missing else "no header row found"
            raise SourceError(
                f"{source}: {path.name} sheet {sheet.title!r}: {detail} in the first {HEADER_SEARCH_ROWS} rows. "
                + hint
            )
        header_index, header = found
        yield from _data_rows(path.name, header, header_index, top, rows)
    finally:
        workbook.close()


def _data_rows(
    file_name: str,
    header: list[str],
    header_index: int,
    top: list[tuple[object, ...]],
    rest: Iterable[tuple[object, ...]],
) -> Iterator[SheetRow]:
    columns = [(position, name) for position, name in enumerate(header) if name]
    row_number = header_index + 1
    for row in itertools.chain(top[header_index + 1 :], rest):
        row_number += 1
        values = {name: value_as_text(row[pos]) if pos < len(row) else "" for pos, name in columns}
        if any(value.strip() for value in values.values()):
            yield SheetRow(file_name, row_number, values)
