"""Incremental linking: a day's changes re-link only the persons they touch, as a full run would."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dedup import carry_forward, link, pairwise_scores
from dedup.incremental import (
    derive_delta,
    fingerprints,
    link_incremental,
    model_from_json,
    model_to_json,
)
from dedup.model import Model
from pipelines.link_command import load_link_config, source_records

FIELDS = {"name": "name", "id_no": "cn_id", "birth": "date", "gender": "exact", "phone": "phone", "address": "address"}
REPO = Path(__file__).resolve().parents[2]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def _id_with_check(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _person(number: int) -> dict[str, str]:
    surname = _SURNAMES[number % len(_SURNAMES)]
    given = _GIVEN[(number * 7) % len(_GIVEN)] + _GIVEN[(number * 3 + 1) % len(_GIVEN)]
    birth = f"19{40 + number % 50}-{1 + number % 12:02d}-{1 + number % 27:02d}"
    return {
        "name": surname + given,
        "id_no": _id_with_check(f"350602{birth.replace('-', '')}{number % 900 + 100:03d}"),
        "birth": birth,
        "gender": "1" if number % 2 else "2",
        "phone": f"139{number:08d}",
        "address": f"漳州市芗城区胜利路{number + 1}号{number % 9 + 1}栋{number % 5 + 1}单元{number % 30 + 101}室",
    }


def _day1() -> pd.DataFrame:
    """160 people in the grid and health systems, every third also in civil affairs."""
    rows = []
    for number in range(160):
        base = _person(number)
        rows.append({"source": "grid", "record_id": f"g{number}", **base})
        health = dict(base, phone="" if number % 3 else base["phone"], id_no="" if number % 4 == 0 else base["id_no"])
        rows.append({"source": "health", "record_id": f"h{number}", **health})
        if number % 3 == 0:
            rows.append({"source": "civil", "record_id": f"c{number}", **base})
    return pd.DataFrame(rows)


def _run_day1(records: pd.DataFrame, decisions: pd.DataFrame | None = None) -> tuple[pd.DataFrame, Model]:
    result = link(records, FIELDS, decisions=decisions)
    return carry_forward(None, result.clusters).lineage, result.model


def _run_day2(
    day1: pd.DataFrame,
    day2: pd.DataFrame,
    lineage: pd.DataFrame,
    model: Model,
    decisions: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    delta = derive_delta(fingerprints(day2, FIELDS), fingerprints(day1, FIELDS))
    result = link_incremental(day2, FIELDS, lineage, delta, model, decisions=decisions)
    return result.stable.lineage, result.stable.changes, delta


def _ids(lineage: pd.DataFrame) -> pd.Series:
    return lineage.set_index("record_id")["person_id"]


def _edit(records: pd.DataFrame, record_id: str, **values: str) -> pd.DataFrame:
    edited = records.copy()
    row = edited.index[edited["record_id"] == record_id]
    for column, value in values.items():
        edited.loc[row, column] = value
    return edited


def _kept_apart_from(delta_ids: set[str], before: pd.Series, after: pd.Series, persons: set[str]) -> None:
    """Every record outside the changed ones and the given previous persons keeps its person id."""
    untouched = [r for r in before.index if r not in delta_ids and before[r] not in persons and r in after.index]
    assert untouched, "the test must leave records untouched"
    assert (after[untouched] == before[untouched]).all()


def test_an_added_record_joins_its_person_and_nobody_else_moves() -> None:
    day1 = _day1()
    lineage, model = _run_day1(day1)
    added = {"source": "civil", "record_id": "c_new", **_person(5)}
    day2 = pd.concat([day1, pd.DataFrame([added])], ignore_index=True)
    after_lineage, changes, delta = _run_day2(day1, day2, lineage, model)
    before, after = _ids(lineage), _ids(after_lineage)
    assert delta["change"].tolist() == ["added"]
    assert after["c_new"] == before["g5"] == after["g5"] == after["h5"]
    assert (after[before.index] == before).all(), "every earlier record keeps its person id"
    assert changes.empty or set(changes["change"]) <= {"kept"}


def test_an_edited_record_that_now_belongs_elsewhere_splits_off_into_that_person() -> None:
    day1 = _day1()
    lineage, model = _run_day1(day1)
    before = _ids(lineage)
    assert before["g7"] == before["h7"] and before["g9"] == before["c9"]
    other = _person(9)
    day2 = _edit(day1, "h7", **other)
    after_lineage, changes, delta = _run_day2(day1, day2, lineage, model)
    after = _ids(after_lineage)
    assert delta["change"].tolist() == ["edited"]
    assert after["h7"] == after["g9"] == before["g9"], "the edited record joins the person it now describes"
    assert after["g7"] != after["h7"]
    assert after["g7"] == before["g7"], "the person it left keeps its id"
    kept = changes.set_index("person_id")
    assert before["g9"] in kept.index and before["g7"] in str(kept.loc[before["g9"], "from_ids"])
    _kept_apart_from({"h7"}, before, after, {before["g7"], before["g9"]})


MOVED = "漳州市龙文区建元路88号3栋2单元501室"


def _halves_and_bridge(number: int, suffix: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Two records of one person that alone look like two people (one moved house and lacks the ID
    number, the other lacks phone and birth date), and a record that shares enough with each."""
    who = _person(number)
    halves = [
        {"source": "grid", "record_id": f"g{suffix}", **dict(who, id_no="", address=MOVED)},
        {"source": "health", "record_id": f"h{suffix}", **dict(who, phone="", birth="")},
    ]
    return halves, {"source": "civil", "record_id": f"c{suffix}", **who}


