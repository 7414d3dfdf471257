"""A day and the next through `hub demo`, end to end: wall and CPU time and peak memory of each run,
and the persons of the incremental day against a full rebuild of the same day.

    .venv/bin/python benchmarks/bench_daily_runs.py /tmp/bench20k /tmp/bench20k-day2 --work /tmp/daily-bench

Runs `hub demo --data DAY1`, then `hub demo --data DAY2` against the same HUB_HOME (an incremental
day), each in its own process, in one measurement. With --full-check it also runs `hub demo --data
DAY2 --full` on a copy of the day-1 state and scores the pairwise agreement of the two days' persons
(lineage_residents.csv; the full run as reference) and each against DAY2's truth. Prints JSON. Wall
time depends on what else the machine runs; CPU time (user + system) much less so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dedup import pairwise_scores  # noqa: E402


def run_demo(data: Path, home: Path, out: Path, *extra: str) -> dict[str, float]:
    """One `hub demo` process: wall seconds, CPU seconds (user + system), peak resident memory (MB)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env.update(HUB_HOME=str(home / ".hub"), DAGSTER_HOME=str(home / ".dagster"))
    command = [sys.executable, "-m", "pipelines.cli", "demo", "--data", str(data), "--out", str(out), *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"hub demo --data {data} failed:\n{errors.decode(errors='replace')[-3000:]}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_mb": round(usage.ru_maxrss / 1024),
        "mode": summary["mode"],
        "received": sum(summary["received"].values()),
    }


def lineage(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "lineage_residents.csv", dtype=str)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("day1", type=Path)
    parser.add_argument("day2", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="an empty folder of its own (removed first)")
    parser.add_argument("--full-check", action="store_true", help="also rebuild day 2 in full and compare")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    home, full_home = args.work / "daily", args.work / "full"
    report: dict[str, object] = {"day1": run_demo(args.day1.resolve(), home, args.work / "out-day1")}
    if args.full_check:
        shutil.copytree(home, full_home)
    report["day2"] = run_demo(args.day2.resolve(), home, args.work / "out-day2")
    day1, day2 = report["day1"], report["day2"]
    assert isinstance(day1, dict) and isinstance(day2, dict)
    report["day2_over_day1"] = {
        "wall": round(day2["wall_seconds"] / day1["wall_seconds"], 3),
        "cpu": round(day2["cpu_seconds"] / day1["cpu_seconds"], 3),
        "peak_memory": round(day2["peak_mb"] / day1["peak_mb"], 3),
    }
    if args.full_check:
        report["day2_full"] = run_demo(args.day2.resolve(), full_home, args.work / "out-day2-full", "--full")
        incremental, full = lineage(args.work / "out-day2"), lineage(args.work / "out-day2-full")
        agreement = pairwise_scores(full, incremental)
        truth = pd.read_csv(args.day2 / "truth_residents.csv", dtype=str)
        report["agreement_incremental_vs_full"] = {
            "precision": round(agreement.precision, 6),
            "recall": round(agreement.recall, 6),
            "f1": round(agreement.f1, 6),
        }
        report["f1_vs_truth"] = {
            "incremental": round(pairwise_scores(truth, incremental).f1, 5),
            "full": round(pairwise_scores(truth, full).f1, 5),
        }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
