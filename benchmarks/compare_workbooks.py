"""Compare two output folders of the hub cell by cell: same workbooks, sheets, values and number formats.

    .venv/bin/python benchmarks/compare_workbooks.py BEFORE_OUT AFTER_OUT [--ignore-label 运行编号 ...] [--xml]

For every .xlsx under either folder (paired by path): the same sheet names in the same order and, per
sheet, the same cells (value and number format; openpyxl reads them). A cell beside a label given with
``--ignore-label`` (the cover's 运行编号, 生成时间, a roster's 名册编号 and the hidden marker's send_id
differ between two runs) is not compared. ``--xml`` also compares every part of the two files byte by
byte, the document properties (creation time) aside: for outputs written with a fixed run id and time
(benchmarks/bench_reports.py), so widths, filters, dropdowns and print setup are compared too. The
departments' received pushes (``*_received.json``) are compared row by row, tables kept (``*.csv``)
byte by byte. Exit status 1 on any
difference, each one printed (the first few per sheet).
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

import openpyxl

SHOWN_PER_SHEET = 5
IGNORED_PARTS = {"docProps/core.xml"}


def cells(path: Path) -> Iterator[tuple[str, list[list[tuple[Any, str]]]]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        for sheet in book.worksheets:
            rows = [
                [(cell.value, getattr(cell, "number_format", "General")) for cell in row if cell.value is not None]
                for row in sheet.iter_rows()
            ]
            yield f"{sheet.title}|{sheet.sheet_state}", rows
    finally:
        book.close()


def compare_book(before: Path, after: Path, ignored: set[str]) -> list[str]:
    problems: list[str] = []
    left, right = dict(cells(before)), dict(cells(after))
    if list(left) != list(right):
        return [f"sheets differ: {list(left)} vs {list(right)}"]
    for sheet, rows in left.items():
        shown = 0
        old: list[tuple[Any, str]]
        new: list[tuple[Any, str]]
        for number, (old, new) in enumerate(zip_longest(rows, right[sheet], fillvalue=[]), start=1):
            if old and new and old[0][0] in ignored and new[0][0] == old[0][0]:
                old, new = old[:1] + old[2:], new[:1] + new[2:]
            if old != new:
                shown += 1
                if shown <= SHOWN_PER_SHEET:
                    problems.append(f"{sheet} row {number}: {old} != {new}")
        if shown > SHOWN_PER_SHEET:
            problems.append(f"{sheet}: {shown} rows differ in all")
    return problems


def compare_parts(before: Path, after: Path) -> list[str]:
    with zipfile.ZipFile(before) as left, zipfile.ZipFile(after) as right:
        names = sorted(set(left.namelist()) | set(right.namelist()))
        return [
            f"part {name} differs"
            for name in names
            if name not in IGNORED_PARTS
            and (name not in left.namelist() or name not in right.namelist() or left.read(name) != right.read(name))
        ]


def received_rows(path: Path) -> list[tuple[str, int, Any]]:
    batches = json.loads(path.read_text(encoding="utf-8"))
    return [(batch["report"], batch["batch"], batch["rows"]) for batch in batches]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--ignore-label", action="append", default=[], help="a label whose value may differ")
    parser.add_argument("--xml", action="store_true", help="also compare every part of the files byte by byte")
    args = parser.parse_args(argv)
    ignored = set(args.ignore_label)
    problems: list[str] = []
    compared = 0
    for pattern in ("*.xlsx", "*_received.json", "*.csv"):
        left = {path.relative_to(args.before) for path in args.before.rglob(pattern)}
        right = {path.relative_to(args.after) for path in args.after.rglob(pattern)}
        problems += [f"only in {args.before}: {name}" for name in sorted(left - right)]
        problems += [f"only in {args.after}: {name}" for name in sorted(right - left)]
        for name in sorted(left & right):
            compared += 1
            before, after = args.before / name, args.after / name
            if pattern == "*.xlsx":
                found = compare_book(before, after, ignored) + (compare_parts(before, after) if args.xml else [])
            elif pattern == "*_received.json":
                found = [] if received_rows(before) == received_rows(after) else ["pushed rows differ"]
            else:
                found = [] if before.read_bytes() == after.read_bytes() else ["rows differ"]
            problems += [f"{name}: {problem}" for problem in found]
    for problem in problems:
        print(problem)
    print(f"{compared} files compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
