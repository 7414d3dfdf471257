"""The stewards' review in Excel: the workbook out (a dropdown per row), the choices back (decisions and
word mappings with who and when), and their effect on the next run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.demo import CODE_LOCATION, REPOSITORY_TAG, run_demo
from pipelines.review import (
    DIFFERENT,
    PAIRS_SHEET,
    REVIEW_BOOK,
    SAME,
    STEWARD_CELL,
    WORDS_SHEET,
    apply_review,
    import_steward_inbox,
    write_review_workbook,
)
from pipelines.warehouse import Warehouse
from schemas.categories import load_table, map_category, unknown_categories, use_steward_words

NOVEL_WORD = "反映第1号情况"


def review_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "left_source": ["grid", "grid"],
            "left_record_id": ["G1", "G2"],
            "right_source": ["health", "civil"],
            "right_record_id": ["H1", "C1"],
            "probability": [0.51, 0.2],
            "merged": [True, False],
            "contributions": ["name agree +3.0", "name differ -2.0"],
        }
    )


def review_words() -> pd.DataFrame:
    return pd.DataFrame({"category_raw": [NOVEL_WORD], "count": [4], "suggestion": [None], "confidence": [0.1]})


def residents() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["grid", "health", "grid", "civil"],
            "record_id": ["G1", "H1", "G2", "C1"],
            "name": ["张伟", "张玮", "李娜", "李娜"],
            "birth": ["1980-01-02", "1980-01-02", "1990-05-06", "1991-05-06"],
            "id_no": ["350602198001020011", None, None, None],
            "address": ["芗城区水仙大街1号", "", "", ""],
        }
    )


@pytest.fixture()
def warehouse(tmp_path: Path) -> Warehouse:
    store = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    store.write_table("std_residents", residents(), "run-1")
    return store


@pytest.fixture(autouse=True)
def no_steward_words() -> object:
    yield
    use_steward_words({})


def choose(book_path: Path, *, verdicts: dict[int, str], words: dict[int, str], steward: str = "") -> None:
    book = openpyxl.load_workbook(book_path)
    book["说明"][STEWARD_CELL] = steward
    for row, verdict in verdicts.items():
        book[PAIRS_SHEET].cell(row=row, column=15, value=verdict)
    for row, category in words.items():
        book[WORDS_SHEET].cell(row=row, column=6, value=category)
    book.save(book_path)


def test_the_workbook_has_a_dropdown_per_row_and_masks_id_numbers(tmp_path: Path) -> None:
    path = write_review_workbook(tmp_path / REVIEW_BOOK, review_pairs(), review_words(), residents())
    book = openpyxl.load_workbook(path)
    pairs, words, options = book[PAIRS_SHEET], book[WORDS_SHEET], book["选项"]
    assert pairs["O1"].value == "判定" and words["F1"].value == "映射到"
    verdict = pairs.data_validations.dataValidation[0]
    assert verdict.type == "list" and str(verdict.sqref) == "O2:O3"
    assert [options.cell(row=r, column=1).value for r in (1, 2)] == [SAME, DIFFERENT]
    mapped = words.data_validations.dataValidation[0]
    assert mapped.type == "list" and str(mapped.sqref) == "F2"
    listed = [options.cell(row=r, column=2).value for r in range(1, len(load_table().categories) + 1)]
    assert listed == list(load_table().categories)
    assert options.sheet_state == "hidden"
    shown = [cell.value for cell in pairs[2]]
    assert "张伟" in shown and "350602198001020011" not in shown
    assert any(str(value).startswith("350602") and "*" in str(value) for value in shown)


def test_returned_choices_are_recorded_with_who_and_when(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_review_workbook(tmp_path / REVIEW_BOOK, review_pairs(), review_words(), residents())
    category = load_table().categories[0]
    choose(path, verdicts={2: DIFFERENT, 3: SAME}, words={2: category}, steward="王管理员")
    applied = apply_review(warehouse, path)
    assert (applied.decisions, applied.same, applied.different, applied.mappings) == (2, 1, 1, 1)
    assert applied.steward == "王管理员" and not applied.problems
    with warehouse.engine.connect() as conn:
        decisions = pd.read_sql_table("steward_decisions", conn)
        mappings = pd.read_sql_table("category_mappings", conn)
    assert set(decisions["steward"]) == {"王管理员"} and decisions["decided_at"].notna().all()
    assert decisions.set_index("left_record_id")["same"].to_dict() == {"G1": False, "G2": True}
    assert mappings[["word", "category", "steward"]].values.tolist() == [[NOVEL_WORD, category, "王管理员"]]
    assert mappings["decided_at"].notna().all() and REVIEW_BOOK in mappings["origin"].iloc[0]
    again = apply_review(warehouse, path)
    assert (again.decisions, again.mappings, again.unchanged) == (0, 0, 3)


def test_rows_that_cannot_be_honoured_are_named_and_the_rest_taken(warehouse: Warehouse, tmp_path: Path) -> None:
    pairs = review_pairs()
    pairs.loc[1, "right_record_id"] = "C404"
    pairs.loc[2] = ["grid", "G1", "grid", "G1", 0.5, False, ""]
    path = write_review_workbook(tmp_path / REVIEW_BOOK, pairs, review_words(), residents())
    choose(path, verdicts={2: SAME, 3: SAME, 4: SAME}, words={2: "不是分类"})
    applied = apply_review(warehouse, path, steward="李")
    assert applied.decisions == 1 and applied.mappings == 0
    problems = "\n".join(applied.problems)
    assert "civil:C404" in problems and "paired with itself" in problems and "不是分类" in problems


def test_the_steward_inbox_applies_a_workbook_once_and_sets_aside_what_it_cannot_read(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    inbox = tmp_path / "steward-inbox"
    inbox.mkdir()
    path = write_review_workbook(inbox / REVIEW_BOOK, review_pairs(), review_words(), residents())
    choose(path, verdicts={2: SAME}, words={})
    (inbox / "notes.xlsx").write_bytes(b"not a workbook")
    done = dict(import_steward_inbox(warehouse, inbox))
    assert done[REVIEW_BOOK].decisions == 1  # type: ignore[union-attr]
    assert "cannot be read" in str(done["notes.xlsx"])
    assert not [p for p in inbox.iterdir() if p.is_file()]
    assert len(list((inbox / "imported").iterdir())) == 1
    assert any(p.name.endswith(".reason.txt") for p in (inbox / "rejected").iterdir())
    assert import_steward_inbox(warehouse, inbox) == []


def test_a_mapped_word_is_known_to_the_category_mapping() -> None:
    assert map_category(NOVEL_WORD) == (None, False)
    category = load_table().categories[0]
    assert use_steward_words({NOVEL_WORD: category, "别的词": "不是分类"}) == {NOVEL_WORD: category}
    assert map_category(NOVEL_WORD) == (category, True)
    assert unknown_categories([NOVEL_WORD]).empty


def test_review_import_command_reports_what_it_recorded(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", str(warehouse.engine.url))
    path = write_review_workbook(tmp_path / REVIEW_BOOK, review_pairs(), review_words(), residents())
    choose(path, verdicts={2: SAME}, words={})
    assert main(["review", "import", str(path), "--steward", "赵"]) == 0
    assert "1 decision(s) recorded (1 same, 0 different)" in capsys.readouterr().out
    assert warehouse.decisions()["same"].tolist() == [True]


def test_the_round_trip_takes_effect_in_the_next_run(
    bench_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Day 1 exports the pairs and an unknown word; the steward flips the first pair's outcome and maps
    the word, drops the workbook into the steward inbox; day 2 honours both."""
    data = tmp_path / "data"
    shutil.copytree(bench_small, data)
    events = pd.read_csv(data / "resident_events.csv", dtype=str, keep_default_na=False)
    reworded = events["category"] == events["category"].iloc[0]
    events.loc[reworded, "category"] = NOVEL_WORD
    events.to_csv(data / "resident_events.csv", index=False)
    home = tmp_path / ".hub"
    monkeypatch.setenv("HUB_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{home / 'warehouse.sqlite'}")

    assert run_demo(data=data, people=0, seed=0, out=tmp_path / "day1") == 0
    printed = capsys.readouterr()
    assert "[1] raw_" in printed.err and "std_residents:" in printed.err and " rows (" in printed.err
    assert "received  accepted  quarantined" in printed.out and "{'" not in printed.out
    assert "rosters/" in printed.out and REVIEW_BOOK in printed.out and "steward-inbox" in printed.out
    summary = json.loads((tmp_path / "day1" / "summary.json").read_text(encoding="utf-8"))
    assert summary["review"]["pairs"] > 0 and summary["review"]["words"] >= 1

    book_path = tmp_path / "day1" / REVIEW_BOOK
    pairs = pd.read_excel(book_path, sheet_name=PAIRS_SHEET, dtype=str)
    words = pd.read_excel(book_path, sheet_name=WORDS_SHEET, dtype=str)
    first = pairs.iloc[0]
    merged = first["本次结果"] == "已合并为一人"
    word_row = int(words.index[words["居民用词"] == NOVEL_WORD][0]) + 2
    category = load_table().categories[0]
    choose(book_path, verdicts={2: DIFFERENT if merged else SAME}, words={word_row: category}, steward="周")
    (home / "steward-inbox").mkdir(parents=True)
    shutil.copy(book_path, home / "steward-inbox" / REVIEW_BOOK)

    assert run_demo(data=data, people=0, seed=0, out=tmp_path / "day2") == 0
    assert "1 decision(s) recorded" in capsys.readouterr().out
    lineage = pd.read_csv(tmp_path / "day2" / "lineage_residents.csv", dtype=str)
    person = dict(zip(lineage["source"] + ":" + lineage["record_id"], lineage["person_id"], strict=True))
    assert (person[first["记录A"]] == person[first["记录B"]]) is (not merged)
    store = Warehouse.from_url(f"sqlite:///{home / 'warehouse.sqlite'}")
    events_now = store.read_table("std_events")
    mapped = events_now[events_now["category_raw"] == NOVEL_WORD]
    assert len(mapped) and (mapped["category"] == category).all()
    assert NOVEL_WORD not in set(store.read_table("unknown_categories")["category_raw"])
    runs = dg.DagsterInstance.get().get_runs(filters=dg.RunsFilter(tags={REPOSITORY_TAG: CODE_LOCATION}))
    assert len(runs) == 2 and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
