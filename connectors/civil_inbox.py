"""Reads the civil-affairs workbooks (救助与补贴对象名册) dropped into an inbox folder.

Departments export .xlsx files with a merged title row above the header, sometimes split into
several files. The reader finds the header row, keeps every value as text (an ID number must never
become a float) and tells the caller which files it finished, so they can be moved to processed/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from connectors.spreadsheet import SheetRow, read_workbook_rows
from hub_errors import SourceError

PROCESSED_DIR_NAME = "processed"


def inbox_workbooks(inbox_dir: Path) -> list[Path]:
    """The .xlsx files waiting in the inbox, oldest name first; Excel's ~$ lock files are skipped."""
    if not inbox_dir.is_dir():
        raise SourceError(f"civil: inbox folder {inbox_dir} does not exist.")
    return sorted(
        path for path in inbox_dir.glob("*.xlsx") if path.is_file() and not path.name.startswith("~$")
    )


def read_civil_workbook(path: Path, required_columns: Sequence[str] = ()) -> Iterator[SheetRow]:
    """Every non-empty data row below the header of a civil-affairs export."""
    return read_workbook_rows(
        path, required_columns, source="civil", hint="Ask civil affairs to export the roster with its standard columns."
    )


def read_civil_inbox(
    inbox_dir: Path,
    required_columns: Sequence[str] | None = None,
    *,
    on_file_done: Callable[[Path], None] | None = None,
) -> Iterator[SheetRow]:
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
