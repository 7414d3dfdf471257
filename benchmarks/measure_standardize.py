"""Measure what standardization buys on a bench folder with known truth (truth_residents.csv).

For each field (ID, phone, birth date, canonical address) and source: the share of records whose
value equals the value most of the same true person's records carry, before (raw, stripped) and
after cleaning; the quarantine counts per reason; and the time standardize takes.

    .venv/bin/python benchmarks/measure_standardize.py /tmp/bench20k
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from schemas.standardize import StandardizeResult, accounting, standardize

RESIDENT_FILES = {"grid": "grid_residents.csv", "health": "health_records.csv", "civil": "civil_affairs.csv"}
EVENT_FILES = {"grid": "grid_events.csv", "resident": "resident_events.csv"}
FIELDS = {"id_no": "id", "phone": "phone", "birth": "birth", "address_canonical": "address"}


def _raw_frame(rows: pd.DataFrame, source: str, result_columns: dict[str, str]) -> pd.DataFrame:
    """Raw values (stripped) under the shared field names, for the 'before' figures."""
    from schemas.mapping import load_mapping

    mapping = load_mapping("residents", source)
    frame = pd.DataFrame({"record_id": rows[mapping.record_id].str.strip()})
    for field in result_columns:
        raw_field = "address" if field == "address_canonical" else field
        column = mapping.column_for(raw_field)
        frame[field] = rows[column].str.strip().replace("", None) if column else None
    frame["source"] = source
    return frame


def _agreement(frame: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per source and field: share of records (with a value) equal to their person's majority value."""
    merged = frame.merge(truth, on=["source", "record_id"], how="inner")
    out = {}
    for field, label in FIELDS.items():
        values = merged[["source", "person_id", field]].dropna()
        majority = values.groupby(["person_id", field]).size().reset_index(name="n")
        majority = majority.sort_values("n", ascending=False).drop_duplicates("person_id")
        joined = merged[["source", "person_id", field]].merge(
            majority[["person_id", field]].rename(columns={field: "majority"}), on="person_id", how="left"
        )
        joined["agree"] = joined[field].notna() & (joined[field] == joined["majority"])
        out[label] = joined.groupby("source")["agree"].mean()
        out[label]["all"] = joined["agree"].mean()
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", type=Path)
    args = parser.parse_args(argv)
    truth = pd.read_csv(args.bench / "truth_residents.csv", dtype=str)
    raw_rows = {
        source: pd.read_csv(args.bench / name, dtype=str, keep_default_na=False)
        for source, name in RESIDENT_FILES.items()
    }
    event_rows = {
        source: pd.read_csv(args.bench / name, dtype=str, keep_default_na=False)
        for source, name in EVENT_FILES.items()
        if (args.bench / name).exists()
    }
    results: dict[str, StandardizeResult] = {}
    timings: dict[str, float] = {}
    for source, rows in raw_rows.items():
        start = time.perf_counter()
        results[f"residents/{source}"] = standardize("residents", source, rows)
        timings[f"residents/{source}"] = time.perf_counter() - start
    for source, rows in event_rows.items():
        start = time.perf_counter()
        results[f"events/{source}"] = standardize("events", source, rows)
        timings[f"events/{source}"] = time.perf_counter() - start

    before = pd.concat([_raw_frame(rows, source, FIELDS) for source, rows in raw_rows.items()])
    after = pd.concat(
        [results[f"residents/{source}"].accepted[["source", "record_id", *FIELDS]] for source in raw_rows]
    )
    before_table = _agreement(before, truth)
    after_table = _agreement(after, truth)
    table = pd.concat({"before": before_table, "after": after_table}, axis=1).swaplevel(axis=1)
    table = table[[(label, when) for label in FIELDS.values() for when in ("before", "after")]]
    print(f"bench: {args.bench}  records: {sum(len(r) for r in raw_rows.values())}")
    print("\nagreement with the person's majority value (share of records)")
    print(table.map(lambda v: f"{v:.3f}").to_string())
    print("\nstandardize: received / accepted / quarantined, seconds")
    for key, result in results.items():
        counts = accounting(result)
        print(
            f"  {key:<18} {counts['received']:>7} {counts['accepted']:>7} {counts['quarantined']:>6}"
            f"  {timings[key]:.2f}s  {counts['reasons'] or ''}"
        )
    print(f"  total time {sum(timings.values()):.2f}s")
    flags = pd.concat([results[f"residents/{s}"].accepted["quality_flags"] for s in raw_rows])
    counts = flags[flags != ""].str.split(";").explode().value_counts()
    print("\nquality flags (accepted resident records)")
    print(counts.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
