"""Golden records kept between runs: only the persons whose records changed are rebuilt, and the
result is what a rebuild of every person gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dedup.golden import build_golden
from pipelines.golden_state import DIGEST_TABLE, GOLDEN_TABLE, update_golden
from pipelines.warehouse import Warehouse

RULES = {"authority": {"name": ["civil"]}, "recency": "updated_at", "prefer": {"phone": "latest"}}


def records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["grid", "health", "civil", "grid", "health", "grid"],
            "record_id": ["g1", "h1", "c1", "g2", "h2", "g3"],
            "name": ["张伟", "张伟", "张 伟", "李娜", "李娜", "王芳"],
            "id_no": ["", "350602199001010214", "350602199001010214", "", "", ""],
            "phone": ["13900000001", "13900000002", "13900000002", "", "13700000000", "13600000000"],
            "address": ["新华路1号", "新华路1号1栋", "", "胜利路2号", "胜利路2号", "东街3号"],
            "updated_at": ["2024-05-01", "2023-01-01", "2022-01-01", "2024-01-01", "2024-02-01", "2024-03-01"],
            "attributes": ['{"residence_status": "户在人在"}', '{"chronic": "高血压"}', '{"aid_type": "低保"}']
            + [""] * 3,
        }
    )


def lineage(persons: list[str], frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"source": frame["source"], "record_id": frame["record_id"], "person_id": persons})


def rebuilt_from_scratch(frame: pd.DataFrame, members: pd.DataFrame, rules: dict = RULES) -> pd.DataFrame:
    return build_golden(frame, members.rename(columns={"person_id": "cluster_id"}), rules)


def stored(store: Warehouse) -> pd.DataFrame:
    return store.read_table(GOLDEN_TABLE).sort_values("person_id").reset_index(drop=True)


def same(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    text = [f.astype(object).where(f.notna(), None).astype(str).reset_index(drop=True) for f in (left, right)]
    return text[0].equals(text[1])


def test_a_day_rebuilds_only_the_changed_persons_and_equals_a_full_rebuild(tmp_path: Path) -> None:
    store = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    day1 = records()
    first = update_golden(store, day1, lineage(["A", "A", "A", "B", "B", "C"], day1), RULES, "run1", full=False)
    assert first.full and sorted(first.rebuilt) == ["A", "B", "C"]

    day2 = day1.copy()
    day2.loc[1, "phone"] = "13911111111"  # A: an edited record (a newer phone)
    day2.loc[1, "updated_at"] = "2024-06-01"
    day2 = day2[day2["record_id"] != "h2"]  # B: loses a record
    day2 = pd.concat([day2, day1[day1["record_id"] == "g3"].assign(record_id="g4")], ignore_index=True)  # D: new
    members = lineage(["A", "A", "A", "B", "C", "D"], day2)
    second = update_golden(store, day2, members, RULES, "run2", full=False)
    assert not second.full
    assert sorted(second.rebuilt) == ["A", "B", "D"], "C's records did not change"
    assert second.dropped == []
    expected = rebuilt_from_scratch(day2, members)
    assert same(stored(store), expected)
    assert same(second.golden, expected[expected["person_id"].isin(["A", "B", "D"])]), "the rebuilt ones"
    assert second.persons == 4
    assert stored(store).loc[0, "phone"] == "13911111111"

    merged = lineage(["A", "A", "A", "B", "B", "D"], day2)  # C's record joins B: C is gone
    third = update_golden(store, day2, merged, RULES, "run3", full=False)
    assert sorted(third.rebuilt) == ["B"] and third.dropped == ["C"]
    assert same(stored(store), rebuilt_from_scratch(day2, merged))
    assert len(store.read_table(DIGEST_TABLE)) == 3


def test_changed_rules_or_a_full_run_rebuild_every_person(tmp_path: Path) -> None:
    store = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    frame = records()
    members = lineage(["A", "A", "A", "B", "B", "C"], frame)
    update_golden(store, frame, members, RULES, "run1", full=False)
    assert update_golden(store, frame, members, RULES, "run2", full=False).rebuilt == []
    other = {**RULES, "authority": {"name": ["grid"]}}
    assert sorted(update_golden(store, frame, members, other, "run3", full=False).rebuilt) == ["A", "B", "C"]
    again = update_golden(store, frame, members, other, "run4", full=True)
    assert again.full and same(stored(store), rebuilt_from_scratch(frame, members, other))
