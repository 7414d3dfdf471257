"""Each stage of the engine on tiny hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from stdnum.cn import ric

from dedup.blocking import pairs_within_blocks
from dedup.cluster import Constraints, cluster
from dedup.compare import LEVEL_LABELS, compare_field
from dedup.evaluate import pairwise_scores
from dedup.prepare import prepare_field


def test_blocks_give_all_pairs_and_oversized_blocks_are_skipped() -> None:
    codes = np.array([0, 1, 0, 2, 0, 1, -1, 3, 3, 3, 3])
    pairs = set(pairs_within_blocks(codes, max_block=3).tolist())
    n = len(codes)
    assert pairs == {0 * n + 2, 0 * n + 4, 2 * n + 4, 1 * n + 5}


def test_levels_of_names_and_ids() -> None:
    names = prepare_field("name", "name", pd.Series(["张伟", "张 伟", "张玮", "李娜", "", "Anna Berg", "Berg Anna"]))
    left, right = np.array([0, 0, 0, 0, 5]), np.array([1, 2, 3, 4, 6])
    labels = [LEVEL_LABELS["name"][lv] if lv >= 0 else "missing" for lv in compare_field(names, left, right)]
    assert labels == ["exact", "same sound, other characters", "different", "missing", "one edit or reordered"]
    new_form = "35060219900101021" + ric.calc_check_digit("350602199001010210")
    sibling = "35060219900101022" + ric.calc_check_digit("350602199001010220")
    ids = prepare_field("id", "cn_id", pd.Series([new_form, "350602900101021", sibling]))
    levels = compare_field(ids, np.array([0, 0]), np.array([1, 2]))
    assert LEVEL_LABELS["cn_id"][levels[0]] == "exact"
    assert LEVEL_LABELS["cn_id"][levels[1]] == "two edits"


def test_cannot_link_splits_a_chain_through_a_weak_record() -> None:
    # 0-1 and 1-2 are strong, 0-2 was compared and is strongly negative; 0 and 2 carry different IDs.
    left, right = np.array([0, 1, 0, 3]), np.array([1, 2, 2, 4])
    weight = np.array([12.0, 10.0, -30.0, 5.0])
    identity = np.array([7, -1, 8, -1, -1])
    labels = cluster(5, left, right, weight, Constraints([identity]))
    assert labels[0] == labels[1]
    assert labels[2] != labels[0]
    assert labels[3] == labels[4]


def test_average_linkage_refuses_a_weakly_attached_record() -> None:
    # 2 joins 0 strongly but 1 strongly rejects it: the average across the clusters is negative.
    left, right = np.array([0, 0, 1]), np.array([1, 2, 2])
    weight = np.array([20.0, 3.0, -25.0])
    labels = cluster(3, left, right, weight, Constraints([]))
    assert labels[0] == labels[1] != labels[2]


def test_pairwise_scores_count_pairs_from_cluster_sizes() -> None:
    truth = pd.DataFrame({"s": ["a"] * 4, "r": ["1", "2", "3", "4"], "p": ["x", "x", "x", "y"]})
    predicted = pd.DataFrame({"s": ["a"] * 3, "r": ["1", "2", "4"], "c": ["k", "k", "k"]})
    score = pairwise_scores(truth, predicted)
    assert (score.true_pairs, score.predicted_pairs, score.correct_pairs) == (3, 3, 1)
    assert round(score.f1, 4) == round(1 / 3, 4)


def test_names_written_surname_first_with_a_comma_share_a_blocking_key() -> None:
    from dedup.blocking import candidate_pairs

    names = prepare_field("name", "name", pd.Series(["Anna Lindqvist", "Lindqvist, Anna", "Erik Berg"]))
    left, right = candidate_pairs([names], max_block=50)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 1)]


def test_training_on_no_candidate_pairs_keeps_the_starting_weights() -> None:
    import warnings

    from dedup.model import fit_match_share, train

    names = prepare_field("name", "name", pd.Series(["Anna", "Erik"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = train([names])
        weights = fit_match_share(model, [names], np.empty((0, 1), dtype=np.int8), np.empty(0, dtype=np.int64))
    assert len(weights) == 0
    assert 0 < model.match_share < 1


def test_a_neighbours_flat_is_at_best_a_similar_address() -> None:
    addresses = prepare_field(
        "address",
        "address",
        pd.Series(
            [
                "Hauptstraße 49",
                "Hauptstraße 48",
                "玉林北路12号3栋2单元501",
                "玉林北路12号3栋2单元502",
                "玉林北路12号",
                "47 Oak St Apt 3",
                "47 Oak St",
            ]
        ),
    )
    levels = compare_field(addresses, np.array([0, 2, 2, 5]), np.array([1, 3, 4, 6]))
    assert [LEVEL_LABELS["address"][lv] for lv in levels] == [
        "similar",
        "similar",
        "near or contained",
        "near or contained",
    ]


def test_one_edit_in_a_short_name_is_similar_and_swapped_characters_are_near_in_long_ones() -> None:
    names = prepare_field("name", "name", pd.Series(["王子浩", "王子轩", "曾梓轩", "曾轩梓", "Johanna", "Johanne"]))
    levels = compare_field(names, np.array([0, 2, 4]), np.array([1, 3, 5]))
    assert [LEVEL_LABELS["name"][lv] for lv in levels] == [
        "similar",
        "same characters in another order",
        "one edit or reordered",
    ]


def test_a_validity_verdict_on_a_field_nobody_filled_in_drops_nothing() -> None:
    from dedup.prepare import prepare

    records = pd.DataFrame({"id_no": ["", ""], "id_valid": [False, False]})
    (field,) = prepare(records, {"id_no": "cn_id"}, {"id_no": "id_valid"})
    assert (field.codes == -1).all()
