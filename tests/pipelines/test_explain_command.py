"""`hub explain`: a steward sees why two records are one person, with personal numbers masked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hub_errors import HubError
from pipelines.explain_command import explain_pair, explanation_lines, shown_value
from pipelines.metadata import mask_text
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
    assert "************" in id_line or "—" in id_line
    assert all(mask_text(line) == line for line in lines), "nothing left that looks like a personal number"
    raw = pd.read_csv(bench_small / "grid_residents.csv", dtype=str, keep_default_na=False).set_index("记录编号")
    for record in (first, second):
        for value in raw.loc[record, ["公民身份号码", "联系电话"]]:
            assert len(value) < 7 or value not in "\n".join(lines)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0595-25491170", "****-****1170"),
        ("＋86 139 1234 5678", "＋** *** **** 5678"),
        ("0086-13912345678", "0086-13*********"),
        ("35062719850101002X", "350627************"),
        (None, "—"),
    ],
)
def test_shown_values_mask_every_form_of_a_personal_number(value: str | None, shown: str) -> None:
    assert shown_value(value) == shown


def test_an_unknown_record_is_named_in_the_error(warehouse: Warehouse) -> None:
    with pytest.raises(HubError, match="grid:NOPE"):
        explain_pair(warehouse, ("grid", "G00000001"), ("grid", "NOPE"))
