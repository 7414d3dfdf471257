"""`hub explain`: a steward sees why two records are one person, with personal numbers masked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hub_errors import HubError
from pipelines.explain_command import explain_pair, explanation_lines
from pipelines.warehouse import Warehouse
from schemas.standardize import standardize


@pytest.fixture(scope="module")
def warehouse(bench_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    store = Warehouse.from_url(f"sqlite:///{tmp_path_factory.mktemp('explain') / 'w.sqlite'}")
    raw = pd.read_csv(bench_small / "grid_residents.csv", dtype=str, keep_default_na=False)
    store.write_table("std_residents", standardize("residents", "grid", raw).accepted, run_id="r1")
    return store


def test_a_pair_is_explained_field_by_field_with_ids_masked(warehouse: Warehouse, bench_small: Path) -> None:
    truth = pd.read_csv(bench_small / "truth_residents.csv", dtype=str)
    grid = truth[truth["source"] == "grid"]
    person = grid.groupby("person_id")["record_id"].agg(list)
    first, second = next(ids for ids in person if len(ids) >= 2)[:2]
    why = explain_pair(warehouse, ("grid", first), ("grid", second))
    lines = explanation_lines(("grid", first), ("grid", second), why)
    assert why.same_cluster and "the same person" in lines[0]
    assert {"name_key", "id_no", "birth", "phone", "address_canonical"} <= set(why.fields["field"])
    id_line = next(line for line in lines if line.strip().startswith("id_no"))
    assert "********" in id_line or "—" in id_line


def test_an_unknown_record_is_named_in_the_error(warehouse: Warehouse) -> None:
    with pytest.raises(HubError, match="grid:NOPE"):
        explain_pair(warehouse, ("grid", "G00000001"), ("grid", "NOPE"))
