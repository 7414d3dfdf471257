"""Resolved entities: resident records merged into persons, event reports into incidents."""


from collections.abc import Iterator

import dagster as dg
import pandas as pd

from dedup import RESIDENT_FIELDS, build_golden, link
from dedup.incidents import resolve_incidents
from pipelines.metadata import frame_metadata
from pipelines.survivorship import load_survivorship_rules


@dg.asset(group_name="resolved", kinds={"python"})
def person_lineage(context: dg.AssetExecutionContext, std_residents: pd.DataFrame) -> pd.DataFrame:
    """Which person every accepted resident record belongs to (source, record_id, person_id)."""
    result = link(std_residents, RESIDENT_FIELDS)
    lineage = result.clusters.rename(columns={"cluster_id": "person_id"})[["source", "record_id", "person_id"]]
    context.add_output_metadata(
        frame_metadata(
            lineage,
            persons=dg.MetadataValue.int(lineage["person_id"].nunique()),
            records=dg.MetadataValue.int(len(lineage)),
            scored_pairs=dg.MetadataValue.int(len(result.pairs)),
            seconds_per_stage=dg.MetadataValue.json({k: round(v, 3) for k, v in result.timings.items()}),
        )
    )
    return lineage


@dg.asset(group_name="resolved", kinds={"python"})
def golden_persons(
    context: dg.AssetExecutionContext, std_residents: pd.DataFrame, person_lineage: pd.DataFrame
) -> pd.DataFrame:
    """One golden record per person, each field with the source record it came from."""
    clusters = person_lineage.rename(columns={"person_id": "cluster_id"})
    golden = build_golden(std_residents, clusters, load_survivorship_rules())
    context.add_output_metadata(frame_metadata(golden))
    return golden


@dg.multi_asset(
    group_name="resolved",
    outs={
        "incident_lineage": dg.AssetOut(description="Which incident every report belongs to."),
        "incidents": dg.AssetOut(description="One merged case per incident, however often reported."),
    },
)
def resolve_incident_reports(context: dg.AssetExecutionContext, std_events: pd.DataFrame) -> Iterator[dg.Output]:
    """Merge the reports of one incident across channels."""
    result = resolve_incidents(std_events)
    yield dg.Output(result.lineage, output_name="incident_lineage", metadata=frame_metadata(result.lineage))
    yield dg.Output(result.incidents, output_name="incidents", metadata=frame_metadata(result.incidents))


@dg.asset(group_name="resolved", kinds={"python"})
def unknown_categories(std_events: pd.DataFrame) -> pd.DataFrame:
    """Residents' category words the mapping does not know yet: a steward's to-do list."""
    unknown = std_events[~std_events["category_known"].astype(bool)]
    return (
        unknown.groupby(["source", "category_raw"]).size().rename("reports").reset_index()
        if not unknown.empty
        else pd.DataFrame(columns=["source", "category_raw", "reports"])
    )


resolved_assets = [person_lineage, golden_persons, resolve_incident_reports, unknown_categories]
