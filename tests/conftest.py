"""Fixtures shared by the whole suite: bench data with known truth, and the real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = Path(os.environ.get("HUB_SHARED_BENCH", REPO.parent / "shared" / "bench"))
PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_bench(out: Path, people: int, seed: int, *extra: str) -> Path:
    """Write department files with known truth: with ../shared/bench/make_residents.py where it is
    beside the repo (as in CI), else with the project's own generator, so a newcomer runs every test."""
    script = SHARED_BENCH / "make_residents.py"
    if not script.exists():
        from connectors.simulated.seed import write_synthetic

        write_synthetic(out, people=people, seed=seed)
        return out
    subprocess.run(
        [sys.executable, str(script), "--people", str(people), "--seed", str(seed), "--out", str(out), *extra],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def bench_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 600 resident records and 60 event reports from three departments, with truth files."""
    return make_bench(tmp_path_factory.mktemp("bench_small"), 300, 5)


BENCH_RESIDENT_FILES = {"grid": "grid_residents.csv", "health": "health_records.csv", "civil": "civil_affairs.csv"}


@pytest.fixture(scope="session")
def _bench_small_standardized(bench_small: Path) -> pd.DataFrame:
    from schemas.standardize import standardize

    frames = []
    for source, name in BENCH_RESIDENT_FILES.items():
        raw = pd.read_csv(bench_small / name, dtype=str, keep_default_na=False)
        frames.append(standardize("residents", source, raw).accepted)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def bench_small_residents(_bench_small_standardized: pd.DataFrame) -> pd.DataFrame:
    """The small bench's resident records as the schemas stage accepts them (standardized once per
    session; each test gets its own copy)."""
    return _bench_small_standardized.copy()


def _pairwise_f1(truth: Path, predicted: Path) -> float:
    """Pairwise F1 of a lineage file against a truth file: by ../shared/bench/score.py where it is
    there (the outside scorer reads the files exactly as a user's tools would), else by dedup.evaluate."""
    script = SHARED_BENCH / "score.py"
    if script.exists():
        printed = subprocess.run(
            [sys.executable, str(script), str(truth), str(predicted)], check=True, capture_output=True, text=True
        ).stdout
        return float(printed.split("f1=")[1].split()[0])
    from dedup import pairwise_scores

    return pairwise_scores(pd.read_csv(truth, dtype=str), pd.read_csv(predicted, dtype=str)).f1


@pytest.fixture(scope="session")
def pg_engine() -> sa.Engine:
    """The machine's real PostgreSQL (CI starts it). Tests that take this fixture use it for real."""
    engine = sa.create_engine(PG_URL)
    with engine.connect() as conn:
        conn.execute(sa.text("select 1"))
    return engine


@pytest.fixture(scope="session")
def pairwise_f1() -> Callable[[Path, Path], float]:
    """Scores a lineage file against a truth file (see _pairwise_f1)."""
    return _pairwise_f1
