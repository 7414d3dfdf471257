"""Resolved entities: resident records merged into persons, event reports into incidents."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from dedup import RESIDENT_FIELDS, LinkResult
from dedup.incidents import fill_missing_grids, resolve_incidents
from dedup.presets import RESIDENT_VALIDITY
from pipelines.golden_state import update_golden
from pipelines.metadata import frame_metadata, sample_markdown
from pipelines.person_linking import Mode, link_persons
from pipelines.resources.warehouse import WarehouseResource
from pipelines.review import install_category_mappings, remap_categories
from pipelines.run_mode import tagged_mode
from pipelines.survivorship import load_survivorship_rules
from schemas.categories import unknown_categories as list_unknown_categories

REVIEW_BAND = (0.05, 0.95)
REVIEW_LIMIT = 500


def uncertain_pairs(result: LinkResult, limit: int = REVIEW_LIMIT) -> pd.DataFrame:
    """Pairs the model is least sure of, each field's contribution spelled out, for a steward to review."""
    pairs = result.pairs
    band = pairs[pairs["probability"].between(*REVIEW_BAND)]
    band = band.reindex(band["weight"].abs().sort_values().index).head(limit)
    left, right = band["left"].to_numpy(), band["right"].to_numpy()
    explained = result.field_contributions(left, right)
    fields = [data.name for data in result.prepared]
    contributions = [
        "; ".join(f"{name} {row[f'{name}_level']} {row[f'{name}_weight']:+.1f}" for name in fields)
        for row in explained.to_dict("records")
    ]
    keys = result.clusters[["source", "record_id"]].astype(str)
    clusters = result.clusters["cluster_id"].to_numpy()
    return pd.DataFrame(
        {
            "left_source": keys["source"].to_numpy()[left],
            "left_record_id": keys["record_id"].to_numpy()[left],
            "right_source": keys["source"].to_numpy()[right],
            "right_record_id": keys["record_id"].to_numpy()[right],
            "probability": explained["probability"].round(4).to_numpy(),
            "merged": clusters[left] == clusters[right],
            "contributions": contributions,
        }
    )


# Only the columns a step uses are read from the city-sized std_residents table.
LINKED_COLUMNS = ["source", "record_id", *RESIDENT_FIELDS, *RESIDENT_VALIDITY.values()]
# source and record_id give the rows their one order (CurrentTableIOManager)
GRID_PLACE_COLUMNS = ["source", "record_id", "grid", "addr_road", "addr_door_no", "addr_building"]


