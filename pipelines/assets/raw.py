"""Raw landing: every row each department system sends, kept as received.

One asset per source. Each pulls through its resource, lands the rows in the warehouse's
`raw_records` table (source, record id, batch = the Dagster run id, payload as received) and hands the
rows on unchanged as a DataFrame of the source's own columns plus `_row_ref` (where the row came
from: page, file and row number), so a quarantine reason can point back to it.
"""

import re
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from connectors.inbox import SourcePull
from pipelines.metadata import frame_metadata
from pipelines.resources.warehouse import WarehouseResource
from schemas.mapping import load_mapping

ROW_REF = "_row_ref"
RECORD_ID_MAX = 128  # raw_records.record_id
ROW_REF_MAX = 256  # raw_records.row_ref
NUL, SUB = "\x00", "\x1a"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
    """(row_ref, row) pairs as one DataFrame of strings; a key a row lacks becomes ''.

    A NUL character, which no PostgreSQL text column can hold, becomes SUB (U+001A, the control
    character meant for a character that could not be kept); standardizing removes and flags both.
    """
    frame = pd.DataFrame([row for _, row in rows], dtype=object).fillna("")
    for column in frame.columns:
        if NUL in "".join(map(str, frame[column].tolist())):
            frame[column] = frame[column].astype(str).str.replace(NUL, SUB, regex=False)
    frame[ROW_REF] = [landing_text(ref, ROW_REF_MAX) for ref, _ in rows]
    return frame


def landing_text(text: str, limit: int) -> str:
    """A record id or row reference as the warehouse's key columns can hold it: no control
    characters, at most ``limit`` characters (the full value stays in the landed payload)."""
    if not text.isprintable():
        text = CONTROL.sub("", text)
    return text.strip()[:limit]


def pull(source_system: object, dataset: str) -> SourcePull:
    """A source's rows for one run; file sources also say which entries they set aside."""
    pull_method = getattr(source_system, "pull", None)
    if pull_method is not None:
        pulled: SourcePull = pull_method(dataset)
        return pulled
    return SourcePull(rows=list(source_system.rows(dataset)))  # type: ignore[attr-defined]


def file_metadata(context: dg.AssetExecutionContext, pulled: SourcePull) -> dict[str, object]:
    """Rejected and duplicate files as metadata, and a warning in the run's log for each rejection."""
    if not pulled.rejected and not pulled.duplicates:
        return {}
    for rejected in pulled.rejected:
        context.log.warning(f"文件未能读取，已放入 rejected/：{rejected.path.name}：{rejected.reason}")
    for duplicate in pulled.duplicates:
        context.log.warning(f"文件与 {duplicate.same_as.name} 内容完全相同，只读取一次：{duplicate.path.name}")
    table = (
        ["| 文件 | 原因 |", "|---|---|"]
        + [f"| {r.path.name.replace('|', '/')} | {r.reason} |" for r in pulled.rejected]
        + [f"| {d.path.name.replace('|', '/')} | 与 {d.same_as.name} 内容相同，未重复读取 |" for d in pulled.duplicates]
    )
    return {
        "rejected_files": dg.MetadataValue.int(len(pulled.rejected)),
        "duplicate_files": dg.MetadataValue.int(len(pulled.duplicates)),
        "files_not_read": dg.MetadataValue.md("\n".join(table)),
    }


def pull_metadata(source_system: object, dataset: str) -> dict[str, object]:
    """What an API or database pull received against the total the source said it holds."""
    last_pull = getattr(source_system, "last_pull", None)
    tally = last_pull(dataset) if callable(last_pull) else None
    if tally is None:
        return {}
    metadata: dict[str, object] = {
        "source_received": dg.MetadataValue.int(tally.received),
        "source_rows_pulled": dg.MetadataValue.int(tally.rows_pulled),
        "source_superseded": dg.MetadataValue.int(tally.superseded),
    }
    if tally.expected_total is not None:
        metadata["source_total"] = dg.MetadataValue.int(tally.expected_total)
    return metadata


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
        pulled = pull(source_system, spec.dataset)
        rows = pulled.rows
        frame = rows_to_frame(rows)
        id_column = load_mapping(spec.dataset, spec.source).record_id if rows else ""
        warehouse: WarehouseResource = context.resources.warehouse
        landed = warehouse.get().land_raw(
            batch_id=context.run_id,
            dataset=spec.dataset,
            source=spec.source,
            rows=(
                (landing_text(row.get(id_column, ""), RECORD_ID_MAX), landing_text(ref, ROW_REF_MAX), row)
                for ref, row in rows
            ),
        )
        context.add_output_metadata(
            frame_metadata(
                frame,
                landed=landed,
                batch_id=context.run_id,
                **file_metadata(context, pulled),
                **pull_metadata(source_system, spec.dataset),
            )
        )
        return frame

    return raw_asset


raw_assets = [build_raw_asset(spec) for spec in RAW_SOURCES]
