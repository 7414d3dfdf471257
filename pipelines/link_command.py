"""`hub link CONFIG.yaml --out CLUSTERS.csv`: the matching engine on any tabular records."""

from __future__ import annotations

import csv
import dataclasses
import io
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from connectors.spreadsheet import read_workbook_rows
from dedup import link
from dedup.formats import apply_date_order, expand_two_digit_years, infer_date_order, infer_two_digit_years
from dedup.prepare import check_kinds
from hub_errors import ConfigError, SourceError


@dataclass(frozen=True)
class LinkSummary:
    """What a run did, for the CLI to print."""

    records: dict[str, int]
    clusters: int
    multi_record_clusters: int
    seconds: float
    out_path: Path
    date_formats: dict[str, str] = dataclasses.field(default_factory=dict)
    weights: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    absent_fields: list[str] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        """Counts, the learned weights (log2 Bayes factor per level) and the model check's verdict."""
        per_source = ", ".join(f"{name} {count}" for name, count in self.records.items())
        check = [f"警告 (model check): {warning}" for warning in self.warnings] or ["model check: passed"]
        absent = [
            f"warning: field {field!r} is in no source (no column of that name, and no 'columns' rename to it); "
            "it is empty everywhere and counts for nothing"
            for field in self.absent_fields
        ]
        return [
            *absent,
            f"records: {sum(self.records.values())} ({per_source})",
            *(f"date format {column}: {described}" for column, described in self.date_formats.items()),
            f"clusters: {self.clusters} ({self.multi_record_clusters} with more than one record)",
            "learned weights (log2 Bayes factor per level):",
            *(f"  {line}" for line in self.weights),
            *check,
            f"written: {self.out_path} in {self.seconds:.1f} s",
        ]


CSV_ENCODINGS = ("utf-8-sig", "gb18030")
# kinds whose values start with a date that may be written day-first or month-first
DATED_KINDS = ("date", "datetime")


CSV_DELIMITERS = ",;\t|"
SNIFF_BYTES = 65536


def read_csv_text(path: Path) -> pd.DataFrame:
    """A CSV as text: UTF-8 (with or without BOM), else GB18030, which Chinese office software writes;
    comma, semicolon, tab or bar as the delimiter, whichever the file uses."""
    raw = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ConfigError(f"{path}: neither UTF-8 nor GB18030 text; save it as UTF-8 CSV")
    try:
        delimiter = csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    try:  # Arrow's multi-threaded reader: several times faster on a city's files
        return pd.read_csv(
            io.BytesIO(text.encode("utf-8")), dtype=str, keep_default_na=False, sep=delimiter, engine="pyarrow"
        )
    except (pa.ArrowException, ValueError):  # it is strict (ragged rows...): pandas' own parser says what is wrong
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter)


def _read_table(path: Path, source: str, id_column: str) -> pd.DataFrame:
    """Every cell as text, empty cells as ''; CSV (UTF-8, with or without BOM) or XLSX (first sheet,
    header found below any title rows by its id column, numbers kept as the digits a person saw)."""
    if not path.is_file():
        raise ConfigError(f"source {source!r}: file not found: {path}")
    try:
        if path.suffix.lower() in {".xlsx", ".xlsm"}:
            rows = [row.values for row in read_workbook_rows(path, [id_column], source=source)]
            frame = pd.DataFrame(rows, dtype=object)
        else:
            frame = read_csv_text(path)
    except SourceError as error:
        raise ConfigError(f"source {source!r}: {error}") from error
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"source {source!r}: cannot read {path}: {error}") from error
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame.fillna("")


def load_link_config(config_path: Path) -> dict[str, Any]:
    if not config_path.is_file():
        raise ConfigError(f"link config not found: {config_path}")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{config_path}: not valid YAML: {error}") from error
    if not isinstance(config, dict) or not isinstance(config.get("sources"), dict) or not config["sources"]:
        raise ConfigError(f"{config_path}: needs a 'sources' mapping (name -> path, id, columns)")
    if not isinstance(config.get("fields"), dict) or not config["fields"]:
        raise ConfigError(f"{config_path}: needs a 'fields' mapping (field -> kind)")
    return config


