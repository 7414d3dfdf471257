"""Benchmark the hub's matching engine against Splink 5 on the same cleaned records.

    .venv/bin/python benchmarks/bench_linkage.py /tmp/bench20k [/tmp/bench250k ...]

For each data folder (laid out as make_residents.py writes it, with truth_residents.csv):
1. clean once, untimed, with the hub's normalizers (the pipeline's schemas stage does the same);
2. run, each in its own subprocess so ru_maxrss is its own peak: the hub engine (`dedup.link` on
   the cleaned columns), `hub link` on the raw files (benchmarks/link_bench.yaml), and Splink 5
   (DuckDB, EM, term frequencies) on the same cleaned columns;
3. score all against the truth. Splink gets its best threshold by F1 (generous to it); its time
   counts training, prediction and the clustering at that threshold only.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dedup.evaluate import pairwise_scores  # noqa: E402

FIELDS = {"name": "name", "id_no": "cn_id", "birth": "date", "gender": "exact", "phone": "phone", "address": "address"}
SPLINK_THRESHOLDS = (0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999)


def clean(data: Path, work: Path, config_name: str = "link_bench.yaml", fields: dict[str, str] = FIELDS) -> Path:
    """Cleaned columns every engine reads: the normalized value of each field, '' when empty."""
    from dedup.prepare import prepare
    from pipelines.link_command import load_link_config, source_records

    config_path = work / config_name
    config = load_link_config(config_path)
    frames = [source_records(name, spec, data, fields) for name, spec in config["sources"].items()]
    records = pd.concat(frames, ignore_index=True)
    cleaned = records[["source", "record_id"]].copy()
    for field in prepare(records, fields):
        cleaned[field.name] = [field.value_of(i) or "" for i in range(len(records))]
    path = work / "cleaned.parquet"
    cleaned.to_parquet(path, index=False)
    return path


def run_hub(cleaned: Path, out: Path) -> dict[str, float]:
    from dedup import link

    started = time.perf_counter()
    records = pd.read_parquet(cleaned)
    result = link(records, FIELDS)
    seconds = time.perf_counter() - started
    result.clusters.to_csv(out, index=False)
    return {"seconds": seconds, **{f"stage_{k}": round(v, 2) for k, v in result.timings.items()}}


def run_hub_link(config: Path, out: Path) -> dict[str, float]:
    from pipelines.link_command import run_link

    started = time.perf_counter()
    run_link(config, out)
    return {"seconds": time.perf_counter() - started}


def _splink_comparison(field: str, kind: str) -> Any:
    """The Splink comparison for a hub field kind (the same choice for every data set)."""
    import splink.comparison_library as cl

    if kind == "name":
        return cl.NameComparison(field).configure(term_frequency_adjustments=True)
    if kind in {"cn_id", "identifier"}:
        return cl.DamerauLevenshteinAtThresholds(field, [1, 2]).configure(term_frequency_adjustments=True)
    if kind == "date":
        return cl.DateOfBirthComparison(field, input_is_string=True)
    if kind == "phone":
        return cl.DamerauLevenshteinAtThresholds(field, [1]).configure(term_frequency_adjustments=True)
    if kind == "address":
        return cl.JaroWinklerAtThresholds(field, [0.95, 0.85]).configure(term_frequency_adjustments=True)
    return cl.ExactMatch(field)


def splink_plan(fields: dict[str, str]) -> dict[str, list[list[str]]]:
    """Blocking and training rules from the field kinds: an ID alone; the names with a date, phone
    or address; a date with a phone or address. Deterministic rules for the prior: an ID, or names
    with date and phone. EM sessions on each date and each ID (on the names when there is no ID)."""
    of_kind = {kind: [f for f, k in fields.items() if k == kind] for kind in set(fields.values())}
    ids = of_kind.get("cn_id", []) + of_kind.get("identifier", [])
    names, dates = of_kind.get("name", []), of_kind.get("date", [])
    others = dates + of_kind.get("phone", []) + of_kind.get("address", [])
    blocking = [[f] for f in ids] + [[*names, f] for f in others]
    blocking += [[d, f] for d in dates for f in others if f not in dates]
    deterministic = [[f] for f in ids] + [[*names, *dates, *of_kind.get("phone", [])]]
    em = [[d] for d in dates] + ([[f] for f in ids] or [names])
    return {"blocking": blocking, "deterministic": deterministic, "em": em}


def run_splink(cleaned: Path, out: Path, truth: Path, fields: dict[str, str] = FIELDS) -> dict[str, float]:
    import logging

    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    logging.disable(logging.WARNING)
    started = time.perf_counter()
    records = pd.read_parquet(cleaned)
    records["unique_id"] = records["source"] + "|" + records["record_id"]
    for column in fields:
        records[column] = records[column].where(records[column] != "", None)
    plan = splink_plan(fields)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[_splink_comparison(field, kind) for field, kind in fields.items()],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in plan["blocking"]],
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(records), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*rule) for rule in plan["deterministic"]], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in plan["em"]:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    predictions = linker.inference.predict(threshold_match_probability=min(SPLINK_THRESHOLDS))
    shared_seconds = time.perf_counter() - started
    truth_frame = pd.read_csv(truth, dtype=str)
    best: dict[str, float] = {"f1": -1.0}
    for threshold in SPLINK_THRESHOLDS:
        mark = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        ).as_pandas_dataframe()
        cluster_seconds = time.perf_counter() - mark
        split = clusters["unique_id"].str.split("|", n=1, expand=True)
        predicted = pd.DataFrame({"source": split[0], "record_id": split[1], "cluster_id": clusters["cluster_id"]})
        score = pairwise_scores(truth_frame, predicted)
        if score.f1 > best["f1"]:
            best = {"f1": score.f1, "threshold": threshold, "seconds": shared_seconds + cluster_seconds}
            predicted.to_csv(out, index=False)
    return best


def child(argv: list[str]) -> None:
    """Run one engine and print its figures as JSON (own process: own peak memory)."""
    engine, *paths = argv
    if engine == "hub":
        figures = run_hub(Path(paths[0]), Path(paths[1]))
    elif engine == "hub-link":
        figures = run_hub_link(Path(paths[0]), Path(paths[1]))
    else:
        figures = run_splink(Path(paths[0]), Path(paths[1]), Path(paths[2]))
    figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def spawn(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def bench(data: Path, with_splink: bool) -> None:
    truth = data / "truth_residents.csv"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(REPO / "benchmarks" / "link_bench.yaml", work / "link_bench.yaml")
        config = work / "link_bench.yaml"
        text = config.read_text(encoding="utf-8")
        for name in ("grid_residents.csv", "health_records.csv", "civil_affairs.csv"):
            text = text.replace(f"path: {name}", f"path: {data / name}")
        config.write_text(text, encoding="utf-8")
        cleaned = clean(data, work)
        runs = {
            "hub (dedup.link, cleaned)": (spawn("hub", str(cleaned), str(work / "hub.csv")), work / "hub.csv"),
            "hub link (raw files)": (spawn("hub-link", str(config), str(work / "link.csv")), work / "link.csv"),
        }
        if with_splink:
            figures = spawn("splink", str(cleaned), str(work / "splink.csv"), str(truth))
            runs["splink 5 (cleaned, best threshold)"] = (figures, work / "splink.csv")
        truth_frame = pd.read_csv(truth, dtype=str)
        print(f"\n{data} ({len(pd.read_parquet(cleaned))} records)")
        print(f"{'engine':38s} {'precision':>9s} {'recall':>7s} {'F1':>7s} {'seconds':>8s} {'peak MB':>8s}")
        for label, (figures, out) in runs.items():
            score = pairwise_scores(truth_frame, pd.read_csv(out, dtype=str))
            extra = {k: v for k, v in figures.items() if k not in {"seconds", "peak_mb", "f1"}}
            print(
                f"{label:38s} {score.precision:9.4f} {score.recall:7.4f} {score.f1:7.4f} "
                f"{figures['seconds']:8.1f} {figures['peak_mb']:8.0f}  {extra if extra else ''}"
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="*", type=Path, default=[Path("/tmp/bench20k")])
    parser.add_argument("--no-splink", action="store_true", help="only the hub engine")
    args = parser.parse_args()
    for data in args.data:
        bench(data, not args.no_splink)


if __name__ == "__main__":
    main()
