"""A record's district: its ID number's region code first, then its address, else the unknown partition."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hub_errors import ConfigError
from pipelines.districts import assign_districts, load_districts


def test_the_id_region_code_decides_then_the_address_then_unknown() -> None:
    districts = load_districts()
    ids = pd.Series(["350623193605060016", "350681199001011234", "", "35062319360506001X", ""])
    places = pd.Series(["芗城区西桥街道", "", "漳州市龙文区蓝田街道12号", "", "某地某路1号"])
    expected = ["漳浦县", "龙海区", "龙文区", "漳浦县", districts.unknown]
    assert assign_districts(ids, places, districts).tolist() == expected
    assert districts.unknown in districts.partition_keys and "华安县" in districts.partition_keys


def test_a_region_code_listed_for_two_districts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "districts.yaml"
    path.write_text(
        "districts:\n  - {name: 甲区, codes: ['350602']}\n  - {name: 乙区, codes: ['350602']}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="350602"):
        load_districts(path)
