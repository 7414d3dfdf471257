"""Raw landing: every row each department system sends, kept as received.

One asset per source. In an incremental run (pipelines/run_mode.py) a source with a cursor gives only
what changed since, and the ids it deleted; a source that only gives everything (the civil-affairs
export) is diffed against what the warehouse holds: unchanged rows are dropped, absent records are
deleted. The deletions and the next cursor wait in ``source_pulls`` until the standardize step
commits them with the rows. Each pulls through its resource, lands the rows in the warehouse's
`raw_records` table (source, record id, batch = the Dagster run id, payload as received) and hands the
rows on unchanged as a DataFrame of the source's own columns plus `_row_ref` (where the row came
from: page, file and row number), so a quarantine reason can point back to it.
"""

import re
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from connectors.changes import ChangePull
from connectors.inbox import SourcePull
from connectors.simulated.history import row_hash
from pipelines.current_state import CurrentState
from pipelines.faults import crash_point
from pipelines.metadata import frame_metadata
from pipelines.resources.warehouse import WarehouseResource
from pipelines.run_mode import INCREMENTAL, run_mode
from schemas.mapping import load_mapping

ROW_REF = "_row_ref"
ROW_HASH = "_row_hash"
UPDATED_AT = "updated_at"  # the column in which a source gives its own update time, where it has one
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
    snapshot: bool = True
    """A full pull holds every record the source has, so a record absent from it was deleted."""


RAW_SOURCES: tuple[RawSource, ...] = (
    RawSource("raw_grid_residents", "residents", "grid", "grid_system"),
    RawSource("raw_health_records", "residents", "health", "health_system"),
    RawSource("raw_civil_affairs", "residents", "civil", "civil_inbox"),
    RawSource("raw_intake_residents", "residents", "intake", "community_inbox", snapshot=False),
    RawSource("raw_grid_events", "events", "grid", "grid_system"),
    RawSource("raw_resident_events", "events", "resident", "mini_program"),
    RawSource("raw_intake_events", "events", "intake", "community_inbox", snapshot=False),
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


def pull_changes(source_system: object, dataset: str, cursor: dict[str, str] | None) -> tuple[SourcePull, ChangePull]:
    """The source's changes since ``cursor`` where it can tell them, else everything it gives."""
    changes = getattr(source_system, "pull_changes", None)
    if changes is not None:
        change: ChangePull = changes(dataset, cursor)
        return SourcePull(rows=change.rows), change
    pulled = pull(source_system, dataset)
    return pulled, ChangePull(rows=pulled.rows, cursor={}, snapshot=True)


@dataclass
class Diffed:
    """A pull told against what the warehouse holds: the rows to standardize, the known ids deleted,
    and how many records the source holds now."""

    rows: list[tuple[str, dict[str, str]]]
    deleted: list[str]
    size: int


def diff_pull(
    spec: RawSource, change: ChangePull, id_column: str, known: dict[str, str], *, incremental: bool
) -> Diffed:
    """Deletions and unchanged rows of a pull. A snapshot's absent records are deleted; in an
    incremental run its rows whose record is unchanged (the latest copy hashes as before) are dropped."""
    keys = [landing_text(row.get(id_column, ""), RECORD_ID_MAX) for _, row in change.rows]
    if change.snapshot and spec.snapshot:
        present = set(keys) - {""}
        deleted = sorted(set(known) - present)
        rows = change.rows
        if incremental and known:
            latest = {key: row_hash(row) for key, (_, row) in zip(keys, change.rows, strict=True)}
            changed = {key for key, digest in latest.items() if known.get(key) != digest}
            rows = [pair for key, pair in zip(keys, change.rows, strict=True) if key in changed or not key]
        return Diffed(rows, deleted, len(present))
    deleted = sorted(set(change.deleted) & set(known))
    return Diffed(change.rows, deleted, len((set(known) | set(keys)) - set(deleted) - {""}))


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
        warehouse: WarehouseResource = context.resources.warehouse
        store = warehouse.get()
        mode = run_mode(context, store)
        state: CurrentState = store.state
        cursor = state.cursor(spec.dataset, spec.source) if mode == INCREMENTAL else None
        pulled, change = pull_changes(source_system, spec.dataset, cursor)
        id_column = load_mapping(spec.dataset, spec.source).record_id
        known = state.known_records(spec.dataset, spec.source)
        diffed = diff_pull(spec, change, id_column, known, incremental=mode == INCREMENTAL)
        rows = diffed.rows
        frame = rows_to_frame(rows)
        frame[ROW_HASH] = [row_hash(row) for _, row in rows]
        landed = store.land_raw(
            batch_id=context.run_id,
            dataset=spec.dataset,
            source=spec.source,
            rows=(
                (landing_text(row.get(id_column, ""), RECORD_ID_MAX), landing_text(ref, ROW_REF_MAX), row)
                for ref, row in rows
            ),
        )
        state.record_pull(
            context.run_id,
            spec.dataset,
            spec.source,
            mode=mode,
            snapshot=change.snapshot and spec.snapshot,
            rows=len(rows),
            size=diffed.size,
            deleted=diffed.deleted,
            cursor=change.cursor if getattr(source_system, "pull_changes", None) is not None else None,
        )
        crash_point("after_pull")
        context.add_output_metadata(
            frame_metadata(
                frame,
                landed=landed,
                batch_id=context.run_id,
                mode=dg.MetadataValue.text(mode),
                rows_offered=dg.MetadataValue.int(len(change.rows)),
                deleted=dg.MetadataValue.int(len(diffed.deleted)),
                source_size=dg.MetadataValue.int(diffed.size),
                **file_metadata(context, pulled),
                **pull_metadata(source_system, spec.dataset),
            )
        )
        return frame

    return raw_asset


raw_assets = [build_raw_asset(spec) for spec in RAW_SOURCES]
