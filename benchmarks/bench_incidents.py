"""Benchmark incident merging on a bench folder: time resolve_incidents and write its lineage.

    .venv/bin/python benchmarks/bench_incidents.py --data /tmp/bench20k --out /tmp/incidents_lineage.csv \
        [--score ../shared/bench/score.py]

Until schemas.standardize lands, a small adapter here turns grid_events.csv and resident_events.csv
into the standardized event columns (category via map_category, address via parse_address).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from dedup.incidents import resolve_incidents
from schemas.categories import map_category, unknown_categories
from schemas.normalize.address import parse_address

# source -> (file, {own column: standardized column})
SOURCES = {
    "grid": (
        "grid_events.csv",
        {
            "事件编号": "record_id",
            "事件类型": "category_raw",
            "发生时间": "reported_at",
            "事发地点": "location",
            "所属网格": "grid",
            "事件描述": "description",
            "处置状态": "status",
        },
    ),
    "resident": (
        "resident_events.csv",
        {
            "event_id": "record_id",
            "category": "category_raw",
            "reported_at": "reported_at",
            "location": "location",
            "description": "description",
            "contact": "contact",
        },
    ),
}
PARTS = ("district", "street", "community", "road", "door_no", "building", "unit", "room")


def standardized_events(folder: Path) -> pd.DataFrame:
    """Bench event files as standardized event rows (the subset of columns matching needs)."""
    frames = []
    for source, (file_name, columns) in SOURCES.items():
        path = folder / file_name
        if not path.exists():
            continue
        raw = pd.read_csv(path, dtype=str, keep_default_na=False).rename(columns=columns)
        frame = raw[list(columns.values())].copy()
        frame.insert(0, "source", source)
        frames.append(frame)
    events = pd.concat(frames, ignore_index=True)
    mapped = [map_category(c) for c in events["category_raw"]]
    events["category"] = [c for c, _ in mapped]
    events["category_known"] = [k for _, k in mapped]
    times = pd.to_datetime(events["reported_at"], errors="coerce", format="mixed")
    events["reported_at"] = times.dt.strftime("%Y-%m-%d %H:%M:%S")
    parsed = {loc: parse_address(loc) for loc in events["location"].unique()}
    events["location_canonical"] = [parsed[loc].canonical or None for loc in events["location"]]
    for part in PARTS:
        events[f"loc_{part}"] = [getattr(parsed[loc], part) for loc in events["location"]]
    return events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench20k"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/incidents_lineage.csv"))
    parser.add_argument("--score", type=Path, help="score.py to run against DATA/truth_events.csv")
    args = parser.parse_args()

    started = time.perf_counter()
    events = standardized_events(args.data)
    prepared = time.perf_counter()
    result = resolve_incidents(events)
    finished = time.perf_counter()
    result.lineage.to_csv(args.out, index=False)
    print(
        f"{len(events)} reports -> {len(result.incidents)} incidents; "
        f"adapter {prepared - started:.2f}s, resolve_incidents {finished - prepared:.2f}s"
    )
    print(f"unknown categories: {len(unknown_categories(events['category_raw']))}")
    if args.score:
        truth = args.data / "truth_events.csv"
        subprocess.run([sys.executable, str(args.score), str(truth), str(args.out)], check=True)


if __name__ == "__main__":
    main()
