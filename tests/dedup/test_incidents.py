"""Incident merging: reports of one incident become one case; different incidents stay apart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dedup.incidents import INCIDENT_COLUMNS, incident_id_for, resolve_incidents
from schemas.categories import map_category
from schemas.normalize.address import parse_address

PARTS = ("district", "street", "community", "road", "door_no", "building", "unit", "room")


def report(
    source: str,
    record_id: str,
    category_raw: str,
    reported_at: str,
    location: str,
    description: str,
    *,
    status: str | None = None,
    grid: str | None = None,
    contact: str | None = None,
) -> dict[str, object]:
    """One standardized event row, built with the real category map and address parser."""
    category, known = map_category(category_raw)
    parts = parse_address(location)
    row: dict[str, object] = {
        "source": source,
        "record_id": record_id,
        "category": category,
        "category_raw": category_raw,
        "category_known": known,
        "reported_at": reported_at,
        "location": location,
        "location_canonical": parts.canonical,
        "grid": grid,
        "description": description,
        "channel": None,
        "status": status,
        "contact": contact,
        "quality_flags": "",
    }
    row.update({f"loc_{p}": getattr(parts, p) for p in PARTS})
    return row


SHED = [
    report(
        "resident",
        "R1",
        "有人占用绿地",
        "2026-05-03 08:10:00",
        "漳州市芗城区东铺头街道胜利社区建元路54号9栋4单元1102室",
        "有人在绿地上搭了个棚子",
        contact="13912345678",
    ),
    report(
        "grid",
        "G7",
        "违章搭建",
        "2026-05-03 11:42:00",
        "芗城区建元路54号9幢四单元1102",
        "违章搭建，建元路54号9栋绿地上新搭铁皮棚，请处理",
        status="处置中",
        grid="胜利社区05网格",
    ),
    report(
        "intake",
        "X2",
        "私搭乱建",
        "2026-05-03 16:05:00",
        "胜利社区建元路54号9号楼4单元1102室",
        "社区主任上报：绿地上私搭棚子",
        status="受理",
    ),
]
SAME_BUILDING_OTHER_INCIDENTS = [
    report(
        "resident",
        "R2",
        "晚上太吵",
        "2026-05-03 23:30:00",
        "芗城区建元路54号9栋2单元301室",
        "楼上半夜装修太吵",
        contact="13800000001",
    ),
    report(
        "grid",
        "G8",
        "消防通道堵塞",
        "2026-05-03 14:00:00",
        "芗城区建元路54号9栋1单元101室",
        "消防通道堵塞，9栋楼下电动车占用消防通道",
        status="分派",
        grid="胜利社区05网格",
    ),
]
ELSEWHERE = [
    report(
        "resident",
        f"B{k}",
        category,
        f"2026-05-{day:02d} {hour:02d}:15:00",
        f"漳州市龙文区步文街道九龙社区水仙大街{100 + k}号{k % 30 + 1}栋{k % 6 + 1}单元{k + 1}02室",
        f"{category}，在水仙大街这边",
        contact=f"1390000{k:04d}",
    )
    for k, (category, day, hour) in enumerate(
        [(c, d, h) for c in ("路面有坑", "垃圾没人收", "路边摆摊") for d, h in ((1, 9), (4, 13), (9, 20))]
    )
]


def incident_of(result_lineage: pd.DataFrame, record_id: str) -> str:
    return str(result_lineage.set_index("record_id").loc[record_id, "incident_id"])


def test_reports_of_one_shed_hours_apart_merge_into_one_case() -> None:
    result = resolve_incidents(pd.DataFrame(SHED + SAME_BUILDING_OTHER_INCIDENTS + ELSEWHERE))
    shed_ids = {incident_of(result.lineage, r) for r in ("R1", "G7", "X2")}
    assert len(shed_ids) == 1
    shed = result.incidents.set_index("incident_id").loc[shed_ids.pop()]
    assert shed["report_count"] == 3
    assert shed["reporter_count"] == 3
    assert shed["first_reported_at"] == "2026-05-03 08:10:00"
    assert shed["status"] == "处置中"
    assert shed["grid"] == "胜利社区05网格"
    assert shed["sources"] == "grid;intake;resident"
    assert shed["report_ids"] == "resident:R1;grid:G7;intake:X2"


def test_different_incidents_in_one_building_the_same_day_stay_apart() -> None:
    result = resolve_incidents(pd.DataFrame(SHED + SAME_BUILDING_OTHER_INCIDENTS + ELSEWHERE))
    ids = [incident_of(result.lineage, r) for r in ("R1", "R2", "G8")]
    assert len(set(ids)) == 3
    assert len(result.incidents) == len(result.lineage) - 2


def test_residents_report_shows_the_incidents_status() -> None:
    result = resolve_incidents(pd.DataFrame(SHED + SAME_BUILDING_OTHER_INCIDENTS))
    shown = result.lineage.merge(result.incidents, on="incident_id").set_index("record_id")
    assert shown.loc["R1", "status"] == "处置中"
    assert shown.loc["R2", "status"] == "上报", "a report nobody has acted on yet is at the first stage"
    assert list(result.incidents.columns) == INCIDENT_COLUMNS


def test_incident_ids_come_from_the_earliest_report_whatever_the_row_order() -> None:
    rows = pd.DataFrame(SHED + SAME_BUILDING_OTHER_INCIDENTS + ELSEWHERE)
    first = resolve_incidents(rows).lineage.sort_values("record_id", ignore_index=True)
    shuffled = resolve_incidents(rows.sample(frac=1.0, random_state=3)).lineage
    assert first.equals(shuffled.sort_values("record_id", ignore_index=True))
    assert incident_of(first, "G7") == incident_id_for("resident", "R1")


def test_a_report_with_unknown_category_and_no_time_still_gets_an_incident() -> None:
    odd = report("resident", "U1", "小区停电了", "", "", "整栋楼没电")
    result = resolve_incidents(pd.DataFrame([*SHED, odd]))
    assert incident_of(result.lineage, "U1") == incident_id_for("resident", "U1")
    merged = result.incidents.set_index("incident_id").loc[incident_id_for("resident", "U1")]
    assert merged[["category", "first_reported_at"]].isna().all()


def test_bench_incidents_merge_with_high_pairwise_f1(
    bench_small: Path, pairwise_f1: Callable[[Path, Path], float], tmp_path: Path
) -> None:
    bench = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_incidents.py"
    lineage = tmp_path / "lineage.csv"
    subprocess.run(
        [sys.executable, str(bench), "--data", str(bench_small), "--out", str(lineage)],
        check=True,
        capture_output=True,
    )
    f1 = pairwise_f1(bench_small / "truth_events.csv", lineage)
    assert f1 >= 0.9, f1


def test_an_incident_without_a_grid_takes_its_buildings_grid() -> None:
    from dedup.incidents import fill_missing_grids

    incidents = pd.DataFrame(
        {
            "incident_id": ["I1", "I2", "I3"],
            "grid": [None, "东区02网格", None],
            "location_canonical": ["建元路38号27栋5单元703", "建元路38号27栋", "无名路1号"],
        }
    )
    residents = pd.DataFrame(
        {
            "grid": ["东区01网格", "东区01网格", "东区03网格"],
            "addr_road": ["建元路"] * 3,
            "addr_door_no": ["38"] * 3,
            "addr_building": ["27", "27", "28"],
        }
    )
    filled = fill_missing_grids(incidents, residents).set_index("incident_id")
    assert filled.loc["I1", "grid"] == "东区01网格" and filled.loc["I1", "grid_origin"] == "building residents"
    assert filled.loc["I2", "grid"] == "东区02网格" and filled.loc["I2", "grid_origin"] == "reported"
    assert pd.isna(filled.loc["I3", "grid"]) and filled.loc["I3", "grid_origin"] == "unknown"
