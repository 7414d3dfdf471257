"""The cheap ways compare.py and name_variants.py reach a level give the answer of the costly scores
they stand in for, on any strings (hypothesis), not only on the bench's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from dedup import compare as compare_module
from dedup.compare import MISSING, _contained, _damerau_edits, compare
from dedup.name_variants import _known_variant, _within, known_variant, name_within, readings, same_sound, spoken
from dedup.prepare import prepare

# Few letters, so that transpositions, repeats and containment are common.
SHORT = st.text(alphabet=st.sampled_from(list("abc")), max_size=8)
ADDRESS_LIKE = st.text(alphabet=st.sampled_from(list("ab号栋 -1é")), max_size=12)
HOMOPHONES = "张章伟玮维曾层梓子轩萱王汪芳方李"
CHINESE_NAME = st.text(alphabet=st.sampled_from(list(HOMOPHONES)), min_size=1, max_size=4)
LATIN_WORDS = ["bob", "robert", "rob", "mary", "ann", "anne", "a", "r", "smith", "smyth", "jones", "zhang", "wei"]
LATIN_NAME = st.lists(st.sampled_from(LATIN_WORDS), min_size=1, max_size=3).map(" ".join)
PINYIN = st.sampled_from(["zhangwei", "zhang wei", "wangfang", "cengzixuan", "li"])
ANY_NAME = st.one_of(CHINESE_NAME, LATIN_NAME, PINYIN)
PAIRS = st.lists(st.tuples(ANY_NAME, ANY_NAME), min_size=1, max_size=40)


def _reference_same_sound(a: str, b: str) -> bool:
    """The per-pair rule same_sound implements over arrays."""
    first, second = readings(a), readings(b)
    if first is not None and second is not None:
        return len(first) == len(second) and all(x & y for x, y in zip(first, second, strict=True))
    if (first is None) == (second is None):
        return False
    return bool(spoken(a)) and spoken(a) == spoken(b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(SHORT, SHORT), min_size=1, max_size=50))
def test_damerau_edits_are_the_unrestricted_distance_up_to_the_bound(pairs: list[tuple[str, str]]) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    exact = np.array([DamerauLevenshtein.distance(x, y) for x, y in pairs])
    for most in (1, 2):
        assert _damerau_edits(a, b, most).tolist() == np.minimum(exact, most + 1).tolist()


def test_damerau_edits_measure_what_osa_overstates() -> None:
    # OSA counts 3 here (it may not edit a transposed pair again); Damerau-Levenshtein counts 2.
    assert _damerau_edits(["ca"], ["abc"], 2).tolist() == [2]


@settings(max_examples=500, deadline=None)
@given(ADDRESS_LIKE, ADDRESS_LIKE)
def test_containment_is_a_partial_ratio_of_100(x: str, y: str) -> None:
    if x != y:
        assert bool(_contained([x], [y])[0]) == (fuzz.partial_ratio(x, y) >= 100)


@settings(max_examples=200, deadline=None)
@given(PAIRS)
def test_name_checks_over_arrays_agree_with_the_per_pair_rules(pairs: list[tuple[str, str]]) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    assert same_sound(a, b).tolist() == [_reference_same_sound(x, y) for x, y in pairs]
    assert name_within(a, b).tolist() == [_within(x, y) for x, y in pairs]
    assert known_variant(a, b).tolist() == [_known_variant(x, y) for x, y in pairs]


def test_fields_compared_in_forked_workers_give_the_serial_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    records = pd.DataFrame(
        {
            "name": ["张伟", "张玮", "Wang Wei", "王伟", "李芳", "李方", "mary ann", "mary"] * 25,
            "birth": ["1990-01-02", "1990-02-01", "1990-01-02", "", "1985-05-05", "1985-05-06", "", "1970-01-01"] * 25,
            "address": ["长乐路123弄5号", "长乐路123弄5号101", "1 main st", "", "江滨路1号", "江滨路2号", "", "x"] * 25,
        }
    )
    fields = prepare(records, {"name": "name", "birth": "date", "address": "address"})
    left, right = np.triu_indices(len(records), k=1)
    serial = compare(fields, left, right)
    monkeypatch.setattr(compare_module, "PARALLEL_MIN_PAIRS", 1)
    forked = compare(fields, left, right)
    assert forked.tolist() == serial.tolist()
    assert (serial[:, 0] != MISSING).any() and len(set(serial[:, 0].tolist())) > 3
