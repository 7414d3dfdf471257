"""A person's community from the address, the grid, the other records or the data's address book."""

from __future__ import annotations

import json

import pandas as pd

from dedup.golden import build_golden
from schemas.normalize.address import parse_address


def record(source: str, record_id: str, address: str | None, grid: str | None = None) -> dict[str, object]:
    parts = parse_address(address or "")
    return {
        "source": source,
        "record_id": record_id,
        "name": "林小红",
        "address": address,
        "address_canonical": parts.canonical or None,
        "addr_district": parts.district,
        "addr_street": parts.street,
        "addr_community": parts.community,
        "addr_road": parts.road,
        "addr_door_no": parts.door_no,
        "grid": grid,
    }


RECORDS = [
    # A: the address names the community
    record("grid", "g1", "龙文区朝阳街道大同社区水仙大街190号30栋5单元3101室", "大同社区39网格"),
    # B: the address leaves it out, the grid names it
    record("grid", "g2", "漳州市龙文区水仙大街12号3栋1单元501室", "东梅社区10网格"),
    # C: the chosen address (grid's) names none and has no grid; the health record's address does
    record("grid", "g3", "漳州市芗城区碧湖路9号"),
    record("health", "h3", "芗城区通北街道碧湖社区碧湖路9号2栋"),
    # D: only a health record without community or grid, at an entrance where others name one
    record("health", "h4", "漳州市龙文区水仙大街12号5栋2单元302"),
    # E: an entrance two communities share in the data: not guessed
    record("grid", "g5", "漳州市龙文区江滨路1号", "新华社区01网格"),
    record("grid", "g6", "漳州市龙文区江滨路1号", "丹霞社区02网格"),
    record("health", "h7", "漳州市龙文区江滨路1号3栋"),
]
CLUSTERS = pd.DataFrame(
    {
        "source": [r["source"] for r in RECORDS],
        "record_id": [r["record_id"] for r in RECORDS],
        "cluster_id": ["A", "B", "C", "C", "D", "E5", "E6", "E7"],
    }
)
RULES = {"authority": {"address": ["grid", "intake", "health", "civil"], "grid": ["grid", "intake"]}}


def placed() -> pd.DataFrame:
    golden = build_golden(pd.DataFrame(RECORDS), CLUSTERS, RULES).set_index("person_id")
    golden["via"] = [json.loads(p).get("community", {}).get("via") for p in golden["provenance"]]
    return golden


def test_each_person_gets_the_community_its_records_give() -> None:
    golden = placed()
    assert golden.loc["A", ["community", "via"]].tolist() == ["大同社区", "address"]
    assert golden.loc["B", ["community", "via"]].tolist() == ["东梅社区", "grid"]
    assert golden.loc["C", ["community", "via"]].tolist() == ["碧湖社区", "records"]
    assert pd.isna(golden.loc["C", "addr_community"]), "the golden address keeps its own parts"
    assert golden.loc["D", ["community", "via"]].tolist() == ["东梅社区", "address_book"]
    provenance = json.loads(golden.loc["D", "provenance"])["community"]
    assert provenance == {"source": "health", "record_id": "h4", "via": "address_book"}


def test_an_entrance_with_two_communities_places_nobody() -> None:
    golden = placed()
    assert golden.loc["E5", "community"] == "新华社区" and golden.loc["E6", "community"] == "丹霞社区"
    assert pd.isna(golden.loc["E7", "community"])
