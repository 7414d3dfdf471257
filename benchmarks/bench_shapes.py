"""`hub link` on record sets of other shapes than the shared bench, scored against their truth.

    .venv/bin/python benchmarks/bench_shapes.py --people 5000 --seed 1
    .venv/bin/python benchmarks/bench_shapes.py --shapes census-us chinese --people 2000 --no-splink

Each shape (benchmarks/generators/) is written at the given size and seed into a temporary folder
with its truth and link config; `hub link` (pipelines.link_command.run_link) runs on the raw files
and is scored pairwise; the last column is the verdict of the model check (dedup.check), whose warnings go
to stderr. With Splink installed (`pip install -e '.[bench]'`) and unless --no-splink,
Splink runs on the same records cleaned by the hub's normalizers, through bench_linkage.py's runner
(fields and blocking from the config's kinds; its best threshold by F1, which is generous to it).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.generators import census, chinese  # noqa: E402
from benchmarks.generators.common import GeneratedSet  # noqa: E402
from dedup.evaluate import pairwise_scores  # noqa: E402
from pipelines.link_command import load_link_config, run_link  # noqa: E402

SHAPES: dict[str, Callable[[int, int, Path], GeneratedSet]] = {
    "census-us": lambda people, seed, out: census.generate(people, seed, out, "us"),
    "census-eu": lambda people, seed, out: census.generate(people, seed, out, "eu"),
    "census-chain": lambda people, seed, out: census.generate(people, seed, out, "us", chain_households=True),
    "chinese": lambda people, seed, out: chinese.generate(people, seed, out),
    "chinese-ids": lambda people, seed, out: chinese.generate(people, seed, out, with_ids=True),
    "chinese-ids-2x": lambda people, seed, out: chinese.generate(people, seed, out, with_ids=True, noise=2.0),
}


def splink_available() -> bool:
    return importlib.util.find_spec("splink") is not None


def run_splink(made: GeneratedSet, work: Path) -> tuple[float, float, float, float]:
    """Splink on the hub-cleaned records (bench_linkage's runner): precision, recall, F1, seconds."""
    from benchmarks.bench_linkage import clean
    from benchmarks.bench_linkage import run_splink as splink_runner

    fields = {str(f): str(k) for f, k in load_link_config(made.config)["fields"].items()}
    cleaned = clean(made.folder, made.folder, made.config.name, fields)
    out = work / "splink.csv"
    figures = splink_runner(cleaned, out, made.truth, fields)
    scores = pairwise_scores(pd.read_csv(made.truth, dtype=str), pd.read_csv(out, dtype=str))
    return scores.precision, scores.recall, scores.f1, figures["seconds"]


def bench(shape: str, people: int, seed: int, with_splink: bool, keep: Path | None) -> list[str]:
    """One shape: generate, link, score; the table rows it adds."""
    with tempfile.TemporaryDirectory(prefix=f"hub-shape-{shape}-") as tmp:
        folder = keep / shape if keep else Path(tmp)
        made = SHAPES[shape](people, seed, folder)
        summary = run_link(made.config, folder / "clusters.csv")
        truth = pd.read_csv(made.truth, dtype=str)
        scores = pairwise_scores(truth, pd.read_csv(summary.out_path, dtype=str))
        records = sum(made.records.values())
        check = "passed" if not summary.warnings else f"{len(summary.warnings)} warning(s)"
        rows = [
            f"{shape:13s} {records:8d} {made.people:7d} {'hub-link':9s} "
            f"{scores.precision:9.4f} {scores.recall:7.4f} {scores.f1:7.4f} {summary.seconds:8.1f}  {check}"
        ]
        for warning in summary.warnings:
            print(f"  {shape}: model check: {warning}", file=sys.stderr)
        for line in summary.lines():
            if line.startswith("date format"):
                print(f"  {shape}: {line}", file=sys.stderr)
        if with_splink:
            precision, recall, f1, seconds = run_splink(made, folder)
            rows.append(
                f"{shape:13s} {records:8d} {made.people:7d} {'splink':9s} "
                f"{precision:9.4f} {recall:7.4f} {f1:7.4f} {seconds:8.1f}"
            )
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--no-splink", action="store_true", help="only the hub engine")
    parser.add_argument("--keep", type=Path, help="write each shape's files under this folder instead of a temp one")
    args = parser.parse_args()
    with_splink = not args.no_splink and splink_available()
    if not args.no_splink and not with_splink:
        print("splink is not installed: hub link only (pip install -e '.[bench]')", file=sys.stderr)
    header = f"{'shape':13s} {'records':>8s} {'people':>7s} {'engine':9s} {'precision':>9s} {'recall':>7s} {'F1':>7s}"
    print(f"{header} {'seconds':>8s}  model check (people {args.people}, seed {args.seed})")
    for shape in args.shapes:
        for row in bench(shape, args.people, args.seed, with_splink, args.keep):
            print(row, flush=True)


if __name__ == "__main__":
    main()
