"""The Dagster definitions load, every job resolves, and the automation a steward relies on is there."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import build_definitions
from pipelines.departments import load_report_specs


def test_every_job_resolves_and_each_department_has_a_schedule() -> None:
    defs = build_definitions()
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    departments = [name for name, spec in load_report_specs().items() if spec.kind == "department"]
    assert {"grid", "health", "civil"} <= set(departments)
    for name in departments:
        assert f"report_{name}_job" in jobs
        schedule = defs.resolve_schedule_def(f"report_{name}_schedule")
        assert schedule.cron_schedule == load_report_specs()[name].cron_schedule
    roster = defs.resolve_schedule_def("report_community_schedule")
    assert roster.cron_schedule == load_report_specs()["community"].cron_schedule
    assert "hub_all" in jobs
    assert defs.resolve_sensor_def("community_inbox_sensor").job_name == "hub_all"


def test_accounting_checks_block_matching() -> None:
    graph = build_definitions().resolve_asset_graph()
    for dataset in ("residents", "events"):
        key = dg.AssetCheckKey(dg.AssetKey(f"std_{dataset}"), "accounting")
        assert graph.get_check_spec(key).blocking
    assert dg.AssetKey("person_lineage") in graph.get(dg.AssetKey("golden_persons")).parent_keys
