"""Score an alerts.csv against a truth_alerts.csv over (kind, source, record_id), per kind.

    python3 ../shared/bench/plant_alerts.py --data /tmp/bench20k-alerts --rate 0.01 --seed 5
    HUB_REFERENCE_DATE=2026-11-01 .venv/bin/hub demo --data /tmp/bench20k-alerts --out OUT
    .venv/bin/python benchmarks/score_alerts.py /tmp/bench20k-alerts/truth_alerts.csv OUT/alerts.csv \
        [--min-f1 0.95 --min-recall 0.9]

Prints one line per kind (truth, predicted, true positives, precision, recall, F1) and, with
--min-f1/--min-recall, exits 1 when a kind of the truth falls short. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

KEY = ("kind", "source", "record_id")


@dataclass(frozen=True)
class KindScore:
    kind: str
    truth: int
    predicted: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else (1.0 if not self.truth else 0.0)

    @property
    def recall(self) -> float:
        return self.true_positives / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def line(self) -> str:
        return (
            f"{self.kind:28s} truth={self.truth:5d} predicted={self.predicted:5d} tp={self.true_positives:5d} "
            f"precision={self.precision:.4f} recall={self.recall:.4f} f1={self.f1:.4f}"
        )


def read_keys(path: Path) -> set[tuple[str, str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in KEY if column not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}")
        return {(row["kind"], row["source"], row["record_id"]) for row in reader}


def score(truth: Iterable[tuple[str, str, str]], predicted: Iterable[tuple[str, str, str]]) -> list[KindScore]:
    """Precision, recall and F1 per kind (kinds of either file)."""
    truth, predicted = set(truth), set(predicted)
    kinds = sorted({key[0] for key in truth | predicted})
    scores = []
    for kind in kinds:
        t = {key for key in truth if key[0] == kind}
        p = {key for key in predicted if key[0] == kind}
        scores.append(KindScore(kind, len(t), len(p), len(t & p)))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("truth", type=Path)
    parser.add_argument("predicted", type=Path)
    parser.add_argument("--min-f1", type=float, default=0.0)
    parser.add_argument("--min-recall", type=float, default=0.0)
    args = parser.parse_args(argv)
    truth = read_keys(args.truth)
    scores = score(truth, read_keys(args.predicted))
    for kind_score in scores:
        print(kind_score.line())
    truth_kinds = {key[0] for key in truth}
    short = [s.kind for s in scores if s.kind in truth_kinds and (s.f1 < args.min_f1 or s.recall < args.min_recall)]
    if short:
        print(f"below the goal (f1 >= {args.min_f1}, recall >= {args.min_recall}): {', '.join(short)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
