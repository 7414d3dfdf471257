"""Category mapping: residents' words reach the grid system's categories; unknown words reach stewards."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub_errors import ConfigError
from schemas.categories import (
    categories_related,
    classify_category,
    load_table,
    map_category,
    unknown_categories,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("乱停车堵路", "违规停车"),
        ("有人占用绿地", "占绿毁绿"),
        ("违章搭建", "违章搭建"),
        (" 亂停車，堵路！", "违规停车"),
        ("ｌ", None),
    ],
)
def test_listed_words_map_exactly(raw: str, expected: str | None) -> None:
    assert map_category(raw) == (expected, expected is not None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("绿地被人占了", "占绿毁绿"),
        ("小区门口有人摆摊卖菜", "占道经营"),
        ("楼下有人搭了个铁皮棚", "违章搭建"),
        ("垃圾桶好几天没人清理", "垃圾清运不及时"),
        ("隔壁邻居吵架", "邻里纠纷"),
    ],
)
def test_unseen_lay_wording_maps_with_confidence_below_one(raw: str, expected: str) -> None:
    match = classify_category(raw)
    assert match.category == expected
    assert load_table().min_confidence <= match.confidence < 1.0
    assert map_category(raw) == (expected, True)


def test_unknown_word_is_kept_and_listed_with_counts() -> None:
    assert map_category("小区停电了") == (None, False)
    listed = unknown_categories(["小区停电了", "乱停车堵路", "小区停电了", "宠物狗咬人", "", "乱停车堵路"])
    assert listed["category_raw"].tolist() == ["小区停电了", "宠物狗咬人"]
    assert listed["count"].tolist() == [2, 1]
    assert (listed["confidence"] < load_table().min_confidence).all()


def test_related_categories_allow_one_incident_unrelated_forbid_it() -> None:
    assert categories_related("违章搭建", "占绿毁绿") is True
    assert categories_related("违章搭建", "违章搭建") is True
    assert categories_related("噪声扰民", "道路破损") is False
    assert categories_related(None, "道路破损") is None


def test_conflicting_mapping_file_names_the_word(tmp_path: Path) -> None:
    bad = tmp_path / "categories.yaml"
    bad.write_text("categories:\n  违规停车: [乱停]\n  占道经营: [乱停]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="乱停"):
        load_table(bad)
