"""Standardized and validated rows: every source mapped onto the shared schema.

Each row pulled ends either accepted (in `std_<dataset>`) or quarantined with a reason (in
`quarantine_<dataset>`). The blocking `accounting` check stops the run before matching when that
does not add up for any source.
"""

from collections.abc import Iterator, Mapping

import dagster as dg
import pandas as pd

from pipelines.assets.raw import RAW_SOURCES, ROW_REF
from pipelines.metadata import frame_metadata, sample_markdown
from schemas.standardize import StandardizeResult, accounting, standardize

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
        result: StandardizeResult = standardize(dataset, source, raw.drop(columns=[ROW_REF]))
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
            "per_source": dg.MetadataValue.json(books),
            "unbalanced_sources": dg.MetadataValue.json(sorted(broken)),
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
            f"std_{dataset}": dg.AssetOut(description=f"Accepted {dataset} rows in the shared schema."),
            f"quarantine_{dataset}": dg.AssetOut(description="Rejected rows: source, record, field, reason."),
        },
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
        accepted, quarantine, books = standardize_sources(dataset, raw_by_source)
        reasons = quarantine.groupby("reason").size().sort_values(ascending=False).to_dict()
        yield dg.Output(
            accepted,
            output_name=f"std_{dataset}",
            metadata=frame_metadata(accepted, per_source=dg.MetadataValue.json(books)),
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
        yield accounting_check(dataset, books)

    return standardize_asset


standardize_assets = [build_standardize_asset("residents"), build_standardize_asset("events")]
