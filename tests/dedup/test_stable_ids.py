"""Person ids carried from one run to the next: kept, merged, split, new, never reused."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import StableIds, carry_forward
from dedup.ids import id_for_key
from hub_errors import HubError


def _clusters(groups: dict[str, list[str]]) -> pd.DataFrame:
    """Cluster label -> record ids (source 'grid' unless written 'source:id')."""
    rows = []
    for label, members in groups.items():
        for member in members:
            source, _, record_id = member.rpartition(":")
            rows.append({"source": source or "grid", "record_id": record_id, "cluster_id": label})
    return pd.DataFrame(rows)


def _person_of(result: StableIds) -> dict[str, str]:
    return dict(zip(result.lineage["record_id"], result.lineage["person_id"], strict=True))


def _change(result: StableIds, person_id: str) -> dict[str, object]:
    rows = result.changes[result.changes["person_id"] == person_id]
    assert len(rows) == 1, rows
    return dict(rows.iloc[0])


def test_added_records_keep_every_old_persons_id() -> None:
    first = carry_forward(None, _clusters({"k1": ["a1", "a2"], "k2": ["b1"], "k3": ["c1", "c2", "c3"]}))
    assert set(first.changes["change"]) == {"new"}
    grown = _clusters({"x": ["a1", "a2", "a3"], "y": ["b1", "health:b9"], "z": ["c1", "c2", "c3"], "w": ["d1"]})
    second = carry_forward(first.lineage, grown)
    before, after = _person_of(first), _person_of(second)
    assert all(after[record] == person for record, person in before.items())
    assert after["a3"] == before["a1"] and after["b9"] == before["b1"]
    assert after["d1"] not in set(before.values())
    assert _change(second, after["d1"])["change"] == "new"
    assert {_change(second, before[r])["change"] for r in ("a1", "b1", "c1")} == {"kept"}
    assert _change(second, before["a1"])["record_count"] == 3


def test_a_merge_is_recorded_and_the_majority_id_survives() -> None:
    previous = pd.DataFrame(
        {"source": "grid", "record_id": ["a1", "a2", "b1"], "person_id": ["P-anna", "P-anna", "P-bert"]}
    )
    result = carry_forward(previous, _clusters({"one": ["a1", "a2", "b1"]}))
    assert set(result.lineage["person_id"]) == {"P-anna"}
    kept = _change(result, "P-anna")
    assert (kept["change"], kept["from_ids"], kept["record_count"]) == ("kept", "P-bert", 3)
    merged = _change(result, "P-bert")
    assert (merged["change"], merged["into_id"], merged["record_count"], merged["previous_record_count"]) == (
        "merged",
        "P-anna",
        1,
        1,
    )


def test_a_split_is_recorded_and_the_larger_part_keeps_the_id() -> None:
    previous = pd.DataFrame({"source": "grid", "record_id": ["a1", "a2", "a3"], "person_id": "P-anna"})
    result = carry_forward(previous, _clusters({"big": ["a2", "a3"], "small": ["a1"]}))
    person = _person_of(result)
    assert person["a2"] == person["a3"] == "P-anna" != person["a1"]
    split = _change(result, person["a1"])
    assert (split["change"], split["from_ids"], split["record_count"]) == ("split", "P-anna", 1)
    assert _change(result, "P-anna")["previous_record_count"] == 3


def test_a_fresh_id_never_collides_with_a_previous_or_reserved_one() -> None:
    first = carry_forward(None, _clusters({"k": ["a1", "a2", "a3"], "j": ["b1"]}))
    whole = _person_of(first)["a1"]
    assert whole == id_for_key("grid\x1fa1", "P")
    # a1 leaves alone: the plain id of its new cluster is the old person's id, which a2 and a3 keep.
    retired = id_for_key("grid\x1fc1", "P")
    second = carry_forward(first.lineage, _clusters({"k": ["a2", "a3"], "s": ["a1"], "n": ["c1"]}), reserved=[retired])
    person = _person_of(second)
    assert person["a2"] == whole
    assert person["a1"] not in set(_person_of(first).values())
    assert person["c1"] != retired
    assert len(set(person.values())) == 3
    assert _change(second, _person_of(first)["b1"])["change"] == "gone"


def test_the_same_inputs_in_any_row_order_give_the_same_ids() -> None:
    previous = pd.DataFrame(
        {
            "source": ["grid", "grid", "health", "health", "civil", "civil"],
            "record_id": ["1", "2", "1", "2", "1", "2"],
            "person_id": ["P1", "P1", "P2", "P2", "P3", "P4"],
        }
    )
    current = _clusters(
        {"a": ["grid:1", "health:1"], "b": ["grid:2", "health:2"], "c": ["civil:1", "civil:2"], "d": ["civil:9"]}
    )
    expected = carry_forward(previous, current)
    for seed in range(4):
        relabelled = current.assign(cluster_id=current["cluster_id"].map({"a": "d", "b": "c", "c": "b", "d": "a"}))
        shuffled = carry_forward(
            previous.sample(frac=1, random_state=seed), relabelled.sample(frac=1, random_state=seed)
        )
        pd.testing.assert_frame_equal(shuffled.lineage, expected.lineage)
        pd.testing.assert_frame_equal(shuffled.changes, expected.changes)


def test_a_record_listed_twice_is_refused() -> None:
    with pytest.raises(HubError, match=r"'a1'.*twice"):
        carry_forward(None, _clusters({"x": ["a1"], "y": ["a1"]}))


@settings(max_examples=60, deadline=None)
@given(
    before=st.lists(st.integers(0, 5), min_size=0, max_size=12),
    after=st.lists(st.integers(0, 5), min_size=1, max_size=15),
)
def test_every_cluster_gets_one_id_and_every_previous_id_one_cluster(before: list[int], after: list[int]) -> None:
    previous = pd.DataFrame(
        {"source": "s", "record_id": [f"r{i}" for i in range(len(before))], "person_id": [f"P{g}" for g in before]}
    )
    current = pd.DataFrame({"source": "s", "record_id": [f"r{i}" for i in range(len(after))], "cluster_id": after})
    result = carry_forward(previous, current)
    joined = current.astype(str).merge(result.lineage, on=["source", "record_id"], validate="one_to_one")
    assert len(joined) == len(current)
    assert (joined.groupby("cluster_id")["person_id"].nunique() == 1).all()
    assert (joined.groupby("person_id")["cluster_id"].nunique() == 1).all()
    fresh = set(joined["person_id"]) - set(previous["person_id"])
    assert set(result.changes.loc[result.changes["change"].isin(["new", "split"]), "person_id"]) == fresh
    retired = set(result.changes.loc[result.changes["change"].isin(["merged", "gone"]), "person_id"])
    assert retired == set(previous["person_id"]) - set(joined["person_id"])
