"""Per step of one `hub demo` run: CPU seconds, wall seconds, resident memory at its start and its peak.

    /usr/bin/time -v .venv/bin/python benchmarks/bench_demo_steps.py /tmp/bench250k --work /tmp/demo-steps

Runs `hub demo --data DATA` in this process (the embedded, in-process run: every step in one process)
with its own HUB_HOME, DAGSTER_HOME and SQLite warehouse under WORK (removed first). At each step's
start the kernel's peak counter is reset (/proc/self/clear_refs), so a step's peak is its own, not
the run's so far; Linux only. Prints one line per step and writes WORK/steps.json. `/usr/bin/time -v`
around it gives the run's CPU (user + system); its maximum resident set size is the last step's peak
only (the reset clears the kernel's one high-water mark), so the run's peak is the one printed here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def status_mb(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


def watch_steps(steps: list[dict[str, Any]]) -> None:
    """Note every step's start and end through the demo's progress logger, which sees every event."""
    from pipelines import progress

    started: dict[str, tuple[float, float, float]] = {}
    describe = progress.ProgressHandler.describe

    def measured(self: progress.ProgressHandler, event: Any) -> str | None:
        if event.is_step_start:
            started[event.step_key] = (cpu_seconds(), time.perf_counter(), status_mb("VmRSS:"))
            reset_peak()
        elif event.is_step_success or event.is_step_failure:
            cpu, wall, rss = started.pop(event.step_key)
            step = {
                "step": event.step_key,
                "cpu_s": round(cpu_seconds() - cpu, 1),
                "wall_s": round(time.perf_counter() - wall, 1),
                "start_rss_mb": round(rss),
                "peak_mb": round(status_mb("VmHWM:")),
                "failed": event.is_step_failure,
            }
            steps.append(step)
            print(
                f"{step['step']:36s} cpu {step['cpu_s']:7.1f} s  wall {step['wall_s']:7.1f} s  "
                f"start {step['start_rss_mb']:6d} MB  peak {step['peak_mb']:6d} MB",
                flush=True,
            )
        return describe(self, event)

    progress.ProgressHandler.describe = measured  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="an empty folder of its own (removed first)")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    home.mkdir(parents=True)
    os.environ.update(
        HUB_HOME=str(home),
        DAGSTER_HOME=str(work / "dagster"),
        HUB_DATABASE_URL=f"sqlite:///{home / 'warehouse.sqlite'}",
    )
    (work / "dagster").mkdir()
    steps: list[dict[str, Any]] = []
    watch_steps(steps)
    from pipelines.cli import main as hub

    started_cpu, started = cpu_seconds(), time.perf_counter()
    code = hub(["demo", "--data", str(args.data), "--out", str(work / "out")])
    totals = {
        "cpu_s": round(cpu_seconds() - started_cpu, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        # resetting the peak counter at each step also resets what ru_maxrss reads (the kernel keeps one
        # high-water mark), so the run's peak is the highest of the steps' peaks and the last reading
        "max_rss_mb": max(
            [round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), *(step["peak_mb"] for step in steps)]
        ),
    }
    (work / "steps.json").write_text(json.dumps({"steps": steps, "run": totals}, indent=2), encoding="utf-8")
    print(json.dumps(totals))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
