"""The main job and one schedule per department, from each report specification's cron."""

from __future__ import annotations

import dagster as dg

from pipelines.assets.reports import report_asset_name
from pipelines.departments import load_report_specs
from pipelines.memory import release_memory_after_step

MAIN_JOB_NAME = "hub_all"

main_job = dg.define_asset_job(
    MAIN_JOB_NAME,
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("districts"),
    description="Pull every department system, standardize, merge, and report to every department "
    "(the district-partitioned linking runs in its own jobs: pipelines/assets/districts.py).",
    hooks={release_memory_after_step},
)


def department_schedules() -> list[dg.ScheduleDefinition]:
    """A schedule per report specification (each department, the community rosters): the report and
    everything upstream of it, on the specification's own cron."""
    schedules = []
    for name, spec in load_report_specs().items():
        asset = report_asset_name(spec)
        job = dg.define_asset_job(
            f"report_{name}_job",
            selection=dg.AssetSelection.assets(asset).upstream().required_multi_asset_neighbors(),
            description=f"{spec.title}: pull, merge and deliver",
            hooks={release_memory_after_step},
        )
        schedules.append(
            dg.ScheduleDefinition(
                name=f"report_{name}_schedule",
                job=job,
                cron_schedule=spec.cron_schedule,
                execution_timezone=spec.execution_timezone,
            )
        )
    return schedules