def source_records(name: str, spec: Any, base: Path, fields: dict[str, str]) -> pd.DataFrame:
    """One source's records under the field names, plus source and record_id.

    A date or datetime field's day/month order, and where a date field writes two-digit years, are
    inferred from its column (dedup.formats) and recorded, with their evidence, in
    `attrs["date_formats"]` (field -> description)."""
    if not isinstance(spec, dict) or "path" not in spec or "id" not in spec:
        raise ConfigError(f"source {name!r}: needs 'path' and 'id'")
    path = base / str(spec["path"])
    id_column = str(spec["id"])
    table = _read_table(path, name, id_column)
    if id_column not in table.columns:
        raise ConfigError(f"source {name!r}: id column {id_column!r} not in {path} (columns: {list(table.columns)})")
    ids = table[id_column].astype(str).str.strip()
    repeated = ids[ids.duplicated(keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        rows = [int(i) + 2 for i in repeated.index[repeated == first][:3]]
        raise ConfigError(f"source {name!r}: record id {first!r} appears more than once in {path} (rows {rows})")
    if (ids == "").any():
        row = int(ids.index[ids == ""][0]) + 2
        raise ConfigError(f"source {name!r}: empty record id in column {id_column!r} of {path}, row {row}")
    renames = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
    missing = [column for column in renames if column not in table.columns]
    if missing:
        raise ConfigError(f"source {name!r}: columns {missing} not in {path} (columns: {list(table.columns)})")
    renamed = table.rename(columns=renames)
    records = pd.DataFrame({"source": name, "record_id": ids})
    recodes = spec.get("values") or {}
    date_formats: dict[str, str] = {}
    for field in fields:
        column = renamed[field] if field in renamed.columns else pd.Series("", index=renamed.index)
        if field in recodes:
            mapping = {str(k): str(v) for k, v in recodes[field].items()}
            column = column.map(lambda value, m=mapping: m.get(str(value).strip(), value))
        if fields[field] in DATED_KINDS and field in renamed.columns:
            years = infer_two_digit_years(column) if fields[field] == "date" else None
            if years is not None:
                column, years = expand_two_digit_years(column, years)
            order = infer_date_order(column)
            column = apply_date_order(column, order.order)
            date_formats[field] = order.describe() + (f"; {years.describe()}" if years and years.position else "")
        records[field] = column.astype(str)
    records.attrs["date_formats"] = date_formats
    records.attrs["present_fields"] = [field for field in fields if field in renamed.columns]
    return records


# Workbook sources are read at once in forked workers when their (zipped) files add up to this many
# bytes; below it the fork costs more than it saves.
PARALLEL_READ_MIN_BYTES = 2_000_000


def _workbook_bytes(sources: dict[Any, Any], base: Path) -> int:
    """Size of the sources' workbook files (CSV is read by Arrow faster than a forked worker hands a
    frame back); 0 when a spec is malformed (source_records then says what is wrong)."""
    total = 0
    for spec in sources.values():
        path = base / str(spec.get("path", "")) if isinstance(spec, dict) else None
        if path is None or not path.is_file():
            return 0
        if path.suffix.lower() in {".xlsx", ".xlsm"}:
            total += path.stat().st_size
    return total


def read_sources(sources: dict[Any, Any], base: Path, fields: dict[str, str]) -> list[pd.DataFrame]:
    """source_records of every source, in the config's order. Reading a workbook is slow and
    single-threaded, so large workbooks are read side by side in forked workers; an error
    is the one the first failing source (in order) raises, as when reading one after another."""
    items = [(str(name), spec) for name, spec in sources.items()]
    workers = min(len(items), os.cpu_count() or 1)
    few_workbooks = _workbook_bytes(sources, base) < PARALLEL_READ_MIN_BYTES
    if workers < 2 or "fork" not in mp.get_all_start_methods() or few_workbooks:
        return [source_records(name, spec, base, fields) for name, spec in items]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        futures = [pool.submit(source_records, name, spec, base, fields) for name, spec in items]
        return [future.result() for future in futures]


def run_link(config_path: Path, out_path: Path) -> LinkSummary:
    """Read the sources a config names, link them, write source,record_id,cluster_id."""
    started = time.perf_counter()
    config = load_link_config(config_path)
    fields = {str(field): str(kind) for field, kind in config["fields"].items()}
    check_kinds(fields)
    base = config_path.resolve().parent
    frames = read_sources(config["sources"], base, fields)
    date_formats = {
        f"{source}.{field_name}": described
        for source, frame in zip(config["sources"], frames, strict=True)
        for field_name, described in frame.attrs["date_formats"].items()
    }
    present = {field for frame in frames for field in frame.attrs["present_fields"]}
    absent_fields = [field for field in fields if field not in present]
    records = pd.concat(frames, ignore_index=True)
    unique_sources = config.get("unique_within_source") or []
    result = link(records, fields, unique_sources=[str(s) for s in unique_sources])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result.clusters.to_csv(out_path, index=False, quoting=csv.QUOTE_MINIMAL, encoding="utf-8")
    sizes = result.clusters["cluster_id"].value_counts()
    return LinkSummary(
        records={str(name): int((records["source"] == name).sum()) for name in config["sources"]},
        clusters=len(sizes),
        multi_record_clusters=int((sizes > 1).sum()),
        seconds=time.perf_counter() - started,
        out_path=out_path,
        date_formats=date_formats,
        weights=result.weight_lines(),
        warnings=[str(warning) for warning in result.check()],
        absent_fields=absent_fields,
    )
