"""Event kinds: time apart, category relations and place parts as comparison levels and keys."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dedup.blocking import candidate_pairs
from dedup.compare import LEVEL_LABELS, compare_field
from dedup.prepare import prepare, prepare_field


def _levels(kind: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Level label of each (a, b) pair of raw values of one kind."""
    values = [value for pair in pairs for value in pair]
    field = prepare_field("f", kind, pd.Series(values))
    left = np.arange(0, len(values), 2)
    levels = compare_field(field, left, left + 1)
    return [LEVEL_LABELS[kind][level] if level >= 0 else "missing" for level in levels]


def test_times_compare_by_the_hours_between_them_whatever_their_format() -> None:
    base = "2026-05-03 08:10"
    assert _levels(
        "datetime",
        [
            (base, "2026/05/03 08:10:00"),
            (base, "2026-05-03 09:40"),
            (base, "2026-05-03 19:00"),
            (base, "2026-05-04 20:00"),
            (base, "2026-05-08 08:00"),
            (base, "2026-05-11 08:00"),
            (base, ""),
        ],
    ) == [
        "exact",
        "within 2 hours",
        "within 12 hours",
        "within 2 days",
        "within a week",
        "more than a week apart",
        "missing",
    ]


def test_categories_compare_by_the_category_tables_relations_and_else_by_their_words() -> None:
    assert _levels(
        "category",
        [
            ("违章搭建", "违章 搭建"),
            ("私搭乱建", "违章搭建"),
            ("占用绿地", "违章搭建"),
            ("乱停车", "楼道堆满杂物"),
            ("小区停电了", "停电了"),
            ("小区停电了", "水管爆了"),
        ],
    ) == [
        "exact",
        "same category",
        "related categories",
        "unrelated categories",
        "similar words",
        "different words",
    ]


def test_places_compare_part_by_part_so_an_omitted_part_is_no_disagreement() -> None:
    flat = "漳州市芗城区东铺头街道胜利社区建元路54号9栋4单元1102室"
    assert _levels(
        "place",
        [
            (flat, "芗城区胜利社区建元路54号9栋4单元1102室"),
            (flat, "胜利社区9号楼四单元1102"),
            (flat, "建元路54号9幢4单元301"),
            (flat, "建元路54号9幢2单元301"),
            (flat, "建元路54号12栋1单元101"),
            (flat, "建元路80号3栋1单元101"),
            (flat, "龙文区水仙大街100号9栋4单元1102"),
            ("12 Storgatan, Umeå", "12 STORGATAN,  Umeå"),
        ],
    ) == [
        "same room",
        "same room",
        "same building",
        "same door",
        "same door",
        "same road or community",
        "elsewhere",
        "exact",
    ]


def test_event_blocking_pairs_reports_of_one_place_only_within_time_windows() -> None:
    records = pd.DataFrame(
        {
            "at": ["2026-05-01 08:00", "2026-05-04 08:00", "2026-05-30 08:00", "", "2026-05-20 09:00", ""],
            "place": ["建元路54号9栋4单元1102"] * 3 + ["水仙大街100号1栋1单元101"] * 2 + ["江滨路1号"],
        }
    )
    left, right = candidate_pairs(prepare(records, {"at": "datetime", "place": "place"}), max_block=50)
    pairs = set(zip(left.tolist(), right.tolist(), strict=True))
    assert pairs == {(0, 1), (3, 4)}, "three days apart at one flat; a month apart is not; no time pairs with its place"


def test_tables_without_a_time_keep_their_blocking() -> None:
    records = pd.DataFrame({"place": ["建元路54号9栋4单元1102", "建元路54号9栋4单元1102室", "建元路1号"]})
    left, right = candidate_pairs(prepare(records, {"place": "place"}), max_block=50)
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == {(0, 1)}
