"""Cells per second of the bulk-export writers on 20k-bench-sized department reports.

    .venv/bin/python benchmarks/bench_workbooks.py /tmp/bench20k [--repeat 3]

Builds report-shaped sheets from the bench's department files (the grid's 20k residents as the
grid's population sheet, the health and civil records as theirs: identifier columns as text, the aid
amount as a number) and writes the same workbook with:

- ``openpyxl-current``: connectors.workbook.write_workbook (openpyxl write-only, styled header, text
  and number formats per cell) -- what the reports used before;
- ``openpyxl-plain``: openpyxl write-only appending bare values (no per-cell formats): the ceiling of
  openpyxl's write-only mode;
- ``xlsxwriter``: connectors.bulk_workbook.write_bulk_workbook (XlsxWriter, constant_memory), the
  same treatment as openpyxl-current;
- ``xlsxwriter-bare``: XlsxWriter constant_memory writing the same values already prepared (no cover,
  widths, formats or formula check): the library's own ceiling, which the bulk writer cannot pass.

Prints one line per writer: best wall and CPU seconds, cells per CPU second, speed-up (CPU) over
openpyxl-current.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import xlsxwriter
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.bulk_workbook import OPTIONS, write_bulk_workbook
from connectors.workbook import CoverSheet, TableSheet, cell_value, write_workbook

Writer = Callable[[Path, Sequence[TableSheet], CoverSheet | None], Path]


def report_sheets(data: Path) -> list[TableSheet]:
    grid = pd.read_csv(data / "grid_residents.csv", dtype=str, keep_default_na=False)
    health = pd.read_csv(data / "health_records.csv", dtype=str, keep_default_na=False)
    civil = pd.read_csv(data / "civil_affairs.csv", dtype=str, keep_default_na=False)
    amount = civil.columns[-1]
    civil[amount] = pd.to_numeric(civil[amount], errors="coerce")
    return [
        TableSheet("实有人口", grid, {}, frozenset({grid.columns[0], grid.columns[2], grid.columns[5]})),
        TableSheet("健康档案", health, {}, frozenset({health.columns[0], health.columns[2], health.columns[5]})),
        TableSheet("救助对象", civil, {amount: "0.00"}, frozenset({civil.columns[0], civil.columns[2]})),
    ]


def cover_for(sheets: Sequence[TableSheet]) -> CoverSheet:
    facts = [(f"{sheet.title} 行数", str(len(sheet.frame))) for sheet in sheets]
    rows = [[sheet.title, str(column), "", "", ""] for sheet in sheets for column in sheet.frame.columns]
    return CoverSheet("基准报表", facts, ("工作表", "列名", "来源字段", "数据来源", "处理"), rows)


def write_plain_openpyxl(path: Path, sheets: Sequence[TableSheet], cover: CoverSheet | None = None) -> Path:
    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title)
        ws.append([str(column) for column in sheet.frame.columns])
        for row in sheet.frame.itertuples(index=False, name=None):
            ws.append([cell_value(value) for value in row])
    book.save(path)
    return path


def write_bare_xlsxwriter(path: Path, sheets: Sequence[TableSheet], cover: CoverSheet | None = None) -> Path:
    book = xlsxwriter.Workbook(str(path), OPTIONS)
    for sheet in sheets:
        ws = book.add_worksheet(sheet.title)
        columns = [[cell_value(value) for value in sheet.frame[column]] for column in sheet.frame.columns]
        write_string, write = ws.write_string, ws.write
        for row, cells in enumerate(zip(*columns, strict=True), start=1):
            for col, value in enumerate(cells):
                if type(value) is str:
                    write_string(row, col, value)
                elif value is not None:
                    write(row, col, value)
    book.close()
    return path


def best_seconds(writer: Writer, sheets: Sequence[TableSheet], folder: Path, repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` writes (CPU time is the fairer figure on a busy machine)."""
    wall, cpu = float("inf"), float("inf")
    for attempt in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        writer(folder / f"{writer.__name__}-{attempt}.xlsx", sheets, cover_for(sheets))
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="bench folder (grid_residents.csv, health_records.csv, ...)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sheets = report_sheets(args.data)
    cells = sum(sheet.frame.size + len(sheet.frame.columns) for sheet in sheets)
    writers: dict[str, Writer] = {
        "openpyxl-current": write_workbook,
        "openpyxl-plain": write_plain_openpyxl,
        "xlsxwriter": write_bulk_workbook,
        "xlsxwriter-bare": write_bare_xlsxwriter,
    }
    with tempfile.TemporaryDirectory() as folder:
        timings = {name: best_seconds(writer, sheets, Path(folder), args.repeat) for name, writer in writers.items()}
    baseline = timings["openpyxl-current"][1]
    print(f"{cells:,} cells in {len(sheets)} sheets ({', '.join(f'{s.title} {len(s.frame):,}' for s in sheets)})")
    for name, (wall, cpu) in timings.items():
        print(
            f"{name:18s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  {cells / cpu:10,.0f} cells per cpu-second  "
            f"x{baseline / cpu:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
