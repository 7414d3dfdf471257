"""Steward decisions (same / not the same) that every run of the engine honours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from stdnum.cn import ric

from dedup import DECISION_COLUMNS, link
from dedup.cluster import Constraints, cluster
from hub_errors import ConfigError

FIELDS = {"name": "name", "id_no": "cn_id", "birth": "date", "phone": "phone", "address": "address"}
_FIRST = ["Anna", "Bruno", "Clara", "David", "Elena", "Felix", "Greta", "Hugo", "Irene", "Jonas", "Karla", "Luca"]
_LAST = ["Berg", "Costa", "Dahl", "Engel", "Fontaine", "Gross", "Holm", "Ivanov", "Jansen", "Keller", "Lund"]


def _valid_id(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def _people(count: int = 120) -> list[dict[str, str]]:
    """Each person once in 'roll' and once in 'clinic' (clinic often without phone or ID)."""
    rows = []
    for person in range(count):
        birth = f"19{50 + person % 45}-{1 + person % 12:02d}-{1 + person % 28:02d}"
        base = {
            "name": f"{_FIRST[person % len(_FIRST)]} {_LAST[(person * 5) % len(_LAST)]}",
            "id_no": _valid_id(f"110105{birth.replace('-', '')}{person % 900 + 100:03d}"),
            "birth": birth,
            "phone": f"+86 139 {person:08d}",
            "address": f"{person + 3} Harbour Road, Flat {person % 40 + 1}",
        }
        rows.append({"source": "roll", "record_id": f"r{person}", **base})
        clinic = dict(base, phone="" if person % 3 else base["phone"], id_no="" if person % 4 == 0 else base["id_no"])
        rows.append({"source": "clinic", "record_id": f"c{person}", **clinic})
    return rows


TWIN_HOME = {"birth": "1991-03-04", "phone": "13800000077", "address": "9 Mill Lane, Flat 2"}
TWINS = [
    {"source": "roll", "record_id": "t1", "name": "Mira Novak", "id_no": _valid_id("11010519910304021"), **TWIN_HOME},
    {"source": "clinic", "record_id": "t2", "name": "Mara Novak", "id_no": _valid_id("11010519910304023"), **TWIN_HOME},
    {"source": "aid", "record_id": "t3", "name": "Mira Novak", "id_no": _valid_id("11010519910304021"), **TWIN_HOME},
]


def _records(extra: list[dict[str, str]] | None = None) -> pd.DataFrame:
    return pd.DataFrame(_people() + (extra or []))


def _decisions(*rows: tuple[str, str, str, str, bool | str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=DECISION_COLUMNS)


def _cluster_of(clusters: pd.DataFrame) -> pd.Series:
    return clusters.set_index(["source", "record_id"])["cluster_id"]


def test_twins_kept_apart_by_the_engine_but_declared_same_are_merged() -> None:
    records = _records(TWINS)
    apart = _cluster_of(link(records, FIELDS).clusters)
    assert apart["roll", "t1"] == apart["aid", "t3"] != apart["clinic", "t2"]
    declared = _decisions(("roll", "t1", "clinic", "t2", True))
    joined = _cluster_of(link(records, FIELDS, decisions=declared).clusters)
    assert joined["roll", "t1"] == joined["clinic", "t2"] == joined["aid", "t3"]


def test_declared_same_joins_records_that_were_never_candidates() -> None:
    stranger = {
        "source": "aid",
        "record_id": "x1",
        "name": "Zeno Quist",
        "id_no": "",
        "birth": "1920-01-01",
        "phone": "",
        "address": "1 Far Away",
    }
    records = _records([stranger])
    result = link(records, FIELDS, decisions=_decisions(("aid", "x1", "roll", "r7", "true")))
    ids = _cluster_of(result.clusters)
    assert ids["aid", "x1"] == ids["roll", "r7"] == ids["clinic", "c7"]


def test_declared_different_splits_a_merged_pair_and_no_chain_rejoins_it() -> None:
    third = {
        **{k: v for k, v in _people()[10].items() if k not in ("source", "record_id")},
        "source": "aid",
        "record_id": "a5",
    }
    records = _records([third])
    merged = _cluster_of(link(records, FIELDS).clusters)
    assert merged["roll", "r5"] == merged["clinic", "c5"] == merged["aid", "a5"]
    result = link(records, FIELDS, decisions=_decisions(("roll", "r5", "clinic", "c5", False)))
    ids = _cluster_of(result.clusters)
    assert ids["roll", "r5"] != ids["clinic", "c5"]
    assert ids["aid", "a5"] in {ids["roll", "r5"], ids["clinic", "c5"]}
    assert result.unhonoured_decisions.empty and result.ignored_decisions == 0


def test_cannot_link_holds_against_a_chain_of_strong_pairs() -> None:
    left, right = np.array([0, 1, 2]), np.array([1, 2, 3])
    weight = np.array([20.0, 20.0, 20.0])
    labels = cluster(4, left, right, weight, Constraints([], cannot_link=np.array([[0, 3]])))
    assert labels[0] != labels[3]
    assert len(set(labels.tolist())) == 2


def test_decision_on_an_absent_record_is_ignored_and_counted() -> None:
    records = _records()
    plain = link(records, FIELDS)
    decided = link(records, FIELDS, decisions=_decisions(("roll", "r1", "roll", "gone", False)))
    assert decided.ignored_decisions == 1
    assert decided.clusters.equals(plain.clusters)


def test_contradictory_decisions_are_reported_not_crashed_on() -> None:
    records = _records()
    decisions = _decisions(
        ("roll", "r1", "roll", "r2", True),
        ("roll", "r2", "roll", "r3", True),
        ("roll", "r1", "roll", "r3", False),
        ("roll", "r4", "roll", "r4", False),
    )
    result = link(records, FIELDS, decisions=decisions)
    ids = _cluster_of(result.clusters)
    assert ids["roll", "r1"] == ids["roll", "r2"] == ids["roll", "r3"]
    report = result.unhonoured_decisions
    assert sorted(zip(report["left_record_id"], report["right_record_id"], strict=True)) == [("r1", "r3"), ("r4", "r4")]
    assert report["reason"].str.len().gt(0).all()


def test_decisions_do_not_change_what_the_model_learns() -> None:
    records = _records(TWINS)
    plain = link(records, FIELDS)
    decided = link(
        records,
        FIELDS,
        decisions=_decisions(("roll", "t1", "clinic", "t2", True), ("roll", "r1", "clinic", "c1", False)),
    )
    assert decided.model.prior_weight == plain.model.prior_weight
    assert decided.pairs.equals(plain.pairs)


def test_unreadable_verdict_names_the_row() -> None:
    with pytest.raises(ConfigError, match="row 2"):
        link(
            _records(),
            FIELDS,
            decisions=_decisions(("roll", "r1", "roll", "r2", "yes"), ("roll", "r1", "roll", "r3", "maybe")),
        )
