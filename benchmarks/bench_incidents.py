"""Benchmark incident merging on a bench folder: time resolve_incidents and write its lineage.

    .venv/bin/python benchmarks/bench_incidents.py --data /tmp/bench20k --out /tmp/incidents_lineage.csv \
        [--score ../shared/bench/score.py]

The bench folder's grid_events.csv and resident_events.csv go through schemas.standardize first, as
in the pipeline; the truth file is read only by the scorer.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from dedup.incidents import resolve_incidents
from schemas.categories import unknown_categories
from schemas.standardize import standardize

EVENT_FILES = {"grid": "grid_events.csv", "resident": "resident_events.csv"}


def standardized_events(folder: Path) -> pd.DataFrame:
    """The folder's event files through schemas.standardize (accepted rows of every source)."""
    accepted = []
    for source, file_name in EVENT_FILES.items():
        path = folder / file_name
        if path.exists():
            rows = pd.read_csv(path, dtype=str, keep_default_na=False)
            accepted.append(standardize("events", source, rows).accepted)
    return pd.concat(accepted, ignore_index=True)


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
        f"standardize {prepared - started:.2f}s, resolve_incidents {finished - prepared:.2f}s"
    )
    print(f"unknown categories: {len(unknown_categories(events['category_raw']))}")
    if args.score:
        truth = args.data / "truth_events.csv"
        subprocess.run([sys.executable, str(args.score), str(truth), str(args.out)], check=True)


if __name__ == "__main__":
    main()
