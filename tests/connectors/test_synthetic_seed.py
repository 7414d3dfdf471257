"""write_synthetic: the bench layout, valid IDs, entry slips, duplicates, determinism."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from stdnum.cn import ric

from connectors.simulated.seed import write_synthetic

FILES = ["grid_residents", "health_records", "civil_affairs", "grid_events", "resident_events"]


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic(out, people=1500, seed=4)
    return out


@pytest.mark.parametrize("name", FILES)
def test_same_columns_as_the_bench_layout(synthetic: Path, bench_small: Path, name: str) -> None:
    columns, rows = read(synthetic / f"{name}.csv")
    assert columns == read(bench_small / f"{name}.csv")[0]
    assert rows


def test_truth_covers_every_record_and_people_recur_across_departments(synthetic: Path) -> None:
    _, truth = read(synthetic / "truth_residents.csv")
    ids = {source: {row[key] for row in read(synthetic / f"{name}.csv")[1]}
           for source, name, key in [("grid", "grid_residents", "记录编号"),
                                     ("health", "health_records", "record_id"),
                                     ("civil", "civil_affairs", "编号")]}
    assert {(row["source"], row["record_id"]) for row in truth} == {
        (source, record_id) for source, records in ids.items() for record_id in records
    }
    per_person = Counter(row["person_id"] for row in truth)
    assert sum(1 for count in per_person.values() if count >= 2) > len(per_person) / 2
    _, event_truth = read(synthetic / "truth_events.csv")
    per_incident = Counter(row["incident_id"] for row in event_truth)
    assert any(count >= 3 for count in per_incident.values())


def test_ids_mostly_valid_with_realistic_slips(synthetic: Path) -> None:
    _, grid = read(synthetic / "grid_residents.csv")
    values = [row["公民身份号码"] for row in grid]
    valid = [
        value
        for value in values
        if len(value) == 18 and value[:17].isdigit() and ric.calc_check_digit(value) == value[-1].upper()
    ]
    assert 0.75 < len(valid) / len(values) < 0.97
    assert any(value == "" for value in values)
    assert any(len(value) == 15 for value in values)
    assert any(any("０" <= char <= "９" for char in value) for value in values)
    assert any(" " in row["姓名"].strip() for row in grid)
    addresses = " ".join(row["现住址"] for row in grid)
    assert all(marker in addresses for marker in ["栋", "幢", "号楼", "室"])


def test_same_seed_same_files(tmp_path: Path) -> None:
    first = write_synthetic(tmp_path / "a", people=200, seed=9)
    second = write_synthetic(tmp_path / "b", people=200, seed=9)
    assert first == second
    for name in FILES:
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == (tmp_path / "b" / f"{name}.csv").read_bytes()
    write_synthetic(tmp_path / "c", people=200, seed=10)
    other = (tmp_path / "c" / "grid_residents.csv").read_bytes()
    assert other != (tmp_path / "a" / "grid_residents.csv").read_bytes()
