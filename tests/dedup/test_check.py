"""The model check: fires on household-shaped weights and clusters, stays quiet on a sound model."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from dedup import link
from dedup.check import check_clusters, check_model, check_weights
from tests.dedup.households import FIELDS, household_records


@pytest.fixture(scope="module")
def linked() -> tuple[pd.DataFrame, object]:
    records = household_records(200, seed=5)
    return records, link(records, FIELDS)


def test_a_sound_model_passes(linked: tuple[pd.DataFrame, object]) -> None:
    _, result = linked
    assert result.check() == []  # type: ignore[attr-defined]


def test_households_chained_into_clusters_fire_the_check(linked: tuple[pd.DataFrame, object]) -> None:
    records, result = linked
    households = records["truth"].str.split("p").str[0].to_numpy()
    warnings = check_clusters(result.prepared, households)  # type: ignore[attr-defined]
    assert {w.field for w in warnings if w.code == "household_clusters"} >= {"first_name", "dob"}
    persons = records["truth"].to_numpy()
    assert check_clusters(result.prepared, persons) == []  # type: ignore[attr-defined]


def test_weights_of_a_household_model_fire_the_check(linked: tuple[pd.DataFrame, object]) -> None:
    _, result = linked
    model = copy.deepcopy(result.model)  # type: ignore[attr-defined]
    names = {f.name: f for f in model.fields}
    names["first_name"].m = names["first_name"].m[::-1].copy()  # agreement on the given name weighs against
    ssn = names["ssn"]
    ssn.m = ssn.u * np.r_[np.full(len(ssn.u) - 1, 2.0), 0.9]  # a different SSN barely counts
    ssn.m = ssn.m / ssn.m.sum()
    codes = {(w.code, w.field) for w in check_weights(model, result.prepared)}  # type: ignore[attr-defined]
    assert ("agreement_against", "first_name") in codes
    assert ("not_monotone", "first_name") in codes
    assert ("identifier_disagreement_weak", "ssn") in codes
    labels = result.clusters["cluster_id"].to_numpy()  # type: ignore[attr-defined]
    assert check_model(model, result.prepared, labels)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("chain", "fires"), [(True, True), (False, False)])
def test_households_chained_on_purpose_fire_the_check(tmp_path, chain: bool, fires: bool) -> None:  # type: ignore[no-untyped-def]
    """The census generator's chained households (large families, few distinguishing fields): the
    model's expected matches fall between clusters, and the check says so; plain census data passes."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is not an installed package
    from benchmarks.generators import census
    from pipelines.link_command import load_link_config, source_records

    made = census.generate(1500, 2, tmp_path, "us", chain_households=chain)
    config = load_link_config(made.config)
    fields = {str(k): str(v) for k, v in config["fields"].items()}
    records = pd.concat(
        [source_records(n, s, made.config.parent, fields) for n, s in config["sources"].items()], ignore_index=True
    )
    codes = {w.code for w in link(records, fields).check()}
    assert ("contested_matches" in codes) is fires
    if not fires:
        assert codes == set()
