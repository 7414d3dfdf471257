"""The stewards' review round trip, measured on bench data with known truth.

    python benchmarks/review_roundtrip.py /tmp/bench20k --work /tmp/review-roundtrip

1. `hub demo --data DIR` (full run) writes OUT/待核对_复核.xlsx.
2. A steward who knows the truth (truth_residents.csv; for words, the professional category that the
   grid's report of the same incident carries in truth_events.csv) fills every dropdown and drops the
   workbook into the steward inbox.
3. `hub demo --data DIR` again (a daily run): it reads the inbox first.

Prints the pairs exported, the decisions and mappings read back, the persons merged and split by the
second run (person_id_history), the pairs it now gets right, and the unknown words left.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pandas as pd
import sqlalchemy as sa

from dedup import pairwise_scores
from pipelines.review import DIFFERENT, PAIRS_SHEET, REVIEW_BOOK, SAME, STEWARD_CELL, WORDS_SHEET


def reword(data: Path, copy: Path, count: int) -> Path:
    """A copy of DIR whose residents word their N most frequent categories in words no table knows."""
    shutil.copytree(data, copy)
    events = pd.read_csv(copy / "resident_events.csv", dtype=str, keep_default_na=False)
    frequent = events["category"].value_counts().index[:count]
    novel = {word: f"反映第{number}号情况" for number, word in enumerate(frequent, start=1)}
    events["category"] = events["category"].map(lambda word: novel.get(word, word))
    events.to_csv(copy / "resident_events.csv", index=False)
    return copy


def run_demo(data: Path, out: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--data", str(data), "--out", str(out)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def word_truth(data: Path) -> dict[str, str]:
    """Resident's word -> the category the grid filed the same incident under (the majority)."""
    truth = pd.read_csv(data / "truth_events.csv", dtype=str)
    grid = pd.read_csv(data / "grid_events.csv", dtype=str).rename(columns={"事件编号": "event_id", "事件类型": "type"})
    resident = pd.read_csv(data / "resident_events.csv", dtype=str)
    incident_type = truth.merge(grid[["event_id", "type"]], on="event_id").groupby("incident_id")["type"].agg(
        lambda values: values.mode().iloc[0]
    )
    words = truth.merge(resident[["event_id", "category"]], on="event_id")
    words["type"] = words["incident_id"].map(incident_type)
    words = words.dropna(subset=["type"])
    return words.groupby("category")["type"].agg(lambda values: values.mode().iloc[0]).to_dict()


def fill_workbook(book_path: Path, target: Path, data: Path) -> dict[str, int]:
    """Choose every dropdown as a steward who knows the truth would."""
    person = pd.read_csv(data / "truth_residents.csv", dtype=str)
    person_of = dict(zip(person["source"] + ":" + person["record_id"], person["person_id"], strict=True))
    words = word_truth(data)
    book = openpyxl.load_workbook(book_path)
    book["说明"][STEWARD_CELL] = "基准核对员"
    counts = {"same": 0, "different": 0, "words_mapped": 0, "words_unknown_to_truth": 0}
    pairs = book[PAIRS_SHEET]
    header = [cell.value for cell in pairs[1]]
    left_at, right_at, verdict_at = header.index("记录A"), header.index("记录B"), header.index("判定")
    for row in pairs.iter_rows(min_row=2):
        same = person_of.get(str(row[left_at].value)) == person_of.get(str(row[right_at].value))
        row[verdict_at].value = SAME if same else DIFFERENT
        counts["same" if same else "different"] += 1
    vocabulary = book[WORDS_SHEET]
    header = [cell.value for cell in vocabulary[1]]
    word_at, map_at = header.index("居民用词"), header.index("映射到")
    for row in vocabulary.iter_rows(min_row=2):
        category = words.get(str(row[word_at].value))
        if category:
            row[map_at].value = category
            counts["words_mapped"] += 1
        else:
            counts["words_unknown_to_truth"] += 1
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)
    return counts


def pair_accuracy(out: Path, data: Path, pairs: pd.DataFrame) -> int:
    """How many of the exported pairs the run's lineage gets right (same person iff one person_id)."""
    lineage = pd.read_csv(out / "lineage_residents.csv", dtype=str)
    person_id = dict(zip(lineage["source"] + ":" + lineage["record_id"], lineage["person_id"], strict=True))
    truth = pd.read_csv(data / "truth_residents.csv", dtype=str)
    true_id = dict(zip(truth["source"] + ":" + truth["record_id"], truth["person_id"], strict=True))
    right = 0
    for left, other in zip(pairs["记录A"], pairs["记录B"], strict=True):
        right += (person_id.get(left) == person_id.get(other)) == (true_id.get(left) == true_id.get(other))
    return right


def f1(data: Path, out: Path, kind: str) -> float:
    truth = pd.read_csv(data / f"truth_{kind}.csv", dtype=str)
    return round(pairwise_scores(truth, pd.read_csv(out / f"lineage_{kind}.csv", dtype=str)).f1, 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/review-roundtrip"))
    parser.add_argument(
        "--novel-words",
        type=int,
        default=0,
        help="reword the residents' N most frequent category words into words no table knows (on a copy)",
    )
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    if args.novel_words:
        args.data = reword(args.data, args.work / "data", args.novel_words)
    home = args.work / ".hub"
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env.update(HUB_HOME=str(home), DAGSTER_HOME=str(args.work / ".dagster"), PYTHONUNBUFFERED="1")
    first, second = args.work / "day1", args.work / "day2"
    seconds_first = run_demo(args.data, first, env)
    exported = pd.read_excel(first / REVIEW_BOOK, sheet_name=PAIRS_SHEET, dtype=str)
    words = pd.read_excel(first / REVIEW_BOOK, sheet_name=WORDS_SHEET, dtype=str)
    filled = fill_workbook(first / REVIEW_BOOK, home / "steward-inbox" / REVIEW_BOOK, args.data)
    right_before = pair_accuracy(first, args.data, exported)
    seconds_second = run_demo(args.data, second, env)
    right_after = pair_accuracy(second, args.data, exported)
    engine = sa.create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    with engine.connect() as conn:
        decisions = pd.read_sql_table("steward_decisions", conn)
        mappings = pd.read_sql_table("category_mappings", conn)
        history = pd.read_sql_table("person_id_history", conn)
    summary = json.loads((second / "summary.json").read_text(encoding="utf-8"))
    last_run = summary["dagster_run_id"]
    changes = history[history["run_id"] == last_run]["change"].value_counts().to_dict()
    words_after = pd.read_excel(second / REVIEW_BOOK, sheet_name=WORDS_SHEET, dtype=str)
    figures = {
        "pairs_exported": len(exported),
        "words_exported": len(words),
        "steward_choices": filled,
        "decisions_read_back": len(decisions),
        "decided_by": sorted(decisions["steward"].unique().tolist()),
        "mappings_read_back": len(mappings),
        "imported_file": [p.name for p in (home / "steward-inbox" / "imported").iterdir()],
        "pairs_right_before": right_before,
        "pairs_right_after": right_after,
        "second_run_person_id_changes": {str(k): int(v) for k, v in changes.items()},
        "persons_before": json.loads((first / "summary.json").read_text(encoding="utf-8"))["persons"],
        "persons_after": summary["persons"],
        "unknown_words_after": len(words_after),
        "resident_f1": {"before": f1(args.data, first, "residents"), "after": f1(args.data, second, "residents")},
        "incident_f1": {"before": f1(args.data, first, "events"), "after": f1(args.data, second, "events")},
        "seconds": {"first_run": round(seconds_first, 1), "second_run": round(seconds_second, 1)},
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
