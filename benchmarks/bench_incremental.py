"""Incremental linking against a full rebuild on the next day's data.

    .venv/bin/python benchmarks/bench_incremental.py /tmp/bench20k /tmp/bench20k-day2

DAY1 and DAY2 are make_residents.py / make_changes.py folders. Day 1 is linked in full (its model
and person ids are the previous run's). Day 2 is then linked twice: incrementally (dedup.incremental
with the day-1 model, only the records whose matching fields changed re-linked) and in full
(dedup.link, ids carried forward). Prints as JSON: the agreement of the two (pairwise F1 with the
full clustering as reference), each one's F1 against DAY2's truth, the share of unchanged records
that keep their person id, and the seconds each took (the delta's fingerprints included).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dedup import carry_forward, link, pairwise_scores  # noqa: E402
from dedup.incremental import derive_delta, fingerprints, link_incremental  # noqa: E402
from pipelines.link_command import load_link_config, source_records  # noqa: E402

FIELDS = {"name": "name", "id_no": "cn_id", "birth": "date", "gender": "exact", "phone": "phone", "address": "address"}


def records(data: Path) -> pd.DataFrame:
    """The day's records under the field names, read as `hub link` reads them."""
    with tempfile.TemporaryDirectory() as work:
        config_path = Path(work) / "link_bench.yaml"
        shutil.copy(REPO / "benchmarks" / "link_bench.yaml", config_path)
        config = load_link_config(config_path)
    frames = [source_records(name, spec, data, FIELDS) for name, spec in config["sources"].items()]
    return pd.concat(frames, ignore_index=True)


def kept_share(before: pd.DataFrame, after: pd.DataFrame, unchanged: pd.DataFrame) -> float:
    """Share of the unchanged records whose person id is the same after as before."""
    keys = ["source", "record_id"]
    joined = unchanged[keys].merge(before, on=keys).merge(after, on=keys, suffixes=("_before", "_after"))
    return float((joined["person_id_before"] == joined["person_id_after"]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("day1", type=Path)
    parser.add_argument("day2", type=Path)
    args = parser.parse_args()
    first, second = records(args.day1), records(args.day2)

    started = time.perf_counter()
    day1 = link(first, FIELDS)
    day1_seconds = time.perf_counter() - started
    lineage1 = carry_forward(None, day1.clusters).lineage

    started = time.perf_counter()
    delta = derive_delta(fingerprints(second, FIELDS), fingerprints(first, FIELDS))
    incremental = link_incremental(second, FIELDS, lineage1, delta, day1.model)
    incremental_seconds = time.perf_counter() - started

    started = time.perf_counter()
    full = link(second, FIELDS)
    full_stable = carry_forward(lineage1, full.clusters)
    full_seconds = time.perf_counter() - started

    inc_lineage = incremental.stable.lineage
    truth = pd.read_csv(args.day2 / "truth_residents.csv", dtype=str)
    changed = delta.assign(key=delta["source"] + "\x1f" + delta["record_id"])["key"]
    now = second[["source", "record_id"]].astype(str)
    unchanged = now[~(now["source"] + "\x1f" + now["record_id"]).isin(changed)]
    agreement = pairwise_scores(full_stable.lineage, inc_lineage)
    report = {
        "records_day1": len(first),
        "records_day2": len(second),
        "delta": {str(k): int(v) for k, v in delta["change"].value_counts().items()},
        "affected_records": incremental.affected_records,
        "affected_persons": incremental.affected_persons,
        "agreement_incremental_vs_full": {
            "precision": round(agreement.precision, 5),
            "recall": round(agreement.recall, 5),
            "f1": round(agreement.f1, 5),
        },
        "f1_vs_truth": {
            "incremental": round(pairwise_scores(truth, inc_lineage).f1, 5),
            "full": round(pairwise_scores(truth, full_stable.lineage).f1, 5),
        },
        "unchanged_records_keep_person_id": {
            "incremental": round(kept_share(lineage1, inc_lineage, unchanged), 6),
            "full": round(kept_share(lineage1, full_stable.lineage, unchanged), 6),
        },
        "person_id_changes_incremental": {
            str(k): int(v) for k, v in incremental.stable.changes["change"].value_counts().items() if k != "kept"
        },
        "seconds": {
            "day1_full_link": round(day1_seconds, 2),
            "incremental": round(incremental_seconds, 2),
            "full": round(full_seconds, 2),
            "incremental_stages": {k: round(v, 2) for k, v in incremental.timings.items()},
        },
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
