"""Walk a community roster round trip through `hub demo`, and measure it.

    .venv/bin/python benchmarks/roster_walkthrough.py --data /tmp/bench20k --work /tmp/roster/walk20k

1. `hub demo --data DATA` (first run: reports and one pre-filled roster per community);
2. as community staff would: open one community's roster, overwrite the phone number of three
   persons the health department also holds, pick 信息有误已更正 for them and 已死亡 for a fourth,
   write a name beside 核对人, save it under another name and drop it into the community inbox;
3. `hub demo` again: the health department's 变更 workbook must list each of the three with the new
   number, the file must have left the inbox (processed/), the fourth person must have alerts;
4. drop the very same file again and run a third time: nothing may change (no new correction, no
   health change row with those numbers), and the file leaves the inbox again.

Prints each run's seconds and the figures checked; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import openpyxl

REPO = Path(__file__).resolve().parents[1]
HUB = Path(sys.executable).with_name("hub")
NEW_PHONES = ("13900001111", "13900002222", "13900003333")


def run_demo(data: Path, work: Path) -> float:
    env = {
        **os.environ,
        "HUB_HOME": str(work / "home"),
        "DAGSTER_HOME": str(work / "dagster"),
        "HUB_DATABASE_URL": f"sqlite:///{work / 'home' / 'warehouse.sqlite'}",
    }
    (work / "dagster").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run([str(HUB), "demo", "--data", str(data), "--out", str(work / "out")], env=env, check=True,
                   cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def health_person_ids(out: Path) -> set[str]:
    path = max((out / "reports").glob("health_卫健_2*.xlsx"))
    sheet = openpyxl.load_workbook(path, read_only=True)["居民名单"]
    return {str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True) if row and row[0]}


def correct_roster(roster: Path, target: Path, persons: set[str]) -> tuple[dict[str, str], str]:
    """Overwrite three phones of persons in ``persons`` and mark a fourth 已死亡, as staff would;
    returns person id -> new phone, and the person marked deceased."""
    book = openpyxl.load_workbook(roster)
    sheet = book["居民名册"]
    header = [cell.value for cell in sheet[1]]
    key, phone, result = header.index("人员编号"), header.index("联系电话"), header.index("核对结果")
    corrected: dict[str, str] = {}
    deceased = ""
    for row in sheet.iter_rows(min_row=2):
        person = str(row[key].value)
        if person in persons and row[phone].value and len(corrected) < len(NEW_PHONES):
            row[phone].value = NEW_PHONES[len(corrected)]
            row[result].value = "信息有误已更正"
            corrected[person] = row[phone].value
        elif not deceased and len(corrected) == len(NEW_PHONES):
            row[result].value = "已死亡"
            deceased = person
    cover = book.worksheets[0]
    for row in cover.iter_rows():
        if row[0].value == "核对人（请填写）":
            row[1].value = "王网格员"
    book.save(target)
    return corrected, deceased


def change_rows(out: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted((out / "reports").glob("health_卫健_变更_*.xlsx")):
        sheet = openpyxl.load_workbook(path, read_only=True)["变更明细"]
        values = list(sheet.iter_rows(values_only=True))
        rows += [dict(zip(values[0], row, strict=False)) for row in values[1:]]
    return rows


def corrections_count(work: Path) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{work / 'home' / 'warehouse.sqlite'}")
    with engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from roster_corrections")).scalar() or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="emptied first: HUB_HOME, DAGSTER_HOME, OUT")
    args = parser.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    out, inbox = work / "out", work / "home" / "community-inbox"
    failures: list[str] = []

    first = run_demo(args.data, work)
    health = health_person_ids(out)
    rosters = sorted((out / "rosters").glob("*.xlsx"), key=lambda p: (p.name.startswith("未识别"), -p.stat().st_size))
    dropped = inbox / "核对完毕_回传.xlsx"
    corrected, deceased = correct_roster(rosters[0], dropped, health)
    kept = work / "same_file_again.xlsx"
    shutil.copy2(dropped, kept)
    print(f"run 1 (full): {first:.1f} s; roster {rosters[0].name}: phones corrected {len(corrected)}, "
          f"已死亡 {deceased}")

    for stale in (out / "reports").glob("*_变更_*.xlsx"):
        stale.unlink()
    second = run_demo(args.data, work)
    rows = change_rows(out)
    reached = {
        person: any(str(r.get("人员编号")) == person and str(r.get("新值")) == phone for r in rows)
        for person, phone in corrected.items()
    }
    left_inbox = not dropped.exists() and any((inbox / "processed").glob("*.xlsx"))
    with (out / "alerts.csv").open(encoding="utf-8") as handle:
        deceased_alerts = [r for r in csv.DictReader(handle) if r["kind"] == "community_reported_deceased"
                           and r["person_id"] == deceased]
    applied = corrections_count(work)
    print(f"run 2 (incremental, roster returned): {second:.1f} s; health 变更 rows with person id and new number: "
          f"{sum(reached.values())}/{len(corrected)}; roster left the inbox: {left_inbox}; corrections recorded: "
          f"{applied}; community_reported_deceased alerts for {deceased}: "
          f"{sorted(r['source'] for r in deceased_alerts)}")
    if not all(reached.values()) or not left_inbox or not deceased_alerts:
        failures.append("second run")

    for stale in (out / "reports").glob("*_变更_*.xlsx"):
        stale.unlink()
    shutil.copy2(kept, inbox / "同一文件再次放入.xlsx")
    third = run_demo(args.data, work)
    again = change_rows(out)
    phone_rows = [r for r in again if str(r.get("新值")) in NEW_PHONES]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    left_again = not (inbox / "同一文件再次放入.xlsx").exists()
    print(f"run 3 (same file dropped again): {third:.1f} s; corrections recorded: {corrections_count(work)} "
          f"(before {applied}); health 变更 rows with the new numbers: {len(phone_rows)}; left the inbox: "
          f"{left_again}; community_returns: {summary.get('community_returns')}")
    if corrections_count(work) != applied or phone_rows or not left_again:
        failures.append("third run")
    print("OK" if not failures else f"FAILED: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
