"""The hub's Dagster definitions: what `dagster dev -w workspace.yaml` shows and `hub demo` runs.

Resources read the department systems' addresses from environment variables (see
pipelines/settings.py); no address or secret is written here.
"""

from __future__ import annotations

import os

import dagster as dg

from pipelines.assets.alerts import alerts_asset
from pipelines.assets.districts import district_assets, district_jobs
from pipelines.assets.forms import form_assets, form_schedules
from pipelines.assets.guards import source_guard_asset
from pipelines.assets.intake import intake_rejections
from pipelines.assets.raw import RAW_SOURCES, raw_assets
from pipelines.assets.reports import report_assets
from pipelines.assets.resolved import resolved_assets
from pipelines.assets.returns import community_corrections
from pipelines.assets.standardized import standardize_assets
from pipelines.progress import progress_logger
from pipelines.resources.civil_inbox import CivilInboxResource
from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.resources.delivery import DeliveryResource
from pipelines.resources.grid_system import GridSystemResource
from pipelines.resources.health_system import HealthSystemResource
from pipelines.resources.mini_program import MiniProgramResource
from pipelines.resources.warehouse import (
    CurrentTableIOManager,
    PartitionedTableIOManager,
    WarehouseIOManager,
    WarehouseResource,
    WrittenTableIOManager,
)
from pipelines.schedules import department_schedules, main_job
from pipelines.sensors import community_inbox_sensor
from pipelines.settings import default_database_url


def build_definitions(executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """The hub's definitions; ``executor`` (the Celery one) replaces Dagster's default for every job."""
    database_url = default_database_url()
    return dg.Definitions(
        executor=executor,
        assets=[
            *raw_assets,
            source_guard_asset,
            *standardize_assets,
            *resolved_assets,
            community_corrections,
            alerts_asset,
            *report_assets,
            intake_rejections,
            *form_assets,
            *district_assets,
        ],
        jobs=[main_job, *district_jobs],
        loggers={"console": dg.colored_console_logger, "progress": progress_logger},
        schedules=[*department_schedules(), *form_schedules()],
        sensors=[community_inbox_sensor],
        resources={
            "io_manager": WarehouseIOManager(url=database_url),
            "lineage_io_manager": WrittenTableIOManager(url=database_url),
            "current_io_manager": CurrentTableIOManager(
                url=database_url,
                source_orders={
                    f"std_{dataset}": [spec.source for spec in RAW_SOURCES if spec.dataset == dataset]
                    for dataset in ("residents", "events")
                },
            ),
            "district_io_manager": PartitionedTableIOManager(url=database_url),
            "warehouse": WarehouseResource(url=database_url),
            "grid_system": GridSystemResource(
                base_url=dg.EnvVar("HUB_GRID_URL"), token=dg.EnvVar("HUB_GRID_TOKEN")
            ),
            "mini_program": MiniProgramResource(base_url=dg.EnvVar("HUB_MINIPROGRAM_URL")),
            "health_system": HealthSystemResource(
                url=dg.EnvVar("HUB_HEALTH_DB_URL"), table=dg.EnvVar("HUB_HEALTH_TABLE")
            ),
            "civil_inbox": CivilInboxResource(path=dg.EnvVar("HUB_CIVIL_INBOX")),
            "community_inbox": CommunityInboxResource(path=dg.EnvVar("HUB_COMMUNITY_INBOX")),
            "delivery": DeliveryResource(
                inbox_url=dg.EnvVar("HUB_DEPARTMENT_INBOX_URL"),
                out_dir=dg.EnvVar("HUB_OUT"),
                database_url=database_url,
            ),
        },
    )


def default_executor() -> dg.ExecutorDefinition | None:
    """HUB_EXECUTOR=celery: every job's steps go to Celery workers (`hub worker`), as in production."""
    if os.environ.get("HUB_EXECUTOR", "") != "celery":
        return None
    from pipelines.celery_run import configured_executor

    return configured_executor()


defs = build_definitions(executor=default_executor())
