"""Sensor on the community inbox: a dropped workbook (intake or a returned roster or form) starts a
run of the whole hub."""

import json

import dagster as dg

from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.schedules import MAIN_JOB_NAME


def new_workbooks(seen: dict[str, float], current: dict[str, float]) -> list[str]:
    """Workbooks that appeared or changed since the sensor last looked."""
    return sorted(name for name, mtime in current.items() if seen.get(name) != mtime)


@dg.sensor(job_name=MAIN_JOB_NAME, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def community_inbox_sensor(
    context: dg.SensorEvaluationContext, community_inbox: CommunityInboxResource
) -> dg.SensorResult | dg.SkipReason:
    """Runs the hub once per batch of new or changed workbooks in the community inbox."""
    seen: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    current = {path.name: path.stat().st_mtime for path in community_inbox.all_workbooks()}
    fresh = new_workbooks(seen, current)
    if not fresh:
        return dg.SkipReason("社区收件箱没有新的工作簿")
    run_key = "intake:" + ";".join(f"{name}@{current[name]}" for name in fresh)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"hub/intake_files": ",".join(fresh)[:200]})],
        cursor=json.dumps(current),
    )
