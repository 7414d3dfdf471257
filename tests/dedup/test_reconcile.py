"""Reconciling per-district clusters city-wide: joined over shared identifiers, never across two IDs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dedup import RESIDENT_FIELDS, link
from dedup.presets import RESIDENT_VALIDITY
from dedup.reconcile import cross_partition_pairs, reconcile

KEYS = ["id_no", "phone", ["name_key", "birth"]]


@pytest.fixture
def residents(bench_small_residents: pd.DataFrame) -> pd.DataFrame:
    return bench_small_residents


def test_pairs_are_formed_only_within_a_shared_value_and_across_partitions() -> None:
    codes = np.array([7, 7, 7, 3, 3, -1, -1])
    partitions = np.array([0, 0, 1, 0, 0, 0, 1])
    left, right = cross_partition_pairs(codes, partitions, np.arange(7), max_block=10)
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 2), (1, 2)]
    left, _ = cross_partition_pairs(codes, partitions, np.arange(7), max_block=2)
    assert len(left) == 0, "a value held by more records than a block may hold is skipped"


def test_a_person_split_across_two_districts_is_joined_and_a_household_is_not(residents: pd.DataFrame) -> None:
    city = link(residents, RESIDENT_FIELDS, validity=RESIDENT_VALIDITY)
    labels = city.clusters["cluster_id"].to_numpy(dtype=object)
    sizes = pd.Series(labels).value_counts()
    person = sizes.index[sizes >= 2][0]
    members = np.flatnonzero(labels == person)
    partitions = np.array(["A"] * len(residents), dtype=object)
    split = labels.copy()
    partitions[members[1:]] = "B"
    split[members[1:]] = "B:" + str(person)  # the district step saw the person's other records alone

    ids = residents["id_no"].fillna("")
    with_ids = np.flatnonzero(residents["id_valid"].astype(bool).to_numpy() & (ids != "").to_numpy())
    others = [int(i) for i in with_ids if labels[i] != person]
    first = others[0]
    second = next(i for i in others if labels[i] != labels[first] and ids.iloc[i] != ids.iloc[first])
    households = residents.copy()
    households.loc[second, "phone"] = households.loc[first, "phone"] = "13900000001"
    partitions[second] = "C"
    outcome = reconcile(
        households, RESIDENT_FIELDS, partitions, split, city.model, identifiers=KEYS, validity=RESIDENT_VALIDITY
    )
    assert len(set(outcome.clusters[members])) == 1, "the person's records in two districts are one person again"
    assert outcome.clusters[first] != outcome.clusters[second], "a shared phone does not join two ID numbers"
    assert outcome.joined >= 1 and 0 < outcome.boundary_records < len(residents)
