"""The source shrink guard as an asset: one check per guarded source, read by the report assets.

After the raw pulls, each guarded source's count is compared with its last pull that passed
(pipelines/source_guard.py). A report whose sources all passed goes on; a report fed by a source
that shrank too much is not produced or pushed in this run.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from pipelines.assets.raw import RAW_SOURCES
from pipelines.departments import load_report_specs
from pipelines.metadata import frame_metadata
from pipelines.resources.warehouse import WarehouseResource
from pipelines.source_guard import GuardConfig, accepted_shrinks, judge_pull, load_guard_config

GUARD_ASSET = "source_guard"
GUARD_COLUMNS = ["dataset", "source", "previous", "now", "shrink", "passed", "held_reports", "detail"]


def guard_config() -> GuardConfig:
    return load_guard_config(report_names=load_report_specs())


def check_name(key: str) -> str:
    """The asset check of one guarded source, e.g. residents_civil_not_shrunk."""
    return key.replace("/", "_") + "_not_shrunk"


def held_reports(config: GuardConfig, key: str) -> list[str]:
    return sorted(name for name in load_report_specs() if key in config.sources_of(name))


def build_guard_asset(config: GuardConfig) -> dg.AssetsDefinition:
    guarded = [spec for spec in RAW_SOURCES if f"{spec.dataset}/{spec.source}" in config.sources]

    @dg.asset(
        name=GUARD_ASSET,
        group_name="raw",
        deps=[spec.asset for spec in guarded],
        kinds={"python"},
        check_specs=[
            dg.AssetCheckSpec(
                check_name(key),
                asset=GUARD_ASSET,
                description=f"{key} did not shrink by more than {config.max_shrink:.0%} since its last good pull",
            )
            for key in config.sources
        ],
    )
    def source_guard(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """Each guarded source's pull against its last good one; a report fed by a shrunken source is held."""
        store = warehouse.get()
        counts = {dataset: store.raw_counts(context.run_id, dataset) for dataset in {s.dataset for s in guarded}}
        accepted = accepted_shrinks()
        rows, checks = [], []
        for key in config.sources:
            dataset, source = key.split("/")
            size = store.state.pulled_size(context.run_id, dataset, source)  # the source's size after an
            now = counts.get(dataset, {}).get(source, 0) if size is None else size  # incremental pull too
            verdict = judge_pull(dataset, source, store.last_passed_pull(dataset, source), now, config, accepted)
            store.record_pulled(context.run_id, dataset, source, now, passed=verdict.passed)
            held = [] if verdict.passed else held_reports(config, key)
            detail = verdict.describe(config.max_shrink, held)
            shrink = round(verdict.shrink, 4)
            rows.append([dataset, source, verdict.previous, now, shrink, verdict.passed, ",".join(held), detail])
            if not verdict.passed:
                context.log.warning(f"source {key} shrank from {verdict.previous} to {now}; held back: {held}")
            checks.append(
                dg.AssetCheckResult(
                    check_name=check_name(key),
                    asset_key=GUARD_ASSET,
                    passed=verdict.passed,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=detail,
                    metadata={
                        "source": dg.MetadataValue.text(key),
                        "previous": dg.MetadataValue.int(verdict.previous)
                        if verdict.previous is not None
                        else dg.MetadataValue.text("无（首次）"),
                        "now": dg.MetadataValue.int(now),
                        "shrink": dg.MetadataValue.float(round(verdict.shrink, 4)),
                        "held_reports": dg.MetadataValue.json(held),
                    },
                )
            )
        frame = pd.DataFrame(rows, columns=GUARD_COLUMNS)
        failed = frame[~frame["passed"]]
        yield dg.Output(
            frame, metadata=frame_metadata(frame, shrunken_sources=dg.MetadataValue.int(len(failed)))
        )
        yield from checks

    return source_guard


def reports_held_by(guard: pd.DataFrame, report: str, config: GuardConfig) -> list[str]:
    """The guard's findings that hold ``report`` back in this run (empty: it goes on)."""
    if guard.empty:
        return []
    failed = guard[~guard["passed"].astype(bool)]
    keys = failed["dataset"].astype(str) + "/" + failed["source"].astype(str)
    needed = set(config.sources_of(report))
    return [str(detail) for key, detail in zip(keys, failed["detail"], strict=True) if key in needed]


source_guard_asset = build_guard_asset(guard_config())
