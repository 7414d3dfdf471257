"""Standardized and validated rows: every source mapped onto the shared schema.

Each row pulled in this run ends either accepted or quarantined with a reason (in
`quarantine_<dataset>`). The blocking `accounting` check stops the run before matching when that
does not add up for any source. The accepted and quarantined records, the deletions and each
source's next cursor are then committed to the warehouse's current state in one transaction
(pipelines/current_state.py); `std_<dataset>` is every record the sources hold now (with the
source's own `updated_at`), `<dataset>_delta` what changed since the last completed run.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pipelines.assets.raw import RAW_SOURCES, RECORD_ID_MAX, ROW_HASH, ROW_REF, UPDATED_AT, landing_text
from pipelines.current_state import DELTA_COLUMNS, PULLED_COLUMNS, records_json
from pipelines.faults import crash_point
from pipelines.metadata import frame_metadata, sample_markdown
from pipelines.resources.warehouse import WarehouseResource
from pipelines.review import install_category_mappings, remap_categories
from pipelines.run_mode import FULL, run_mode
from pipelines.warehouse import Warehouse
from schemas.mapping import load_mapping
from schemas.standardize import StandardizeResult, accounting, standardize

INTERNAL_COLUMNS = [ROW_REF, ROW_HASH]

QUARANTINE_COLUMNS = ["source", "record_id", "field", "check", "value", "reason", "row_ref"]


@dataclass
class Standardized:
    """A dataset's pull, standardized source by source: every record pulled (``PULLED_COLUMNS``, its
    standardized record as JSON, None when quarantined), the quarantine rows, the accounting per
    source, and the accepted records' columns in schema order."""

    pulled: pd.DataFrame
    quarantine: pd.DataFrame
    books: dict[str, dict[str, object]]
    columns: list[str]


def standardize_sources(dataset: str, raw_by_source: Mapping[str, Callable[[], pd.DataFrame]]) -> Standardized:
    """Standardize every source of a dataset, one at a time: a source's raw rows (read when its turn
    comes) and its accepted frame are freed before the next, only the records' JSON is kept."""
    pulled: list[pd.DataFrame] = []
    quarantined: list[pd.DataFrame] = []
    books: dict[str, dict[str, object]] = {}
    columns: list[str] = []
    for source, read in raw_by_source.items():
        raw = read()
        if raw.empty:
            books[source] = {"received": 0, "accepted": 0, "quarantined": 0, "superseded": 0, "reasons": {}}
            continue
        result: StandardizeResult = standardize(
            dataset, source, raw.drop(columns=[c for c in INTERNAL_COLUMNS if c in raw.columns])
        )
        quarantine = result.quarantine.copy()
        quarantine["row_ref"] = raw[ROW_REF].to_numpy(dtype=object)[result.quarantine_positions]
        quarantined.append(quarantine)
        books[source] = accounting(result)
        versions = raw_versions(dataset, source, raw)
        del raw
        accepted = result.accepted
        del result
        if len(accepted):
            columns += [column for column in [*accepted.columns, UPDATED_AT] if column not in columns]
        pulled.append(source_pulled(source, accepted, quarantine, versions))
        del accepted
    quarantine_frame = (
        pd.concat(quarantined, ignore_index=True)[QUARANTINE_COLUMNS]
        if quarantined
        else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )
    pulled_frame = pd.concat(pulled, ignore_index=True) if pulled else pd.DataFrame(columns=PULLED_COLUMNS)
    return Standardized(pulled_frame, quarantine_frame, books, columns)


def raw_versions(dataset: str, source: str, raw: pd.DataFrame) -> pd.DataFrame:
    """record_id, raw_hash and the source's updated_at of the latest copy of each record pulled."""
    id_column = load_mapping(dataset, source).record_id
    if raw.empty or id_column not in raw:
        return pd.DataFrame(columns=["record_id", "raw_hash", "updated_at"], dtype=object)
    keys = [landing_text(str(value), RECORD_ID_MAX) for value in raw[id_column].tolist()]
    hashes = raw[ROW_HASH].astype(str).tolist() if ROW_HASH in raw else [""] * len(keys)
    stamps = [str(stamp) if stamp else None for stamp in raw[UPDATED_AT].tolist()] if UPDATED_AT in raw else None
    frame = pd.DataFrame(
        {"record_id": keys, "raw_hash": hashes, "updated_at": stamps if stamps is not None else [None] * len(keys)},
        dtype=object,
    )
    return frame.drop_duplicates("record_id", keep="last")


