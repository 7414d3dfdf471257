"""Fixtures shared by the whole suite: bench data with known truth, and the real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = Path(os.environ.get("HUB_SHARED_BENCH", REPO.parent / "shared" / "bench"))
PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_bench(out: Path, people: int, seed: int, *extra: str) -> Path:
    """Write department files with known truth using ../shared/bench/make_residents.py."""
    script = SHARED_BENCH / "make_residents.py"
    if not script.exists():
        pytest.skip(f"bench generator not found at {script}")
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


@pytest.fixture(scope="session")
def score_script() -> Path:
    return SHARED_BENCH / "score.py"


@pytest.fixture(scope="session")
def pg_engine() -> sa.Engine:
    """The machine's real PostgreSQL (CI starts it). Tests that take this fixture use it for real."""
    engine = sa.create_engine(PG_URL)
    with engine.connect() as conn:
        conn.execute(sa.text("select 1"))
    return engine
