"""Reads the civil-affairs workbooks (救助与补贴对象名册) dropped into an inbox folder.

Departments export .xlsx files with a merged title row above the header, sometimes split into
several files. The reader finds the header row, keeps every value as text (an ID number must never
become a float) and reads the files oldest first, so that where two exports hold the same record the
newer one is received last and wins. A second copy of the same export is read once; an entry that
cannot be read (damaged, .xls, a folder or link with a workbook's name) is set aside with a reason
and the other files are still read.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from connectors.inbox import (
    DEFAULT_MAX_FILE_MB,
    DuplicateFile,
    RejectedFile,
    fit_name,
    scan_inbox,
    short_label,
)
from connectors.spreadsheet import SheetRow, WorkbookRejected, read_workbook_rows
from hub_errors import SourceError

PROCESSED_DIR_NAME = "processed"
HINT = "Ask civil affairs to export the roster with its standard columns."


@dataclass
class CivilInboxRead:
    """Rows of every workbook read whole, the files read, and the entries that were not read."""

    rows: list[SheetRow] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    duplicates: list[DuplicateFile] = field(default_factory=list)


def inbox_workbooks(inbox_dir: Path) -> list[Path]:
    """The workbooks waiting in the inbox that will be read, oldest first (see scan_inbox)."""
    if not inbox_dir.is_dir():
        raise SourceError(f"civil: inbox folder {inbox_dir} does not exist.")
    return scan_inbox(inbox_dir).workbooks


def read_civil_workbook(path: Path, required_columns: Sequence[str] = ()) -> Iterator[SheetRow]:
    """Every non-empty data row below the header of a civil-affairs export."""
    return read_workbook_rows(path, required_columns, source="civil", hint=HINT)


def read_civil_inbox(
    inbox_dir: Path, required_columns: Sequence[str] = (), *, max_file_mb: int = DEFAULT_MAX_FILE_MB
) -> CivilInboxRead:
    """Every row of every readable workbook in the inbox; a file yields all its rows or none.

    When workbooks are there but none has the agreed columns, the export layout has changed for the
    whole department: that raises SourceError naming the file and the missing columns, since going
    on would silently drop the department.
    """
    if not inbox_dir.is_dir():
        raise SourceError(f"civil: inbox folder {inbox_dir} does not exist.")
    scan = scan_inbox(inbox_dir, max_file_mb=max_file_mb)
    result = CivilInboxRead(rejected=list(scan.rejected), duplicates=scan.duplicates)
    layout_errors: list[WorkbookRejected] = []
    for path in scan.workbooks:
        try:
            rows = list(read_civil_workbook(path, required_columns))
        except WorkbookRejected as rejected:
            result.rejected.append(RejectedFile(path, rejected.check, rejected.reason))
            if rejected.check == "layout":
                layout_errors.append(rejected)
            continue
        label = short_label(path.name)
        result.rows.extend(SheetRow(label, row.row_number, row.values) for row in rows)
        result.files.append(path)
    if layout_errors and not result.files and len(layout_errors) == len(scan.workbooks):
        raise layout_errors[0]
    return result


def move_to_processed(paths: Iterable[Path], processed_dir: Path | None = None) -> list[Path]:
    """Move finished workbooks to ``processed/`` beside them, so the next run does not read them again."""
    moved = []
    for path in paths:
        target_dir = processed_dir or path.parent / PROCESSED_DIR_NAME
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            target = target_dir / fit_name(f"{path.stem}.{datetime.now():%Y%m%d%H%M%S%f}{path.suffix}")
        moved.append(Path(shutil.move(path, target)))
    return moved