def source_pulled(
    source: str, accepted: pd.DataFrame, quarantine: pd.DataFrame, versions: pd.DataFrame
) -> pd.DataFrame:
    """Every record of one source pulled in this run, as the current state keeps it (``PULLED_COLUMNS``):
    the accepted ones with their record (with the source's ``updated_at``) as JSON, the quarantined ones
    without; a record id both quarantined and accepted keeps the accepted copy."""
    held = quarantine["record_id"].astype(str).drop_duplicates()
    records = [pd.DataFrame({"record_id": held[held != ""].to_numpy(dtype=object), "record": None}, dtype=object)]
    if len(accepted):
        keys = accepted["record_id"].astype(str).to_numpy(dtype=object)
        found = pd.Series(keys, dtype=object).map(versions.set_index("record_id")["updated_at"])
        stamps = found.astype(object).where(found.notna(), None).to_numpy(dtype=object)
        records.append(
            pd.DataFrame(
                {"record_id": keys, "record": records_json(accepted.assign(**{UPDATED_AT: stamps}))}, dtype=object
            )
        )
    frame = pd.concat(records, ignore_index=True).drop_duplicates("record_id", keep="last")
    frame = frame.merge(versions, on="record_id", how="left")
    frame["raw_hash"] = frame["raw_hash"].fillna("")
    frame["updated_at"] = frame["updated_at"].astype(object).where(frame["updated_at"].notna(), None)
    frame["source"] = source
    return frame[PULLED_COLUMNS]


ACCOUNTING_COLUMNS = [
    ("source", "来源", "string"),
    ("received", "接收", "int"),
    ("accepted", "通过", "int"),
    ("quarantined", "隔离", "int"),
    ("superseded", "被替代", "int"),
    ("balanced", "平衡", "bool"),
    ("reasons", "主要隔离原因", "string"),
]


def accounting_table(books: dict[str, dict[str, object]], broken: Mapping[str, object]) -> dg.MetadataValue:
    """The per-source figures as a table the Dagster UI shows as one (not as JSON)."""
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, type=kind, description=label) for name, label, kind in ACCOUNTING_COLUMNS]
    )
    records = []
    for source, figures in books.items():
        reasons = figures.get("reasons") or {}
        top = sorted(reasons.items(), key=lambda item: -int(item[1]))[:3] if isinstance(reasons, dict) else []
        records.append(
            dg.TableRecord(
                {
                    "source": source,
                    "received": int(figures["received"]),  # type: ignore[call-overload]
                    "accepted": int(figures["accepted"]),  # type: ignore[call-overload]
                    "quarantined": int(figures["quarantined"]),  # type: ignore[call-overload]
                    "superseded": int(figures.get("superseded", 0)),  # type: ignore[call-overload]
                    "balanced": source not in broken,
                    "reasons": "；".join(f"{reason} {count}" for reason, count in top),
                }
            )
        )
    return dg.MetadataValue.table(records, schema=schema)


def write_current_table(
    store: Warehouse,
    dataset: str,
    source_order: list[str],
    columns: list[str],
    delta: pd.DataFrame,
    run_id: str,
    *,
    rebuild: bool,
) -> tuple[int, int, pd.DataFrame]:
    """Bring the ``std_<dataset>`` table to every accepted record the sources hold now; returns how many
    that is, how many rows were written and the rows written (a full rewrite: its first rows, a sample).
    A daily run writes only the records of the delta (changes since the last completed run, so a rerun
    after a crash writes them again, harmlessly) and any record the table holds that the sources no
    longer do, or lacks; a full run, or a new column, rewrites the table block by block."""
    name, state = f"std_{dataset}", store.state
    if not rebuild and store.table_run(name) is not None:
        keys = ["source", "record_id"]
        only_held, only_now, rows_now = state.drift(dataset, name)
        changed = delta.loc[delta["change"] != "removed", keys].astype(str)
        wanted = pd.concat([changed, only_now]).drop_duplicates()
        stale = pd.concat([delta[keys].astype(str), only_held, wanted]).drop_duplicates()
        rows = pd.DataFrame(state.records_of(dataset, wanted))
        table_columns = [str(column["name"]) for column in sa.inspect(store.engine).get_columns(name)]
        if set(rows.columns) <= set(table_columns):
            rows = rows.reindex(columns=table_columns)
            with store.run_lock(run_id), store.transaction() as conn:
                store.replace_rows_in(conn, name, rows, stale, run_id, rows_now=rows_now)
            return rows_now, len(rows), rows
    with store.run_lock(run_id), store.transaction() as conn:
        written, first = store.replace_table_from(
            conn, name, state.current_chunks(conn, dataset, source_order), run_id, columns
        )
    return written, written, first


def remap_held_categories(store: Warehouse, run_id: str, rows_now: int) -> int:
    """Give the kept ``std_events`` rows whose word a steward has mapped since they were read their
    category now (a daily run rewrites only changed records, so they would keep the unknown one).
    Returns how many rows got one."""
    if store.table_run("std_events") is None:
        return 0
    unknown = sa.text("SELECT * FROM std_events WHERE category IS NULL AND category_raw IS NOT NULL")
    with store.engine.connect() as conn:
        held = pd.read_sql(unknown, conn)
    if "category_known" in held.columns:  # SQLite hands booleans back as integers
        held["category_known"] = held["category_known"].astype(bool)
    remapped = remap_categories(held)
    if remapped is held:
        return 0
    mapped = remapped[remapped["category"].notna()]
    with store.run_lock(run_id), store.transaction() as conn:
        store.replace_rows_in(conn, "std_events", mapped, mapped[["source", "record_id"]], run_id, rows_now=rows_now)
    return len(mapped)


