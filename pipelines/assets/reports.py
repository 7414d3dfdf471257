"""Department reports and community rosters, built from golden records and merged incidents.

One asset per report specification in pipelines/departments/; each writes its workbook and pushes
its rows to the department's inbox, and the warehouse keeps the (masked) rows it delivered. On an
incremental day a department gets only its changes (pipelines/changes.py): a 变更 workbook and the
change rows. The workbook also carries the department's 核验 sheet (the cross-department alerts on its
records). A report fed by a source the shrink guard stopped is not produced in that run
(pipelines/assets/guards.py).
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from pipelines.alerts import verification_table
from pipelines.assets.guards import guard_config, reports_held_by
from pipelines.changes import deliver_daily, id_changes, plan_report
from pipelines.departments import ReportSpec, load_report_specs
from pipelines.golden_state import golden_digests
from pipelines.metadata import frame_metadata
from pipelines.reporting import (
    build_community_rosters,
    today_in_china,
    write_community_rosters,
)
from pipelines.resources.delivery import DeliveryResource
from pipelines.resources.warehouse import WarehouseResource
from pipelines.roster_returns import record_roster_sends
from pipelines.run_mode import tagged_mode


def report_asset_name(spec: ReportSpec) -> str:
    """The asset that delivers a specification: report_<department>, or <name>_rosters for rosters."""
    if spec.kind == "department":
        return f"report_{spec.name}"
    return spec.name if spec.name.endswith("rosters") else f"{spec.name}_rosters"


def build_report_asset(spec: ReportSpec) -> dg.AssetsDefinition:
    config = guard_config()

    @dg.asset(
        name=report_asset_name(spec),
        group_name="reports",
        description=f"{spec.title} → {spec.recipient}",
        kinds={"excel"},
        tags={"department": spec.department},
        output_required=False,
    )
    def report_asset(
        context: dg.AssetExecutionContext,
        golden_persons: pd.DataFrame,
        incidents: pd.DataFrame,
        source_guard: pd.DataFrame,
        alerts: pd.DataFrame,
        delivery: DeliveryResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.Output[pd.DataFrame]]:
        held = reports_held_by(source_guard, spec.name, config)
        if held:
            context.log.warning(f"report {spec.name} held back in this run (not written, not pushed): {held}")
            return
        engine = delivery.log().engine
        mode = tagged_mode(context)  # untagged: each department's schedule and last delivery decide
        plan = plan_report(
            spec,
            golden_persons,
            incidents,
            engine=engine,
            mode=mode,
            as_of=today_in_china(),
            golden_digests=golden_digests(warehouse.get()),
            verification=lambda: verification_table(spec, alerts, golden_persons),
        )
        report, scope = plan.report, plan.scope
        with delivery.run_lock(context.run_id):
            outcome = deliver_daily(
                report,
                out_dir=delivery.out_path(),
                run_id=context.run_id,
                engine=engine,
                mode=mode,
                ids=id_changes(engine, context.run_id),
                env=delivery.environment(),
                digests=plan.digests,
                scope=scope,
            )
        daily = outcome.summary()
        if daily["nothing_to_deliver"]:
            context.log.info(f"report {spec.name}: no changes since the last delivery; nothing written or pushed")
        delivered = pd.concat(
            [table.frame.astype(str).assign(工作表=table.sheet) for table in report.tables], ignore_index=True
        )
        yield dg.Output(
            delivered,
            metadata={
                **frame_metadata(delivered),
                "rows_per_sheet": dg.MetadataValue.json({t.sheet: len(t.frame) for t in report.sheets}),
                "persons_compared": dg.MetadataValue.int(len(golden_persons) if scope is None else len(scope)),
                "workbooks": dg.MetadataValue.json([str(p) for p in outcome.workbooks]),
                "batches_delivered": dg.MetadataValue.int(sum(len(p.delivered) for p in outcome.pushes)),
                "batches_already_delivered": dg.MetadataValue.int(sum(len(p.skipped) for p in outcome.pushes)),
                "not_attempted": dg.MetadataValue.json(outcome.not_attempted),
                "delivery": dg.MetadataValue.json(daily),
            },
        )

    return report_asset


def build_roster_asset(spec: ReportSpec) -> dg.AssetsDefinition:
    config = guard_config()

    @dg.asset(
        name=report_asset_name(spec),
        group_name="reports",
        description=f"{spec.title}: one pre-filled workbook per community, for staff to check",
        kinds={"excel"},
        output_required=False,
    )
    def roster_asset(
        context: dg.AssetExecutionContext,
        golden_persons: pd.DataFrame,
        source_guard: pd.DataFrame,
        delivery: DeliveryResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.Output[pd.DataFrame]]:
        held = reports_held_by(source_guard, spec.name, config)
        if held:
            context.log.warning(f"rosters {spec.name} held back in this run (not written): {held}")
            return
        as_of = today_in_china()
        written_before = warehouse.get().table_run(report_asset_name(spec)) is not None
        if tagged_mode(context) == "incremental" and written_before and not spec.is_full_day(as_of):
            context.log.info(f"rosters {spec.name}: not a full day (full_schedule); communities keep the last ones")
            return
        rosters = build_community_rosters(golden_persons, spec, as_of=as_of)
        paths = write_community_rosters(
            rosters, spec, delivery.out_path(), run_id=context.run_id, generated_at=datetime.now(UTC), as_of=as_of
        )
        record_roster_sends(warehouse.get(), spec, rosters, run_id=context.run_id, as_of=as_of)
        summary = pd.DataFrame(
            {"community": list(rosters), "persons": [len(t.frame) for t in rosters.values()],
             "workbook": [str(paths[c]) for c in rosters]}
        )
        yield dg.Output(summary, metadata=frame_metadata(summary, communities=dg.MetadataValue.int(len(rosters))))

    return roster_asset


def build_report_assets() -> list[dg.AssetsDefinition]:
    specs = load_report_specs()
    return [
        build_report_asset(spec) if spec.kind == "department" else build_roster_asset(spec)
        for spec in specs.values()
    ]


report_assets = build_report_assets()
