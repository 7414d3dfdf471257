"""Cross-department verification (核验) as an asset: the current alerts, one check per department.

The alerts come from the rules in pipelines/config/alerts.yaml applied to the standardized records
and the person lineage; the warehouse keeps each alert's state across runs (an answer stays, a gone
cause closes its alert). A kind that relies on a source the shrink guard stopped keeps its alerts as
they were in this run rather than closing them on partial data.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from pipelines.alerts import AlertRule, find_alerts, load_alert_rules, open_counts
from pipelines.assets.resolved import with_community_records
from pipelines.metadata import frame_metadata
from pipelines.resources.warehouse import WarehouseResource

ALERTS_ASSET = "alerts"
STATE_COLUMNS = ["alert_id", "kind", "source", "record_id", "person_id", "detail", "context", "status", "answer",
                 "answer_note", "first_seen_at"]


def sources_of(rule: AlertRule) -> set[str]:
    """The sources a rule reads: the one it flags and those its evidence comes from."""
    return {rule.source} | {value["source"] for name, value in rule.when if name == "other_record"}


def judged_kinds(rules: tuple[AlertRule, ...], guard: pd.DataFrame) -> list[str]:
    """The kinds whose sources all passed the shrink guard in this run (every rule of the kind)."""
    if guard.empty:
        return [rule.kind for rule in rules]
    residents = guard[guard["dataset"].astype(str) == "residents"]
    stopped = set(residents.loc[~residents["passed"].astype(bool), "source"].astype(str))
    held = {rule.kind for rule in rules if sources_of(rule) & stopped}
    return list(dict.fromkeys(rule.kind for rule in rules if rule.kind not in held))


def open_alerts_check(source: str) -> str:
    return f"alerts_answered_in_time_{source}"


def build_alerts_asset() -> dg.AssetsDefinition:
    rules = load_alert_rules()

    @dg.asset(
        name=ALERTS_ASSET,
        group_name="verification",
        kinds={"python"},
        description="Cross-department verification (核验): records one department holds that another's contradict.",
        check_specs=[
            dg.AssetCheckSpec(
                open_alerts_check(source),
                asset=ALERTS_ASSET,
                description=(
                    f"{rules.departments.get(source, source)}：跨部门核验提示在 {rules.answer_within_days} 天内"
                    "得到答复（元数据：待核实、已答复、逾期条数）"
                ),
            )
            for source in rules.sources()
        ],
    )
    def alerts(
        context: dg.AssetExecutionContext,
        std_residents: pd.DataFrame,
        person_lineage: pd.DataFrame,
        community_corrections: pd.DataFrame,
        source_guard: pd.DataFrame,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """Find this run's alerts and bring their stored states up to date (open, answered, closed); the
        community's roster results (已迁出, 已死亡) count as the records of the source ``community``."""
        as_of = rules.as_of()
        records, lineage = with_community_records(
            std_residents, person_lineage, community_corrections, corrected_only=False
        )
        found = find_alerts(records, lineage, rules, as_of=as_of)
        store = warehouse.get()
        judged = judged_kinds(rules.rules, source_guard)
        with store.run_lock(context.run_id):
            current, closed = store.reconcile_alerts(found, context.run_id, judged=judged)
        current = current[STATE_COLUMNS]
        overdue_before = datetime.now(UTC) - timedelta(days=rules.answer_within_days)
        counts = open_counts(current, rules.sources(), overdue_before)
        yield dg.Output(
            current,
            metadata=frame_metadata(
                current.drop(columns=["detail", "context"]),
                reference_date=dg.MetadataValue.text(as_of.isoformat()),
                per_department=dg.MetadataValue.json(counts),
                per_kind=dg.MetadataValue.json({str(k): int(n) for k, n in current["kind"].value_counts().items()}),
                closed_this_run=dg.MetadataValue.int(closed),
                kinds_not_judged=dg.MetadataValue.json(sorted({r.kind for r in rules.rules} - set(judged))),
            ),
        )
        for source in rules.sources():
            figures = counts[source]
            department = rules.departments.get(source, source)
            yield dg.AssetCheckResult(
                check_name=open_alerts_check(source),
                asset_key=ALERTS_ASSET,
                passed=figures["overdue"] == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={key: dg.MetadataValue.int(value) for key, value in figures.items()},
                description=(
                    f"{department}：{figures['open']} 条待核实，{figures['answered']} 条已答复，"
                    f"{figures['overdue']} 条超过 {rules.answer_within_days} 天未答复（见其报表的“核验”工作表）"
                ),
            )

    return alerts


alerts_asset = build_alerts_asset()
