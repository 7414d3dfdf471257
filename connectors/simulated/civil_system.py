"""A simulated civil-affairs system (民政): it exports its roster as .xlsx files into an inbox folder.

The workbooks look like real departmental exports: a merged title row with the export time above the
header row, text cells formatted as text ("@") so ID numbers survive, amounts as real numbers, and a
large roster split into several files.

Faults people and other tools cause can be switched on (``faults=`` or HUB_SIM_CIVIL_FAULTS, comma
separated; see CIVIL_FAULTS). None adds or loses a roster record: rejected entries hold copies of
rows exported elsewhere, and a fault on a record (a 5 MB name, Excel's fake 1900-02-29, a vertical
tab) is the record a checker must find quarantined or flagged.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from pathlib import Path
from typing import Self

import openpyxl
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from connectors.simulated.loopback import SimulatedSystem, load_csv_rows

FAULTS_ENV = "HUB_SIM_CIVIL_FAULTS"
CIVIL_FAULTS = {
    "dimension": "the first export declares <dimension ref='A1:I3'> (as some tools write), holding more rows",
    "merged_header": "the last 3 rows in a file whose 姓名 header is merged over surname and given name",
    "fake_leap_day": "one row's 出生年月 is the date cell of serial 60, Excel's nonexistent 1900-02-29",
    "control_chars": "one row's 姓名 holds a vertical tab (escaped _x000B_, as Excel writes it)",
    "huge_name": "one row's 姓名 is as long as a cell holds (32,767 characters; openpyxl and Excel cut there)",
    "duplicate_export": "a byte-for-byte copy of the first export (`… - 副本.xlsx`)",
    "newer_export": "a later export of the first 2 rows with a changed 户籍地址",
    "suffixes": "one export saved as .XLSX, another as .xlsm",
    "long_name": "one export with a 240-byte file name",
    "bad_entries": "a damaged .xlsx, a .xls, a folder and a symlink named like exports, and an export "
    "whose file name holds a vertical tab (each a copy of rows exported elsewhere)",
}
FAKE_LEAP_SERIAL = 60
SHEET_PART = "xl/worksheets/sheet1.xml"
TAB_MARK = "QVTABQ"
HUGE_NAME = "王" * 32_767

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
        if any(row[column] for row in rows) and all(PLAIN_NUMBER.fullmatch(row[column]) for row in rows if row[column])
    }


def write_roster_workbook(
    path: Path,
    rows: Sequence[dict[str, object]],
    *,
    title: str,
    numeric: AbstractSet[str] = frozenset(),
    split_name: bool = False,
) -> None:
    """One export file: merged title in row 1, header in row 2, data from row 3.

    ``split_name`` writes 姓名 as a header merged over two columns, surname and given name apart.
    A non-text value (a number for a date cell) is written as it is, in date format.
    """
    if split_name:
        _write_split_name_workbook(path, rows, title=title)
        return
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


def _cell_value(text: object, numeric: bool) -> object:
    if not isinstance(text, str):
        return text
    if not text:
        return None
    if numeric:
        return float(text) if "." in text else int(text)
    return text


def _write_split_name_workbook(path: Path, rows: Sequence[dict[str, object]], *, title: str) -> None:
    columns = list(rows[0])
    at = columns.index("姓名")
    header = [*columns[: at + 1], None, *columns[at + 1 :]]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = ROSTER_TITLE
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append(header)
    sheet.merge_cells(start_row=2, start_column=at + 1, end_row=2, end_column=at + 2)
    for row in rows:
        name = str(row["姓名"])
        values = [row[column] or None for column in columns]
        sheet.append([*values[:at], name[:1], name[1:] or None, *values[at + 1 :]])
    workbook.save(path)


def rewrite_part(path: Path, part: str, pattern: bytes, new: bytes) -> None:
    """Replace a pattern in one part of an .xlsx, as another tool writing the file differently would."""
    copy = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, re.sub(pattern, new, data) if item.filename == part else data)
    copy.replace(path)


def fault_list(faults: Sequence[str] | None) -> tuple[str, ...]:
    """The faults asked for (HUB_SIM_CIVIL_FAULTS when none are given); unknown names are an error."""
    chosen = tuple(faults) if faults is not None else tuple(filter(None, os.environ.get(FAULTS_ENV, "").split(",")))
    unknown = sorted(set(chosen) - set(CIVIL_FAULTS))
    if unknown:
        raise ValueError(f"unknown civil faults {unknown}; known: {sorted(CIVIL_FAULTS)}")
    return chosen


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
        faults: Sequence[str] | None = None,
    ) -> None:
        self.roster_csv = roster_csv
        self.inbox_dir = inbox_dir
        self.rows_per_workbook = rows_per_workbook
        self.department = department
        self.exported_at = exported_at or datetime.now().replace(microsecond=0)
        self.faults = fault_list(faults)
        self.workbooks: list[Path] = []
        self.extra_entries: list[Path] = []

    def start(self) -> Self:
        rows: list[dict[str, object]] = [dict(row) for row in load_csv_rows(self.roster_csv, system="civil")]
        self.inbox_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.inbox_dir.iterdir():
            if stale.name.startswith(ROSTER_TITLE):
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale)
                else:
                    stale.unlink()
        numeric = numeric_columns([{k: str(v) for k, v in row.items()} for row in rows])
        title = f"{self.department}{ROSTER_TITLE}（导出时间：{self.exported_at:%Y-%m-%d %H:%M:%S}）"
        stamp = f"{self.exported_at:%Y%m%d%H%M%S}"
        split_rows = rows[-3:] if "merged_header" in self.faults and len(rows) > 10 else []
        rows = rows[: len(rows) - len(split_rows)]
        self._fault_values(rows)
        parts = range(0, max(1, len(rows)), self.rows_per_workbook)
        self.workbooks = []
        self.extra_entries = []
        for number, start in enumerate(parts, start=1):
            path = self.inbox_dir / f"{ROSTER_TITLE}_{stamp}_{number:02d}.xlsx"
            chunk = rows[start : start + self.rows_per_workbook]
            write_roster_workbook(path, chunk, title=title, numeric=numeric)
            self.workbooks.append(path)
        if split_rows:
            path = self.inbox_dir / f"{ROSTER_TITLE}_{stamp}_姓名分两列.xlsx"
            write_roster_workbook(path, split_rows, title=title, split_name=True)
            self.workbooks.append(path)
        self._fault_files(rows, title, numeric)
        return self

    def _fault_values(self, rows: list[dict[str, object]]) -> None:
        """Faults on single records, placed on rows 5-7 of the export (rows 0-1 are the newer export's)."""
        if len(rows) < 8:
            return
        if "fake_leap_day" in self.faults:
            rows[5] = {**rows[5], "出生年月": FAKE_LEAP_SERIAL}
        if "control_chars" in self.faults:
            name = str(rows[6]["姓名"])
            rows[6] = {**rows[6], "姓名": f"{name[:1]}{TAB_MARK}{name[1:]}"}  # becomes _x000B_ below
        if "huge_name" in self.faults:
            rows[7] = {**rows[7], "姓名": HUGE_NAME}

    def _fault_files(self, rows: list[dict[str, object]], title: str, numeric: AbstractSet[str]) -> None:
        first = self.workbooks[0]
        if "control_chars" in self.faults:
            rewrite_part(first, SHEET_PART, re.escape(TAB_MARK.encode()), b"_x000B_")
        if "fake_leap_day" in self.faults:
            self._date_format_serials(first)
        if "dimension" in self.faults:
            rewrite_part(first, SHEET_PART, rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:I3"/>')
        later = time.time() + 60
        if "duplicate_export" in self.faults:
            copy = first.with_name(f"{first.stem} - 副本.xlsx")
            shutil.copy2(first, copy)
            self.extra_entries.append(copy)
        if "newer_export" in self.faults:
            changed = [{**row, "户籍地址": f"{row['户籍地址']}（已迁新址）"} for row in rows[:2]]
            newer = self.inbox_dir / f"{ROSTER_TITLE}_{self.exported_at:%Y%m%d%H%M%S}_更新.xlsx"
            write_roster_workbook(newer, changed, title=title, numeric=numeric)
            os.utime(newer, (later, later))
            self.workbooks.append(newer)
        if "suffixes" in self.faults and len(self.workbooks) >= 3:
            for index, suffix in ((1, ".XLSX"), (2, ".xlsm")):
                renamed = self.workbooks[index].with_suffix(suffix)
                self.workbooks[index].rename(renamed)
                self.workbooks[index] = renamed
        if "long_name" in self.faults:
            last = self.workbooks[-1] if "newer_export" not in self.faults else self.workbooks[-2]
            room = 240 - len(last.name.encode()) - 1
            stem = last.stem + "_" + "长" * (room // 3) + "x" * (room % 3)
            long = last.with_name(stem + last.suffix)
            last.rename(long)
            self.workbooks[self.workbooks.index(last)] = long
        if "bad_entries" in self.faults:
            self._bad_entries(first)

    def _date_format_serials(self, path: Path) -> None:
        """Give the number cells of 出生年月 a date format, as a sheet where a date was typed has."""
        workbook = openpyxl.load_workbook(path)
        sheet = workbook.worksheets[0]
        header = [cell.value for cell in sheet[2]]
        column = header.index("出生年月") + 1
        for (cell,) in sheet.iter_rows(min_row=3, min_col=column, max_col=column):
            if isinstance(cell.value, int | float):
                cell.number_format = "yyyy-mm-dd"
        workbook.save(path)

    def _bad_entries(self, first: Path) -> None:
        prefix = f"{ROSTER_TITLE}_坏"
        damaged = self.inbox_dir / f"{prefix}_损坏.xlsx"
        damaged.write_bytes(first.read_bytes()[:2000])
        legacy = self.inbox_dir / f"{prefix}_旧版.xls"
        legacy.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)
        folder = self.inbox_dir / f"{prefix}_文件夹.xlsx"
        folder.mkdir()
        link = self.inbox_dir / f"{prefix}_快捷方式.xlsx"
        link.symlink_to(first)
        tab_name = self.inbox_dir / f"{prefix}_名\x0b字.xlsx"
        shutil.copy(first, tab_name)
        self.extra_entries += [damaged, legacy, folder, link, tab_name]