def accounting_check(dataset: str, books: dict[str, dict[str, object]]) -> dg.AssetCheckResult:
    """received = accepted + quarantined, for every source; per-source figures as metadata."""
    broken = {
        source: figures
        for source, figures in books.items()
        if figures["received"] != int(figures["accepted"]) + int(figures["quarantined"])  # type: ignore[call-overload]
    }
    return dg.AssetCheckResult(
        check_name="accounting",
        asset_key=f"std_{dataset}",
        passed=not broken,
        metadata={
            "per_source": accounting_table(books, broken),
            "unbalanced_sources": dg.MetadataValue.text("、".join(sorted(broken)) or "无"),
        },
        description=(
            "每个来源：接收（不同记录数）= 通过 + 隔离；同一记录编号的旧副本计入“被替代”"
            if not broken
            else f"来源 {sorted(broken)} 行数不平衡"
        ),
    )


def build_standardize_asset(dataset: str) -> dg.AssetsDefinition:
    sources = {spec.source: spec.asset for spec in RAW_SOURCES if spec.dataset == dataset}

    @dg.multi_asset(
        name=f"standardize_{dataset}",
        group_name="standardized",
        deps=list(sources.values()),  # read here one source at a time, not all loaded before the step
        outs={
            f"std_{dataset}": dg.AssetOut(
                description=f"Accepted {dataset} rows in the shared schema.", io_manager_key="current_io_manager"
            ),
            f"quarantine_{dataset}": dg.AssetOut(description="Rejected rows: source, record, field, reason."),
            f"{dataset}_delta": dg.AssetOut(
                description="What changed since the last completed run: source, record_id, change "
                "(added / edited / removed)."
            ),
        },
        required_resource_keys={"warehouse"},
        check_specs=[
            dg.AssetCheckSpec(
                "accounting",
                asset=f"std_{dataset}",
                blocking=True,
                description="received = accepted + quarantined for every source",
            )
        ],
    )
    def standardize_asset(context: dg.AssetExecutionContext) -> Iterator[object]:
        warehouse: WarehouseResource = context.resources.warehouse
        store = warehouse.get()
        if dataset == "events":
            install_category_mappings(store)
        raw_by_source = {source: partial(store.read_table, asset, keep=False) for source, asset in sources.items()}
        result = standardize_sources(dataset, raw_by_source)
        quarantine, books = result.quarantine, result.books
        state = store.state
        check = accounting_check(dataset, books)
        if check.passed:  # an unbalanced pull is not committed: its cursors stay where they were
            pulls = state.pending_pulls(context.run_id, dataset)
            crash_point("before_state_commit")
            with store.run_lock(context.run_id), store.transaction() as conn:
                state.commit(conn, context.run_id, dataset, pulls, result.pulled)
        result.pulled = result.pulled.head(0)  # the records are in the warehouse now
        delta, removed = state.delta(dataset)
        rows_now, rows_written, shown = write_current_table(
            store, dataset, list(sources), result.columns, delta, context.run_id,
            rebuild=run_mode(context, store) == FULL,
        )  # fmt: skip
        if dataset == "events":
            remap_held_categories(store, context.run_id, rows_now)
        sizes = state.current_counts(dataset)
        for source, figures in books.items():
            figures["removed"] = removed.get(source, 0)
            figures["current"] = sizes.get(source, 0)
        reasons = quarantine.groupby("reason").size().sort_values(ascending=False).to_dict()
        yield dg.Output(
            shown,
            output_name=f"std_{dataset}",
            metadata={
                **frame_metadata(shown, per_source=dg.MetadataValue.json(books)),
                "rows": dg.MetadataValue.int(rows_now),
                "rows_written": dg.MetadataValue.int(rows_written),
            },
        )
        changes = {str(k): int(v) for k, v in delta["change"].value_counts().items()}
        yield dg.Output(
            delta[DELTA_COLUMNS],
            output_name=f"{dataset}_delta",
            metadata=frame_metadata(delta, changes=dg.MetadataValue.json(changes)),
        )
        yield dg.Output(
            quarantine,
            output_name=f"quarantine_{dataset}",
            metadata={
                "rows": dg.MetadataValue.int(len(quarantine)),
                "records": dg.MetadataValue.int(
                    quarantine[["source", "record_id", "row_ref"]].drop_duplicates().shape[0]
                ),
                "per_reason": dg.MetadataValue.json({str(k): int(v) for k, v in reasons.items()}),
                "sample": sample_markdown(quarantine),
            },
        )
        yield check

    return standardize_asset


standardize_assets = [build_standardize_asset("residents"), build_standardize_asset("events")]