@dg.multi_asset(
    group_name="resolved",
    ins={"std_residents": dg.AssetIn(metadata={"columns": LINKED_COLUMNS})},
    outs={
        "person_lineage": dg.AssetOut(
            description="Which person every accepted resident record belongs to.",
            io_manager_key="lineage_io_manager",
        ),
        "match_review": dg.AssetOut(description="Uncertain pairs with each field's contribution, for stewards."),
    },
    check_specs=[
        dg.AssetCheckSpec(
            "steward_decisions_honoured",
            asset="person_lineage",
            description="every steward decision on two records is honoured (contradictions listed)",
        ),
        dg.AssetCheckSpec(
            "matching_model_plausible",
            asset="person_lineage",
            description="the learned weights and the clusters are about persons, not households (dedup.check)",
        ),
    ],
)
def resolve_persons(
    context: dg.AssetExecutionContext, std_residents: pd.DataFrame, warehouse: WarehouseResource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Link resident records into persons (weights learned from the data, steward decisions honoured),
    keeping each person's id from the previous run. An incremental run (run tag ``hub/mode``, the default)
    re-links only the changed records and the persons they touch, with the stored model; a full one
    retrains and re-clusters everything. Lineage, id history and linking state are written in one
    transaction, under the run lock, so a crash or a concurrent run cannot leave them apart."""
    mode: Mode = tagged_mode(context)
    linking = link_persons(
        warehouse.get(), std_residents, RESIDENT_FIELDS, context.run_id, mode, validity=RESIDENT_VALIDITY
    )
    result, lineage, changes = linking.result, linking.lineage, linking.changes
    yield dg.Output(
        lineage,
        output_name="person_lineage",
        metadata=frame_metadata(
            lineage,
            persons=dg.MetadataValue.int(lineage["person_id"].nunique()),
            linking_mode=dg.MetadataValue.text(linking.mode),
            linking_mode_reason=dg.MetadataValue.text(linking.reason),
            records_changed=dg.MetadataValue.json(linking.delta),
            records_relinked=dg.MetadataValue.int(linking.affected_records),
            scored_pairs=dg.MetadataValue.int(len(result.pairs)),
            person_id_changes=dg.MetadataValue.json(
                {str(kind): int(count) for kind, count in changes["change"].value_counts().items()}
            ),
            seconds_per_stage=dg.MetadataValue.json({k: round(v, 3) for k, v in result.timings.items()}),
        ),
    )
    review = uncertain_pairs(result)
    yield dg.Output(review, output_name="match_review", metadata=frame_metadata(review))
    unhonoured = result.unhonoured_decisions
    yield dg.AssetCheckResult(
        check_name="steward_decisions_honoured",
        asset_key="person_lineage",
        passed=unhonoured.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unhonoured": sample_markdown(unhonoured, rows=20),
            "ignored_for_absent_records": dg.MetadataValue.int(result.ignored_decisions),
        },
        description="所有人工判定均已执行" if unhonoured.empty else f"{len(unhonoured)} 条人工判定相互矛盾，请复核",
    )
    yield model_check_result(result)


def model_check_result(result: LinkResult) -> dg.AssetCheckResult:
    """Fails with severity ERROR when the model looks like it learned households (dedup.check)."""
    warnings = result.check()
    return dg.AssetCheckResult(
        check_name="matching_model_plausible",
        asset_key="person_lineage",
        passed=not warnings,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "warnings": dg.MetadataValue.json(
                [{"code": w.code, "field": w.field, "message": w.message} for w in warnings]
            ),
            "weights": dg.MetadataValue.md("\n".join(f"- {line}" for line in result.weight_lines())),
        },
        description=(
            "匹配模型权重与合并结果合理" if not warnings else "匹配模型不可信：" + "；".join(str(w) for w in warnings)
        ),
    )


def with_community_records(
    records: pd.DataFrame, lineage: pd.DataFrame, community: pd.DataFrame, *, corrected_only: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records and lineage with the community's records (one per corrected person, joined to its
    person by id, pipelines/assets/returns.py); ``corrected_only`` keeps those correcting a field."""
    if corrected_only and len(community):
        community = community[community[list(CORRECTED_FIELDS)].notna().any(axis=1)]
    if community.empty:
        return records, lineage
    joined = pd.concat([records, community.drop(columns=["person_id"])], ignore_index=True)
    links = pd.concat([lineage, community[["source", "record_id", "person_id"]]], ignore_index=True)
    return joined, links


CORRECTED_FIELDS = ("name", "gender", "birth", "phone", "address", "grid")


@dg.asset(group_name="resolved", kinds={"python"}, io_manager_key="lineage_io_manager")
def golden_persons(
    context: dg.AssetExecutionContext,
    std_residents: pd.DataFrame,
    person_lineage: pd.DataFrame,
    community_corrections: pd.DataFrame,
    warehouse: WarehouseResource,
) -> pd.DataFrame:
    """One golden record per person, each field with the source record it came from; the fields a
    community corrected in a returned roster or form take part as a record of the source ``community``.
    An incremental run rebuilds only the persons whose records (community ones included) changed
    (pipelines/golden_state.py) and hands on those (downstream steps read every person from the table)."""
    records, lineage = with_community_records(std_residents, person_lineage, community_corrections, corrected_only=True)
    update = update_golden(
        warehouse.get(),
        records,
        lineage,
        load_survivorship_rules(),
        context.run_id,
        full=tagged_mode(context) == "full",
    )
    context.add_output_metadata(
        frame_metadata(
            update.golden,
            rows=dg.MetadataValue.int(update.persons),
            rebuilt_persons=dg.MetadataValue.int(len(update.rebuilt)),
            dropped_persons=dg.MetadataValue.int(len(update.dropped)),
            rebuilt_all=dg.MetadataValue.bool(update.full),
        )
    )
    return update.golden


@dg.multi_asset(
    group_name="resolved",
    ins={"std_residents": dg.AssetIn(metadata={"columns": GRID_PLACE_COLUMNS})},
    outs={
        "incident_lineage": dg.AssetOut(description="Which incident every report belongs to."),
        "incidents": dg.AssetOut(description="One merged case per incident, however often reported."),
    },
)
def resolve_incident_reports(
    context: dg.AssetExecutionContext,
    std_events: pd.DataFrame,
    std_residents: pd.DataFrame,
    events_delta: pd.DataFrame,
    warehouse: WarehouseResource,
) -> Iterator[dg.Output]:
    """Merge the reports of one incident across channels (with the words stewards mapped); place
    residents' own reports in a grid. A daily run in which no report changed and no steward mapped a
    word keeps the incidents as merged and only places them again (the residents, whose addresses
    place them, may have changed)."""
    store = warehouse.get()
    install_category_mappings(store)
    remapped = remap_categories(std_events)
    kept = (
        tagged_mode(context) == "incremental"
        and events_delta.empty
        and remapped is std_events
        and store.has_table("incident_lineage")
        and store.has_table("incidents")
    )
    if kept:
        lineage = store.read_table("incident_lineage")
        merged = store.read_table("incidents")
        merged["grid"] = merged["grid"].where(merged["grid_origin"] == "reported", None)
        incidents = fill_missing_grids(merged.drop(columns=["grid_origin"]), std_residents)
    else:
        result = resolve_incidents(remapped)
        lineage = result.lineage
        incidents = fill_missing_grids(result.incidents, std_residents)
    origins = {str(k): int(v) for k, v in incidents["grid_origin"].value_counts().items()}
    yield dg.Output(
        lineage,
        output_name="incident_lineage",
        metadata=frame_metadata(lineage, reports_merged_again=dg.MetadataValue.bool(not kept)),
    )
    yield dg.Output(
        incidents,
        output_name="incidents",
        metadata=frame_metadata(incidents, grid_origin=dg.MetadataValue.json(origins)),
    )


@dg.asset(group_name="resolved", kinds={"python"})
def unknown_categories(
    context: dg.AssetExecutionContext, std_events: pd.DataFrame, warehouse: WarehouseResource
) -> pd.DataFrame:
    """Residents' category words neither the mapping nor a steward knows yet, with a guess: a steward's
    to-do list (it goes out in the review workbook, pipelines/review.py)."""
    install_category_mappings(warehouse.get())
    words = list_unknown_categories(std_events["category_raw"].dropna().astype(str))
    context.add_output_metadata(frame_metadata(words))
    return words


resolved_assets = [resolve_persons, golden_persons, resolve_incident_reports, unknown_categories]