def test_new_evidence_merges_two_persons_and_records_the_merge() -> None:
    halves, bridge = _halves_and_bridge(200, "x")
    day1 = pd.concat([_day1(), pd.DataFrame(halves)], ignore_index=True)
    lineage, model = _run_day1(day1)
    before = _ids(lineage)
    assert before["gx"] != before["hx"], "precondition: the two halves look like two people on day 1"
    day2 = pd.concat([day1, pd.DataFrame([bridge])], ignore_index=True)
    after_lineage, changes, _ = _run_day2(day1, day2, lineage, model)
    after = _ids(after_lineage)
    assert after["gx"] == after["hx"] == after["cx"]
    survivor = after["gx"]
    assert survivor in {before["gx"], before["hx"]}
    retired = ({before["gx"], before["hx"]} - {survivor}).pop()
    merged = changes[changes["change"] == "merged"].set_index("person_id")
    assert merged.loc[retired, "into_id"] == survivor
    _kept_apart_from({"cx"}, before, after, {before["gx"], before["hx"]})


def test_a_removed_bridge_splits_the_person_it_held_together() -> None:
    halves, bridge = _halves_and_bridge(201, "y")
    day1 = pd.concat([_day1(), pd.DataFrame([*halves, bridge])], ignore_index=True)
    lineage, model = _run_day1(day1)
    before = _ids(lineage)
    assert before["gy"] == before["hy"] == before["cy"]
    day2 = day1[day1["record_id"] != "cy"]
    after_lineage, changes, delta = _run_day2(day1, day2, lineage, model)
    after = _ids(after_lineage)
    assert delta["change"].tolist() == ["removed"] and "cy" not in after.index
    assert after["gy"] != after["hy"]
    assert before["gy"] in {after["gy"], after["hy"]}, "one part keeps the id"
    assert (changes["change"] == "split").sum() == 1
    _kept_apart_from(set(), before, after, {before["gy"]})


def test_steward_decisions_still_hold_for_the_persons_a_change_touches() -> None:
    day1 = _day1()
    decisions = pd.DataFrame(
        [
            {
                "left_source": "grid",
                "left_record_id": "g30",
                "right_source": "health",
                "right_record_id": "h30",
                "same": False,
            },
            {
                "left_source": "grid",
                "left_record_id": "g40",
                "right_source": "health",
                "right_record_id": "h41",
                "same": True,
            },
        ]
    )
    lineage, model = _run_day1(day1, decisions)
    before = _ids(lineage)
    assert before["g30"] != before["h30"] and before["g40"] == before["h41"]
    day2 = pd.concat(
        [
            _edit(day1, "g40", phone="13700000040"),
            pd.DataFrame([{"source": "civil", "record_id": "c_30", **_person(30)}]),
        ],
        ignore_index=True,
    )
    after = _ids(_run_day2(day1, day2, lineage, model, decisions)[0])
    assert after["g30"] != after["h30"], "'not the same' holds although a new record resembles both"
    assert after["g40"] == after["h41"], "'same' holds for the edited record"
    assert after["c_30"] in {after["g30"], after["h30"]}


def test_the_model_survives_the_warehouse_round_trip() -> None:
    day1 = _day1()
    result = link(day1, FIELDS)
    restored = model_from_json(model_to_json(result.model))
    lineage = carry_forward(None, result.clusters).lineage
    inc = link_incremental(day1, FIELDS, lineage, derive_delta(fingerprints(day1, FIELDS), None), restored)
    for stored, learned in zip(restored.fields, result.model.fields, strict=True):
        assert np.allclose(stored.m, learned.m) and np.allclose(stored.u, learned.u)
    assert pairwise_scores(lineage, inc.stable.lineage).f1 == 1.0, "all records re-linked with the stored model"


