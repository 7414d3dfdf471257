"""Raw landing: every row each department system sends, kept as received.

One asset per source. Each pulls through its resource, lands the rows in the warehouse's
`raw_records` table (source, record id, batch = the Dagster run id, payload as received) and hands the
rows on unchanged as a DataFrame of the source's own columns plus `_row_ref` (where the row came
from: page, file and row number), so a quarantine reason can point back to it.
"""

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from pipelines.metadata import frame_metadata
from pipelines.resources.warehouse import WarehouseResource
from schemas.mapping import load_mapping

ROW_REF = "_row_ref"


@dataclass(frozen=True)
class RawSource:
    """Which resource feeds which source of which dataset (what the source is: its mapping file)."""

    asset: str
    dataset: str
    source: str
    resource_key: str


RAW_SOURCES: tuple[RawSource, ...] = (
    RawSource("raw_grid_residents", "residents", "grid", "grid_system"),
    RawSource("raw_health_records", "residents", "health", "health_system"),
    RawSource("raw_civil_affairs", "residents", "civil", "civil_inbox"),
    RawSource("raw_intake_residents", "residents", "intake", "community_inbox"),
    RawSource("raw_grid_events", "events", "grid", "grid_system"),
    RawSource("raw_resident_events", "events", "resident", "mini_program"),
    RawSource("raw_intake_events", "events", "intake", "community_inbox"),
)


def rows_to_frame(rows: list[tuple[str, dict[str, str]]]) -> pd.DataFrame:
    """(row_ref, row) pairs as one DataFrame of strings; a key a row lacks becomes ''."""
    frame = pd.DataFrame([row for _, row in rows], dtype=object).fillna("")
    frame[ROW_REF] = [ref for ref, _ in rows]
    return frame


def build_raw_asset(spec: RawSource) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.asset,
        group_name="raw",
        description=f"Rows of {load_mapping(spec.dataset, spec.source).description}, as received.",
        required_resource_keys={spec.resource_key, "warehouse"},
        kinds={"python"},
        tags={"dataset": spec.dataset, "source": spec.source},
    )
    def raw_asset(context: dg.AssetExecutionContext) -> pd.DataFrame:
        source_system = getattr(context.resources, spec.resource_key)
        rows = list(source_system.rows(spec.dataset))
        frame = rows_to_frame(rows)
        id_column = load_mapping(spec.dataset, spec.source).record_id if rows else ""
        warehouse: WarehouseResource = context.resources.warehouse
        landed = warehouse.get().land_raw(
            batch_id=context.run_id,
            dataset=spec.dataset,
            source=spec.source,
            rows=((row.get(id_column, ""), ref, row) for ref, row in rows),
        )
        context.add_output_metadata(frame_metadata(frame, landed=landed, batch_id=context.run_id))
        return frame

    return raw_asset


raw_assets = [build_raw_asset(spec) for spec in RAW_SOURCES]
