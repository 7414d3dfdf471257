"""Freed memory goes back to the system after every step of the jobs that run the city."""

from __future__ import annotations

import sys

import pytest

from pipelines.definitions import build_definitions
from pipelines.memory import release_freed_memory, release_memory_after_step
from pipelines.schedules import MAIN_JOB_NAME


def resident_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_returned_to_the_system() -> None:
    before = resident_kb()
    blocks = [bytearray(64 * 1024) for _ in range(3000)]  # ~200 MB in pieces below mmap's threshold
    grown = resident_kb()
    del blocks[:-1]  # the last block keeps the heap's top in use: only a trim can give the rest back
    assert release_freed_memory() is True
    assert resident_kb() - before < (grown - before) / 2


def test_every_city_job_releases_memory_after_each_step() -> None:
    definitions = build_definitions()
    city = {MAIN_JOB_NAME, "district_linking", "city_reconciliation"}
    jobs = [job for job in definitions.resolve_all_job_defs() if job.name in city or job.name.startswith("report_")]
    assert {MAIN_JOB_NAME, "district_linking", "city_reconciliation"} <= {job.name for job in jobs}
    assert any(job.name.startswith("report_") for job in jobs)
    for job in jobs:
        assert release_memory_after_step in job.hook_defs, job.name
