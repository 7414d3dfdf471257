"""Name levels beyond spelling: same sound, a name within a longer one, nicknames; and their order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dedup.compare import LEVEL_LABELS, compare_field
from dedup.model import PRIOR_M, monotone
from dedup.name_variants import known_variant, name_within, same_sound, short_form
from dedup.prepare import prepare_field


def _labels(pairs: list[tuple[str, str]]) -> list[str]:
    values = [v for pair in pairs for v in pair]
    field = prepare_field("name", "name", pd.Series(values))
    left = np.arange(0, len(values), 2)
    levels = compare_field(field, left, left + 1)
    return [LEVEL_LABELS["name"][lv] for lv in levels]


def test_homophones_are_the_same_sound_not_a_one_character_edit() -> None:
    labels = _labels(
        [("张伟", "张玮"), ("曾梓轩", "曾子萱"), ("张伟", "张强"), ("王芳", "Wang Fang"), ("王芳", "Wang Li")]
    )
    assert labels[:2] == ["same sound, other characters"] * 2
    assert labels[2] == "different"  # another given name: one edit replaces half of the name
    assert labels[3] == "same sound, other characters"
    assert labels[4] != "same sound, other characters"


def test_any_reading_of_a_character_counts() -> None:
    # 曾 reads zeng (the surname) and ceng; 层 only ceng.
    assert same_sound(["曾华"], ["层华"]).tolist() == [True]
    assert same_sound(["张伟"], ["张伟明"]).tolist() == [False]
    assert same_sound(["anna"], ["anne"]).tolist() == [False]


def test_middle_name_or_second_surname_is_a_name_within_the_other() -> None:
    labels = _labels([("Mary Ann", "Mary"), ("Smith-Jones", "Smith"), ("Mary A", "Mary Ann"), ("J", "John Paul")])
    assert labels[:3] == ["one name within the other"] * 3
    assert labels[3] != "one name within the other"
    assert name_within(["mary"], ["mary"]).tolist() == [False]
    assert name_within(["anna maria"], ["maria"]).tolist() == [True]


def test_nicknames_are_known_variants() -> None:
    labels = _labels([("Bob", "Robert"), ("Peggy", "Margaret"), ("Bill Smith", "William Smith"), ("Bob", "Margaret")])
    assert labels[:3] == ["nickname or known variant"] * 3
    assert labels[3] == "different"
    assert known_variant(["bob"], ["robert james"]).tolist() == [True]
    assert known_variant(["bob smith"], ["robert jones"]).tolist() == [False]
    assert known_variant(["tim jonathan"], ["timothy j"]).tolist() == [True]


def test_clipped_forms_of_a_name_are_known_variants_in_any_latin_language() -> None:
    labels = _labels(
        [
            ("Andi", "Andreas"),
            ("Tina", "Christina"),
            ("Steffi", "Stefanie"),
            ("Max", "Maximilian"),
            ("Ian", "Christian"),
        ]
    )
    assert labels[:4] == ["nickname or known variant"] * 4
    assert labels[4] != "nickname or known variant"
    assert short_form("mark", "martin") is False
    assert short_form("王芳", "王芳芳") is False


def test_continental_diminutives_are_known_variants() -> None:
    """Everyday forms that are no clipped piece of the name (name_diminutives.yaml), accents or not;
    two different names that share no form stay apart."""
    labels = _labels(
        [
            ("Sepp", "Josef"),
            ("Henk Smit", "Hendrik Smit"),
            ("Heinz", "Heinrich"),
            ("Paco", "Francisco"),
            ("Beppe", "Giuseppe"),
            ("Jaap", "Jacobus"),
            ("Sepp", "Heinrich"),
        ]
    )
    assert labels[:6] == ["nickname or known variant"] * 6
    assert labels[6] == "different"


def test_name_levels_are_registered_with_priors_in_agreement_order() -> None:
    assert len(PRIOR_M["name"]) == len(LEVEL_LABELS["name"])
    # Unchanged by the monotone adjustment: the priors themselves rank the levels.
    u = np.array([1e-3, 2e-4, 2e-3, 2e-4, 5e-4, 5e-4, 0.05, 0.95])
    m = np.asarray(PRIOR_M["name"]) / sum(PRIOR_M["name"])
    weights = np.log2(monotone(m, u) / u)
    assert np.all(np.diff(weights) <= 1e-9)


def test_names_swapped_between_fields_compare_crosswise() -> None:
    from dedup.compare import compare

    given = prepare_field("given", "name", pd.Series(["Anna", "Hill", "Ed", "Scott", "Anna", "Moss"]))
    family = prepare_field("family", "name", pd.Series(["Hill", "Anna Catherine", "Scott", "Edward", "Hill", "Lee"]))
    levels = compare([given, family], np.array([0, 2, 4]), np.array([1, 3, 5]))
    labels = [[LEVEL_LABELS["name"][lv] for lv in row] for row in levels]
    assert labels[0] == ["one name within the other", "one edit or reordered"]
    assert labels[1] == ["nickname or known variant", "one edit or reordered"]
    assert labels[2] == ["different", "different"]


def test_a_typing_slip_in_the_shared_word_still_counts_as_within() -> None:
    assert name_within(["jcak"], ["jack gregory"]).tolist() == [True]
    assert name_within(["jcak"], ["jack"]).tolist() == [False]
    assert name_within(["jo"], ["ja paul"]).tolist() == [False]
