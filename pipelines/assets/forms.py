"""Department forms in Dagster: the returns read from the community inbox, one progress asset per form
(its consolidated workbook and push, and a check that warns when the due date passed with communities
still pending), and per form a reminder job its schedule runs. Thin wrappers over pipelines/forms."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd

from pipelines.forms.returns import collect_returns
from pipelines.forms.run import consolidate_form, send_reminders
from pipelines.forms.spec import FormSpec, load_form_specs
from pipelines.metadata import frame_metadata
from pipelines.reporting import today_in_china
from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.resources.delivery import DeliveryResource
from pipelines.resources.warehouse import WarehouseResource

RETURN_COLUMNS = [
    "file",
    "form",
    "community",
    "status",
    "answered",
    "rejected",
    "added",
    "corrections",
    "rejection_file",
    "intake_file",
]


@dg.asset(group_name="forms", kinds={"excel"}, deps=["intake_rejections"])
def returned_forms(
    context: dg.AssetExecutionContext, community_inbox: CommunityInboxResource, warehouse: WarehouseResource
) -> pd.DataFrame:
    """Every returned form in the community inbox (recognised by its hidden marker), applied once:
    answers stored, bad rows sent back (rejected/), added persons handed to intake, file to processed/.
    Runs after the intake rejections, so the intake reader and this one never race for a file."""
    store = warehouse.get()
    with store.run_lock(context.run_id):
        outcomes = collect_returns(load_form_specs(), store, Path(community_inbox.path), context.run_id)
    frame = pd.DataFrame(
        [
            [
                o.file,
                o.form,
                o.community,
                o.status,
                o.answered,
                o.rejected,
                o.added,
                o.corrections,
                str(o.rejection_file or ""),
                str(o.intake_file or ""),
            ]
            for o in outcomes
        ],
        columns=RETURN_COLUMNS,
    )
    for outcome in outcomes:
        if outcome.status != "accepted" or outcome.rejected:
            context.log.warning(
                f"表单回收 {outcome.file}：{outcome.status}，退回 {outcome.rejected} 行 {outcome.rejection_file or ''}"
            )
    context.add_output_metadata(frame_metadata(frame, returns_read=dg.MetadataValue.int(len(frame))))
    return frame


def form_asset_name(spec: FormSpec) -> str:
    return f"form_progress_{spec.form}"


DUE_CHECK = "returned_by_due_date"


def build_form_asset(spec: FormSpec) -> dg.AssetsDefinition:
    name = form_asset_name(spec)

    @dg.asset(
        name=name,
        group_name="forms",
        description=f"{spec.title} → {spec.department_spec.recipient or spec.department}：回收进度与汇总",
        kinds={"excel"},
        tags={"department": spec.department},
        check_specs=[dg.AssetCheckSpec(DUE_CHECK, asset=name, description="截止日期已过仍有社区未交回时警告")],
    )
    def form_asset(
        context: dg.AssetExecutionContext,
        golden_persons: pd.DataFrame,
        returned_forms: pd.DataFrame,
        warehouse: WarehouseResource,
        delivery: DeliveryResource,
    ) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
        engine = warehouse.get().engine
        with delivery.run_lock(context.run_id):
            done = consolidate_form(
                spec,
                engine,
                golden_persons,
                delivery.out_path(),
                as_of=today_in_china(),
                run_id=context.run_id,
                env=delivery.environment(),
            )
        figures = done.progress.figures()
        yield dg.Output(
            done.progress.table,
            metadata={
                **frame_metadata(done.progress.table),
                "progress": dg.MetadataValue.json(figures),
                "workbook": dg.MetadataValue.path(str(done.workbook)),
                "batches_delivered": dg.MetadataValue.int(len(done.push.delivered) if done.push else 0),
            },
        )
        late = figures["overdue"]
        yield dg.AssetCheckResult(
            check_name=DUE_CHECK,
            asset_key=name,
            passed=late == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"progress": dg.MetadataValue.json(figures)},
            description=(
                f"已过截止日期 {spec.due.isoformat()}，{late} 个社区仍未交回"
                if late
                else f"截止日期 {spec.due.isoformat()}：无逾期社区（未交回 {figures['pending']} 个）"
            ),
        )

    return form_asset


def build_reminder_job(spec: FormSpec) -> dg.JobDefinition:
    """A job sending each community a fresh pre-filled workbook of its persons still unanswered."""

    @dg.op(name=f"remind_{spec.form}")
    def remind(context: dg.OpExecutionContext, warehouse: WarehouseResource, delivery: DeliveryResource) -> None:
        store = warehouse.get()
        outcome = send_reminders(
            spec, store.engine, store.read_table("golden_persons"), delivery.out_path(), as_of=today_in_china()
        )
        for line in outcome.lines():
            context.log.info(line)

    @dg.job(name=f"form_{spec.form}_reminders", description=f"{spec.title}：向未填完的社区重发未填人员的预填表")
    def reminder_job() -> None:
        remind()

    return reminder_job


def form_schedules(specs: dict[str, FormSpec] | None = None) -> list[dg.ScheduleDefinition]:
    """Per form, its reminder job on the form's ``remind`` cron in the department's time zone."""
    specs = load_form_specs() if specs is None else specs
    return [
        dg.ScheduleDefinition(
            name=f"form_{spec.form}_reminder_schedule",
            job=build_reminder_job(spec),
            cron_schedule=spec.remind,
            execution_timezone=spec.department_spec.execution_timezone,
        )
        for spec in specs.values()
    ]


form_assets = [returned_forms, *(build_form_asset(spec) for spec in load_form_specs().values())]
