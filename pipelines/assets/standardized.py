"""Standardized and validated rows: every source mapped onto the shared schema.

Each row pulled in this run ends either accepted or quarantined with a reason (in
`quarantine_<dataset>`). The blocking `accounting` check stops the run before matching when that
does not add up for any source. The accepted and quarantined records, the deletions and each
source's next cursor are then committed to the warehouse's current state in one transaction
(pipelines/current_state.py); `std_<dataset>` is every record the sources hold now (with the
source's own `updated_at`), `<dataset>_delta` what changed since the last completed run.
"""

from collections.abc import Iterator, Mapping

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pipelines.assets.raw import RAW_SOURCES, RECORD_ID_MAX, ROW_HASH, ROW_REF, UPDATED_AT, landing_text
from pipelines.current_state import DELTA_COLUMNS, PulledRecord
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


def standardize_sources(
    dataset: str, raw_by_source: Mapping[str, pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, object]]]:
    """Standardize every source of a dataset; return accepted rows, quarantine rows and accounting."""
    accepted: list[pd.DataFrame] = []
    quarantined: list[pd.DataFrame] = []
    books: dict[str, dict[str, object]] = {}
    for source, raw in raw_by_source.items():
        if raw.empty:
            books[source] = {"received": 0, "accepted": 0, "quarantined": 0, "superseded": 0, "reasons": {}}
            continue
        result: StandardizeResult = standardize(
            dataset, source, raw.drop(columns=[c for c in INTERNAL_COLUMNS if c in raw.columns])
        )
        accepted.append(result.accepted)
        quarantine = result.quarantine.copy()
        quarantine["row_ref"] = raw[ROW_REF].to_numpy(dtype=object)[result.quarantine_positions]
        quarantined.append(quarantine)
        books[source] = accounting(result)
    accepted_frame = pd.concat(accepted, ignore_index=True) if accepted else pd.DataFrame()
    quarantine_frame = (
        pd.concat(quarantined, ignore_index=True)[QUARANTINE_COLUMNS]
        if quarantined
        else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )
    return accepted_frame, quarantine_frame, books


def raw_versions(dataset: str, source: str, raw: pd.DataFrame) -> dict[str, tuple[str, str | None]]:
    """Record id -> (hash, the source's updated_at) of the latest copy of each record pulled."""
    if raw.empty:
        return {}
    id_column = load_mapping(dataset, source).record_id
    keys = [landing_text(str(value), RECORD_ID_MAX) for value in raw[id_column].tolist()] if id_column in raw else []
    hashes = raw[ROW_HASH].tolist() if ROW_HASH in raw else [""] * len(keys)
    stamps = raw[UPDATED_AT].tolist() if UPDATED_AT in raw else [None] * len(keys)
    return {
        key: (str(digest), str(stamp) if stamp else None)
        for key, digest, stamp in zip(keys, hashes, stamps, strict=True)
    }


def pulled_records(
    dataset: str, raw_by_source: Mapping[str, pd.DataFrame], accepted: pd.DataFrame, quarantine: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, dict[str, PulledRecord]]]:
    """The accepted frame with each record's ``updated_at``, and every record pulled per source as the
    current state keeps it (quarantined ones without a standardized record)."""
    versions = {source: raw_versions(dataset, source, raw) for source, raw in raw_by_source.items()}
    pulled: dict[str, dict[str, PulledRecord]] = {source: {} for source in raw_by_source}
    for source, key in quarantine[["source", "record_id"]].drop_duplicates().itertuples(index=False):
        digest, stamp = versions.get(source, {}).get(str(key), ("", None))
        if str(key):
            pulled.setdefault(source, {})[str(key)] = PulledRecord(digest, stamp, None)
    if accepted.empty:
        return accepted, pulled
    accepted = accepted.copy()
    accepted[UPDATED_AT] = [
        versions.get(source, {}).get(str(key), ("", None))[1]
        for source, key in zip(accepted["source"], accepted["record_id"], strict=True)
    ]
    records = accepted.astype(object).where(accepted.notna(), None).to_dict("records")
    for record in records:
        source, key = str(record["source"]), str(record["record_id"])
        digest, stamp = versions.get(source, {}).get(key, ("", None))
        pulled.setdefault(source, {})[key] = PulledRecord(digest, stamp, {str(k): v for k, v in record.items()})
    return accepted, pulled


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
) -> tuple[int, pd.DataFrame]:
    """Bring the ``std_<dataset>`` table to every accepted record the sources hold now; returns how many
    that is and the rows written. A daily run writes only the records of the delta (changes since the
    last completed run, so a rerun after a crash writes them again, harmlessly) and any record the table
    holds that the sources no longer do, or lacks; a full run, or a new column, rewrites the table."""
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
            return rows_now, rows
    current = state.current_frame(dataset, source_order, columns=columns)
    with store.run_lock(run_id):
        store.write_table(name, current, run_id)
    return len(current), current


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
        ins={asset: dg.AssetIn(key=asset) for asset in sources.values()},
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
    def standardize_asset(context: dg.AssetExecutionContext, **raw: pd.DataFrame) -> Iterator[object]:
        raw_by_source = {source: raw[asset] for source, asset in sources.items()}
        warehouse: WarehouseResource = context.resources.warehouse
        store = warehouse.get()
        if dataset == "events":
            install_category_mappings(store)
        accepted, quarantine, books = standardize_sources(dataset, raw_by_source)
        accepted, pulled = pulled_records(dataset, raw_by_source, accepted, quarantine)
        state = store.state
        check = accounting_check(dataset, books)
        if check.passed:  # an unbalanced pull is not committed: its cursors stay where they were
            pulls = state.pending_pulls(context.run_id, dataset)
            crash_point("before_state_commit")
            with store.run_lock(context.run_id), store.transaction() as conn:
                state.commit(conn, context.run_id, dataset, pulls, pulled)
        delta, removed = state.delta(dataset)
        rows_now, shown = write_current_table(
            store, dataset, list(sources), list(accepted.columns), delta, context.run_id,
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
                "rows_written": dg.MetadataValue.int(len(shown)),
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
