"""Estimation that cannot learn households: census-style data where families dominate the candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dedup import link, pairwise_scores
from dedup.model import PRIOR_M, U_PRIOR_EQUAL, monotone, teaching_columns, train, training_sessions
from dedup.prepare import KINDS, prepare
from tests.dedup.households import FIELDS, household_records


@pytest.fixture(scope="module")
def households() -> tuple[pd.DataFrame, object]:
    records = household_records(250, seed=1)
    return records, link(records, FIELDS)


def test_families_sharing_surname_address_and_phone_are_not_merged(households: tuple[pd.DataFrame, object]) -> None:
    records, result = households
    score = pairwise_scores(records[["source", "record_id", "truth"]], result.clusters)  # type: ignore[attr-defined]
    assert score.precision >= 0.99 and score.recall >= 0.99
    assert result.check() == []  # type: ignore[attr-defined]


def test_learned_weights_are_about_persons(households: tuple[pd.DataFrame, object]) -> None:
    _, result = households
    weights = {f.name: f.weights for f in result.model.fields}  # type: ignore[attr-defined]
    assert weights["first_name"][0] > 3  # agreeing on the given name is evidence for, not against
    assert weights["ssn"][-1] < -5  # a different SSN is strong evidence against
    assert weights["dob"][-1] < -5
    for levels in weights.values():
        assert (np.diff(levels) <= 1e-9).all()  # monotone: better agreement never weighs less


def test_twins_sharing_address_phone_and_birth_date_stay_apart() -> None:
    """Sharing a flat, a phone and a birthday must not outweigh different given names."""
    records = household_records(250, seed=3)
    result = link(records, FIELDS)
    people = records.assign(cluster=result.clusters["cluster_id"].to_numpy())
    people = people.drop_duplicates("truth").assign(household=lambda f: f["truth"].str.split("p").str[0])
    twins = people[people.duplicated(["household", "dob"], keep=False) & (people["dob"] != "")]
    assert len(twins) >= 10
    assert not twins.duplicated("cluster").any()


def test_training_blockings_leave_the_learned_field_free() -> None:
    prepared = prepare(household_records(20, seed=2), FIELDS)
    person, fallback = training_sessions(prepared)
    names = {f.name: c for c, f in enumerate(prepared)}
    blocked = [set(s.blocked) for s in person]
    assert {names["first_name"], names["last_name"]} in blocked  # full name together, never the surname alone
    assert {names["dob"]} in blocked and {names["ssn"]} in blocked
    assert all(names["phone"] not in b and names["address"] not in b for b in blocked)
    assert {s.label for s in fallback} == {"phone", "address"}


def test_training_is_the_same_whatever_the_row_order() -> None:
    records = household_records(80, seed=4)
    first = link(records, FIELDS).model
    second = link(records.sample(frac=1.0, random_state=1), FIELDS).model
    for a, b in zip(first.fields, second.fields, strict=True):
        assert np.allclose(a.weights, b.weights)
    assert first.match_share == pytest.approx(second.match_share)


def test_monotone_pools_violators_and_keeps_total() -> None:
    u = np.array([0.01, 0.09, 0.9])
    m = np.array([0.2, 0.7, 0.1])  # weight of level 1 above level 0
    fixed = monotone(m, u)
    ratios = fixed / u
    assert abs(fixed.sum() - 1) < 1e-12
    assert ratios[0] >= ratios[1] >= ratios[2]


def test_every_kind_has_levels_a_prior_and_a_normalizer() -> None:
    from dedup.compare import _LEVELS_OF_DIFFERENT, LEVEL_LABELS

    for kind in KINDS:
        assert len(PRIOR_M[kind]) == len(LEVEL_LABELS[kind])
        assert 0 < U_PRIOR_EQUAL[kind] < 1
        assert kind in _LEVELS_OF_DIFFERENT


def test_too_little_data_falls_back_to_the_priors_of_the_kinds() -> None:
    records = pd.DataFrame({"name": ["Anna Berg", "Erik Lund"], "born": ["1980-01-01", "1990-02-02"]})
    prepared = prepare(records, {"name": "name", "born": "date"})
    model = train(prepared)
    for weights in model.fields:
        assert weights.learned_from == ()
        assert weights.weights[0] > 0 > weights.weights[-1]
        assert (np.diff(weights.weights) <= 1e-9).all()


def test_a_field_without_values_teaches_nothing_and_sex_judges_in_its_place() -> None:
    kinds = ["cn_id", "date", "exact", "phone"]  # the fields a blocking on the name teaches
    assert teaching_columns(kinds) == [0, 1]
    assert teaching_columns(kinds, np.array([False, True, True, True])) == [1, 2]


def test_event_tables_train_on_their_own_blockings_and_have_no_households() -> None:
    """Reports of one event share their address by nature: an address there is the event's place,
    not a household, and the place and the category (in any words) on one day make the blockings."""
    rng = np.random.default_rng(5)
    rows = []
    for event in range(120):
        flat = f"建元路{rng.integers(1, 60)}号{rng.integers(1, 20)}栋{rng.integers(1, 6)}单元{rng.integers(1, 30)}01室"
        category = ("违章搭建", "噪声扰民", "道路破损")[event % 3]
        for report in range(2):
            rows.append(
                {
                    "source": "grid" if report == 0 else "resident",
                    "record_id": f"{event}-{report}",
                    "at": f"2026-04-{1 + event % 28:02d} {8 + report:02d}:{event % 60:02d}",
                    "category": category,
                    "where": flat if report == 0 else flat.replace("栋", "幢"),
                }
            )
    fields = {"at": "datetime", "category": "category", "where": "address"}
    prepared = prepare(pd.DataFrame(rows), fields)
    person, _ = training_sessions(prepared)
    assert sorted(s.label for s in person) == ["category+at day", "where", "where (flat)"]
    model = train(prepared)
    assert model.household_columns == ()
    assert all(f.u_household is None for f in model.fields)
