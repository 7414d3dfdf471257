"""benchmarks/bench_demo_steps.py: one demo run, measured step by step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_every_step_of_the_demo_gets_its_own_cpu_and_peak(bench_small: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HUB_", "DAGSTER_"))}
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_demo_steps.py"), str(bench_small), "--work", str(work)],
        check=True,
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    measured = json.loads((work / "steps.json").read_text(encoding="utf-8"))
    steps = {step["step"]: step for step in measured["steps"]}
    assert {"raw_grid_residents", "standardize_residents", "resolve_persons"} <= set(steps)
    assert not any(step["failed"] for step in steps.values())
    for step in steps.values():
        assert 0 < step["peak_mb"] <= measured["run"]["max_rss_mb"]
        assert step["peak_mb"] >= step["start_rss_mb"] - 5, "a step's peak counts from its own start"
        assert step["cpu_s"] >= 0 and step["wall_s"] >= 0
    assert measured["run"]["cpu_s"] >= sum(step["cpu_s"] for step in steps.values()) - 1
    assert (work / "out" / "summary.json").is_file()
