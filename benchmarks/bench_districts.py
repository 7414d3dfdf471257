"""Resident linking partitioned by district, then reconciled city-wide, against linking the whole city
at once, on the same records (the bench files read as `hub link` reads them).

    .venv/bin/python benchmarks/bench_districts.py /tmp/bench250k

Districts come from pipelines/config/districts.yaml (the ID number's region code, else the address).
Each district is linked on its own (`dedup.link`, its own learned weights); dedup.reconcile then joins
the clusters of records that share an ID number or phone across districts, scored with the largest
district's model. Prints pairwise precision, recall and F1 of both against truth_residents.csv, the
seconds and peak memory of each (each in its own subprocess), and what reconciliation looked at.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_incremental import FIELDS  # noqa: E402
from benchmarks.bench_incremental import records as day_records  # noqa: E402


def run(data: Path, mode: str, out: Path) -> None:
    from dedup import link
    from dedup.reconcile import reconcile
    from pipelines.districts import assign_districts, load_districts

    records = day_records(data)
    started = time.perf_counter()
    stats: dict[str, object] = {}
    if mode == "city":
        clusters = link(records, FIELDS).clusters
    else:
        districts = load_districts()
        part = assign_districts(records["id_no"], records["address"], districts).to_numpy()
        labels = np.empty(len(records), dtype=object)
        models = []
        for name in pd.unique(part):
            rows = np.flatnonzero(part == name)
            result = link(records.iloc[rows], FIELDS)
            labels[rows] = (name + ":" + result.clusters["cluster_id"].astype(str)).to_numpy()
            models.append((len(rows), result.model))
        stats["districts"] = {str(k): int(v) for k, v in pd.Series(part).value_counts().items()}
        stats["district_seconds"] = round(time.perf_counter() - started, 2)
        model = max(models, key=lambda item: item[0])[1]
        renamed = [{"name_key": "name"}.get(k, k) if isinstance(k, str) else [{"name_key": "name"}.get(n, n) for n in k]
                   for k in districts.reconcile_on]
        outcome = reconcile(records, FIELDS, part, labels, model, identifiers=renamed)
        stats.update(boundary_records=outcome.boundary_records, candidate_pairs=outcome.candidate_pairs,
                     joined=outcome.joined)
        clusters = pd.DataFrame({"source": records["source"], "record_id": records["record_id"],
                                 "cluster_id": outcome.clusters})
    stats["seconds"] = round(time.perf_counter() - started, 2)
    stats["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    clusters.to_csv(out / f"{mode}.csv", index=False)
    (out / f"{mode}.json").write_text(json.dumps(stats, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--mode", choices=["city", "districts"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        run(args.data, args.mode, args.out)
        return
    from dedup.evaluate import pairwise_scores

    truth = pd.read_csv(args.data / "truth_residents.csv", dtype=str)
    with tempfile.TemporaryDirectory() as work:
        for mode in ("city", "districts"):
            subprocess.run([sys.executable, __file__, str(args.data), "--mode", mode, "--out", work], check=True)
            stats = json.loads((Path(work) / f"{mode}.json").read_text())
            scores = pairwise_scores(truth, pd.read_csv(Path(work) / f"{mode}.csv", dtype=str))
            print(f"{mode:9s} precision={scores.precision:.4f} recall={scores.recall:.4f} f1={scores.f1:.4f} "
                  + " ".join(f"{k}={v}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
