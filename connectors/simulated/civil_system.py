"""A simulated civil-affairs system (民政): it exports its roster as .xlsx files into an inbox folder.

The workbooks look like real departmental exports: a merged title row with the export time above the
header row, text cells formatted as text ("@") so ID numbers survive, amounts as real numbers, and a
large roster split into several files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from pathlib import Path
from typing import Self

import openpyxl
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from connectors.simulated.loopback import SimulatedSystem, load_csv_rows

DEFAULT_DEPARTMENT = "XX区民政局"
ROSTER_TITLE = "救助与补贴对象名册"
PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9]\d{0,8})(?:\.\d+)?")


def numeric_columns(rows: Sequence[dict[str, str]]) -> set[str]:
    """Columns a department system keeps as numbers (amounts, counts): short plain numbers only.

    ID and phone numbers are too long to qualify, so they are written as text as a careful export does.
    """
    if not rows:
        return set()
    return {
        column
        for column in rows[0]
        if any(row[column] for row in rows)
        and all(PLAIN_NUMBER.fullmatch(row[column]) for row in rows if row[column])
    }


def write_roster_workbook(
    path: Path, rows: Sequence[dict[str, str]], *, title: str, numeric: AbstractSet[str] = frozenset()
) -> None:
    """One export file: merged title in row 1, header in row 2, data from row 3."""
    columns = list(rows[0]) if rows else []
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = ROSTER_TITLE
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(1, len(columns)))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(columns)
    for row in rows:
        sheet.append([_cell_value(row[column], column in numeric) for column in columns])
    for position, column in enumerate(columns, start=1):
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = max(10, 2 * len(column) + 4)
        if column not in numeric:
            for (cell,) in sheet.iter_rows(min_row=3, min_col=position, max_col=position):
                cell.number_format = "@"
    workbook.save(path)


def _cell_value(text: str, numeric: bool) -> str | int | float | None:
    if not text:
        return None
    if numeric:
        return float(text) if "." in text else int(text)
    return text


class CivilAffairsSystem(SimulatedSystem):
    """Exports the civil-affairs roster CSV as workbooks of at most ``rows_per_workbook`` rows.

    A start replaces the exports an earlier start left in the inbox, so rows are never served twice.
    """

    def __init__(
        self,
        roster_csv: Path,
        inbox_dir: Path,
        *,
        rows_per_workbook: int = 5000,
        department: str = DEFAULT_DEPARTMENT,
        exported_at: datetime | None = None,
    ) -> None:
        self.roster_csv = roster_csv
        self.inbox_dir = inbox_dir
        self.rows_per_workbook = rows_per_workbook
        self.department = department
        self.exported_at = exported_at or datetime.now().replace(microsecond=0)
        self.workbooks: list[Path] = []

    def start(self) -> Self:
        rows = load_csv_rows(self.roster_csv, system="civil")
        self.inbox_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.inbox_dir.glob(f"{ROSTER_TITLE}_*.xlsx"):
            stale.unlink()
        numeric = numeric_columns(rows)
        title = f"{self.department}{ROSTER_TITLE}（导出时间：{self.exported_at:%Y-%m-%d %H:%M:%S}）"
        stamp = f"{self.exported_at:%Y%m%d%H%M%S}"
        parts = range(0, max(1, len(rows)), self.rows_per_workbook)
        self.workbooks = []
        for number, start in enumerate(parts, start=1):
            path = self.inbox_dir / f"{ROSTER_TITLE}_{stamp}_{number:02d}.xlsx"
            chunk = rows[start : start + self.rows_per_workbook]
            write_roster_workbook(path, chunk, title=title, numeric=numeric)
            self.workbooks.append(path)
        return self
