"""Reads the civil-affairs workbooks (救助与补贴对象名册) dropped into an inbox folder.

Departments export .xlsx files with a merged title row above the header, sometimes split into
several files. The reader finds the header row, keeps every value as text (an ID number must never
become a float) and tells the caller which files it finished, so they can be moved to processed/.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import openpyxl

from connectors.text import value_as_text
from hub_errors import SourceError

HEADER_SEARCH_ROWS = 20
MIN_HEADER_CELLS = 3
PROCESSED_DIR_NAME = "processed"


@dataclass(frozen=True)
class CivilRow:
    """One data row with where it came from, for quarantine messages (file name, Excel row number)."""

    file: str
    row_number: int
    values: dict[str, str]


def inbox_workbooks(inbox_dir: Path) -> list[Path]:
    """The .xlsx files waiting in the inbox, oldest name first; Excel's ~$ lock files are skipped."""
    if not inbox_dir.is_dir():
        raise SourceError(f"civil: inbox folder {inbox_dir} does not exist.")
    return sorted(
        path for path in inbox_dir.glob("*.xlsx") if path.is_file() and not path.name.startswith("~$")
    )


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


def read_civil_workbook(path: Path, required_columns: Sequence[str] = ()) -> Iterator[CivilRow]:
    """Every non-empty data row below the header of the workbook's first sheet."""
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise SourceError(f"civil: {path.name} is not a readable .xlsx workbook ({exc}).") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        top = [row for _, row in zip(range(HEADER_SEARCH_ROWS), rows, strict=False)]
        found = find_header(top, required_columns)
        if found is None:
            missing = sorted(set(required_columns) - {value_as_text(v).strip() for r in top for v in r})
            detail = f"column(s) {'、'.join(missing)} missing" if missing else "no header row found"
            raise SourceError(
                f"civil: {path.name} sheet {sheet.title!r}: {detail} in the first {HEADER_SEARCH_ROWS} rows. "
                "Ask civil affairs to export the roster with its standard columns."
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
) -> Iterator[CivilRow]:
    columns = [(position, name) for position, name in enumerate(header) if name]
    row_number = header_index + 1
    for row in itertools.chain(top[header_index + 1 :], rest):
        row_number += 1
        values = {name: value_as_text(row[pos]) if pos < len(row) else "" for pos, name in columns}
        if any(value.strip() for value in values.values()):
            yield CivilRow(file_name, row_number, values)


def read_civil_inbox(
    inbox_dir: Path,
    required_columns: Sequence[str] | None = None,
    *,
    on_file_done: Callable[[Path], None] | None = None,
) -> Iterator[CivilRow]:
    """Rows of every workbook in the inbox. ``on_file_done(path)`` is called once a file is read whole."""
    for path in inbox_workbooks(inbox_dir):
        yield from read_civil_workbook(path, required_columns or ())
        if on_file_done is not None:
            on_file_done(path)


def move_to_processed(paths: Iterable[Path], processed_dir: Path | None = None) -> list[Path]:
    """Move finished workbooks to ``processed/`` beside them, so the next run does not read them again."""
    moved = []
    for path in paths:
        target_dir = processed_dir or path.parent / PROCESSED_DIR_NAME
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            target = target_dir / f"{path.stem}.{datetime.now():%Y%m%d%H%M%S%f}{path.suffix}"
        moved.append(Path(shutil.move(path, target)))
    return moved