def _bench_records(data: Path) -> pd.DataFrame:
    config = REPO / "benchmarks" / "link_bench.yaml"
    copy = data / "link_bench.yaml"
    shutil.copy(config, copy)
    spec = load_link_config(copy)
    return pd.concat([source_records(n, s, data, FIELDS) for n, s in spec["sources"].items()], ignore_index=True)


def _next_day(records: pd.DataFrame, rate: float, seed: int) -> pd.DataFrame:
    """Remove, edit (new phone, or moved house) and add (re-registered people) a share of records."""
    rng = np.random.default_rng(seed)
    count = max(1, int(len(records) * rate))
    picked = rng.choice(len(records), size=3 * count, replace=False)
    removed, edited, copied = picked[:count], picked[count : 2 * count], picked[2 * count :]
    day2 = records.copy()
    for position, row in enumerate(edited.tolist()):
        if position % 2:
            day2.loc[row, "phone"] = f"186{position:08d}"
        else:
            day2.loc[row, "address"] = f"漳州市龙海区海澄镇新港路{position + 1}号"
    again = records.iloc[copied].copy()
    again["source"] = "civil"
    again["record_id"] = [f"NEW{i:05d}" for i in range(len(again))]
    return pd.concat([day2.drop(index=removed), again], ignore_index=True)


def test_incremental_equals_full_linking_on_a_generated_day(bench_small: Path, tmp_path: Path) -> None:
    data = tmp_path / "day1"
    shutil.copytree(bench_small, data)
    day1 = _bench_records(data)
    day2 = _next_day(day1, 0.03, seed=11)
    first = link(day1, FIELDS)
    lineage = carry_forward(None, first.clusters).lineage
    delta = derive_delta(fingerprints(day2, FIELDS), fingerprints(day1, FIELDS))
    full = link(day2, FIELDS)
    with_full_model = link_incremental(day2, FIELDS, lineage, delta, full.model)
    assert pairwise_scores(full.clusters, with_full_model.stable.lineage).f1 == pytest.approx(1.0)
    incremental = link_incremental(day2, FIELDS, lineage, delta, first.model)
    assert pairwise_scores(full.clusters, incremental.stable.lineage).f1 > 0.99
    assert incremental.affected_records < len(day2) / 3
    unchanged = lineage.merge(incremental.stable.lineage, on=["source", "record_id"], suffixes=("", "_after"))
    changed_keys = set(zip(delta["source"], delta["record_id"], strict=True))
    unchanged = unchanged[
        [k not in changed_keys for k in zip(unchanged["source"], unchanged["record_id"], strict=True)]
    ]
    assert (unchanged["person_id"] == unchanged["person_id_after"]).mean() >= 0.999


def test_a_decision_taken_since_the_last_run_is_honoured_without_any_record_changing() -> None:
    day1 = _day1()
    lineage, model = _run_day1(day1)
    before = _ids(lineage)
    assert before["g3"] == before["h3"] == before["c3"]
    apart = pd.DataFrame(
        [
            {
                "left_source": "grid",
                "left_record_id": "g3",
                "right_source": "health",
                "right_record_id": "h3",
                "same": False,
            }
        ]
    )
    after_lineage, changes, delta = _run_day2(day1, day1, lineage, model, apart)
    after = _ids(after_lineage)
    assert delta.empty
    assert after["g3"] != after["h3"]
    assert (changes["change"] == "split").sum() == 1
    _kept_apart_from(set(), before, after, {before["g3"]})


def test_records_the_delta_forgot_are_still_added_and_removed() -> None:
    halves, bridge = _halves_and_bridge(202, "z")
    day1 = pd.concat([_day1(), pd.DataFrame([*halves, bridge])], ignore_index=True)
    lineage, model = _run_day1(day1)
    day2 = pd.concat(
        [day1[day1["record_id"] != "cz"], pd.DataFrame([{"source": "civil", "record_id": "c_5", **_person(5)}])],
        ignore_index=True,
    )
    silent = pd.DataFrame(columns=["source", "record_id", "change"])
    result = link_incremental(day2, FIELDS, lineage, silent, model)
    after = _ids(result.stable.lineage)
    assert "cz" not in after.index and after["gz"] != after["hz"], "the bridge's removal still splits"
    assert after["c_5"] == after["g5"], "the unannounced record still joins its person"
