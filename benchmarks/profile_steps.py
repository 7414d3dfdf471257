"""CPU seconds of each step of one `hub demo` run, and a cProfile of the steps asked for.

    HUB_HOME=/tmp/x/hub DAGSTER_HOME=/tmp/x/dagster HUB_DATABASE_URL=sqlite:////tmp/x/hub/warehouse.sqlite \
        .venv/bin/python benchmarks/profile_steps.py /tmp/bench20k --out /tmp/x/out \
        [--profile report_grid,community_rosters --stats /tmp/x/prof]

The demo runs its steps one after another in this process, so the process CPU time between a step's
start and its success is that step's CPU (user + system, threads included). With ``--profile`` the
named steps run under cProfile (slower: take their CPU from a run without it) and each step's
statistics go to ``--stats``/<step>.prof, with the top functions by cumulative time printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pipelines.progress as progress
from pipelines.demo import run_demo


class StepTimes(progress.ProgressHandler):
    """The demo's progress lines, plus each step's CPU seconds (and its profile when asked)."""

    steps: ClassVar[dict[str, float]] = {}
    profiled: ClassVar[set[str]] = set()
    stats_dir: ClassVar[Path | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started_cpu: dict[str, float] = {}
        self.profiles: dict[str, cProfile.Profile] = {}

    def describe(self, event: Any) -> str | None:
        key = event.step_key
        if event.is_step_start and key:
            if key in self.profiled:
                self.profiles[key] = cProfile.Profile()
                self.profiles[key].enable()
            self.started_cpu[key] = time.process_time()
        elif (event.is_step_success or event.is_step_failure) and key in self.started_cpu:
            StepTimes.steps[key] = time.process_time() - self.started_cpu.pop(key)
            profile = self.profiles.pop(key, None)
            if profile is not None:
                profile.disable()
                self.report(key, profile)
        return super().describe(event)

    def report(self, key: str, profile: cProfile.Profile) -> None:
        assert self.stats_dir is not None
        self.stats_dir.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(str(self.stats_dir / f"{key}.prof"))
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(45)
        (self.stats_dir / f"{key}.txt").write_text(text.getvalue(), encoding="utf-8")
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(45)
        (self.stats_dir / f"{key}.tottime.txt").write_text(text.getvalue(), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", default="", help="comma-separated step keys to run under cProfile")
    parser.add_argument("--stats", type=Path, default=None, help="folder for the profiles (default OUT/profiles)")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    StepTimes.profiled = {name for name in args.profile.split(",") if name}
    StepTimes.stats_dir = args.stats or args.out / "profiles"
    progress.ProgressHandler = StepTimes  # type: ignore[misc]  # the demo's logger builds this handler
    started, started_cpu = time.perf_counter(), time.process_time()
    code = run_demo(data=args.data, people=0, seed=0, out=args.out, full=args.full)
    total = {"wall": time.perf_counter() - started, "cpu": time.process_time() - started_cpu}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nCPU seconds per step (whole run {total['cpu']:.1f} s CPU, {total['wall']:.1f} s wall, "
          f"peak {peak_mb:,.0f} MB):")
    for key, cpu in sorted(StepTimes.steps.items(), key=lambda item: -item[1]):
        print(f"  {key:40s} {cpu:8.2f}")
    figures = {"steps_cpu": StepTimes.steps, **total, "peak_mb": peak_mb}
    (args.out / "step_cpu.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
