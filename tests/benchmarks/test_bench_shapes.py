"""bench_shapes: every shape generates, links and scores; Splink's plan follows the field kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_shapes
from benchmarks.bench_linkage import FIELDS, splink_plan


@pytest.mark.parametrize("shape", sorted(bench_shapes.SHAPES))
def test_each_shape_is_linked_and_scored(shape: str, tmp_path: Path) -> None:
    rows = bench_shapes.bench(shape, 120, 1, with_splink=False, keep=tmp_path)
    assert len(rows) == 1
    name, records, people, engine, precision, recall, f1, _, *check = rows[0].split()
    assert (name, engine) == (shape, "hub-link")
    assert check == ["passed"] or check[1] == "warning(s)"
    assert int(records) >= int(people) > 100
    assert all(0.0 <= float(value) <= 1.0 for value in (precision, recall, f1))
    assert (tmp_path / shape / "clusters.csv").is_file()


def test_splink_plan_keeps_the_shared_bench_rules_and_adapts_to_other_kinds() -> None:
    assert splink_plan(FIELDS)["blocking"] == [
        ["id_no"],
        ["name", "birth"],
        ["name", "phone"],
        ["name", "address"],
        ["birth", "phone"],
        ["birth", "address"],
    ]
    census = splink_plan({"first_name": "name", "last_name": "name", "birth": "date", "ssn": "identifier"})
    assert census["blocking"] == [["ssn"], ["first_name", "last_name", "birth"]]
    assert census["em"] == [["birth"], ["ssn"]]
    no_ids = splink_plan({"name": "name", "birth": "date", "phone": "phone"})
    assert no_ids["em"] == [["birth"], ["name"]]
