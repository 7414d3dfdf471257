"""Incident merging: reports of one incident become one case; different incidents stay apart."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from dedup.incidents import INCIDENT_COLUMNS, incident_id_for, resolve_incidents
from schemas.categories import map_category
from schemas.normalize.address import parse_address

PARTS = ("district", "street", "community", "road", "door_no", "building", "unit", "room")

# professional category -> how residents word it
WORDING = {
    "违章搭建": ("私搭乱建", "搭了个棚"),
    "噪声扰民": ("晚上太吵", "半夜装修"),
    "道路破损": ("路面有坑", "马路有坑"),
    "乱堆乱放": ("楼道堆满杂物", "楼道堆东西"),
    "路灯损坏": ("路灯不亮", "晚上路太黑"),
    "私拉电线": ("飞线充电", "楼道充电"),
    "垃圾清运不及时": ("垃圾没人收", "垃圾桶满了"),
}
AREAS = (
    ("龙文区", "步文街道", "九龙社区", "水仙大街"),
    ("芗城区", "东铺头街道", "胜利社区", "建元路"),
    ("芗城区", "芝山街道", "碧湖社区", "江滨路"),
    ("龙海区", "石码街道", "大同社区", "新华南路"),
)
CN_DIGITS = "零一二三四五六七八九"
START = datetime(2026, 4, 1)


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


def _moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def district_month(incidents: int = 80, seed: int = 7) -> tuple[list[dict[str, object]], dict[str, int]]:
    """Standardized reports of `incidents` incidents and the incident number of each report id.

    The grid worker files the professional category and the full address; a resident words both
    their own way (lay category, a shorter address, 号楼 or Chinese numerals) hours later; a third
    channel sometimes repeats it. Some buildings have a second, different incident days later.
    """
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    truth: dict[str, int] = {}
    buildings: list[tuple[tuple[str, str, str, str], int, int]] = []
    for number in range(incidents):
        if buildings and rng.random() < 0.2:
            area, door, building = rng.choice(buildings)
        else:
            area, door, building = rng.choice(AREAS), rng.randint(1, 300), rng.randint(1, 30)
            buildings.append((area, door, building))
        district, street, community, road = area
        unit, room = rng.randint(1, 6), rng.randint(1, 25) * 100 + rng.randint(1, 4)
        professional = rng.choice(sorted(WORDING))
        at = START + timedelta(hours=rng.randint(0, 24 * 30), minutes=rng.randint(0, 59))
        full = f"{district}{street}{community}{road}{door}号{building}栋{unit}单元{room}室"
        grid = f"{community}{building % 5 + 1:02d}网格"
        filed = [
            report(
                "grid",
                f"GM{number:03d}",
                professional,
                _moment(at),
                full,
                f"{professional}，{road}{door}号{building}栋附近，请处理",
                status="受理",
                grid=grid,
            )
        ]
        if rng.random() < 0.75:
            short = rng.choice(
                (
                    f"{district}{road}{door}号{building}号楼{CN_DIGITS[unit]}单元{room}",
                    f"{community}{building}栋{unit}单元{room}室",
                    f"{road}{door}号{building}幢{unit}单元{room}",
                )
            )
            later = at + timedelta(minutes=rng.randint(20, 600))
            filed.append(
                report(
                    "resident",
                    f"RM{number:03d}",
                    rng.choice(WORDING[professional]),
                    _moment(later),
                    short,
                    f"{rng.choice(WORDING[professional])}，在{road}这边",
                    contact=f"139{number:08d}",
                )
            )
        if rng.random() < 0.25:
            later = at + timedelta(minutes=rng.randint(30, 900))
            filed.append(
                report("intake", f"XM{number:03d}", professional, _moment(later), full, f"社区上报：{professional}")
            )
        for row in filed:
            truth[str(row["record_id"])] = number
        rows.extend(filed)
    return rows, truth


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


# The weights are learned from the reports themselves, as a district's month of them would teach.
MONTH, MONTH_TRUTH = district_month()


def incident_of(result_lineage: pd.DataFrame, record_id: str) -> str:
    return str(result_lineage.set_index("record_id").loc[record_id, "incident_id"])


def test_a_districts_month_of_reports_merges_into_its_incidents() -> None:
    result = resolve_incidents(pd.DataFrame(MONTH))
    lineage = result.lineage.set_index("record_id")["incident_id"]
    truth = pd.Series(MONTH_TRUTH)
    same_truth = truth.to_numpy()[:, None] == truth.to_numpy()[None, :]
    same_found = lineage[truth.index].to_numpy()[:, None] == lineage[truth.index].to_numpy()[None, :]
    upper = np.triu(np.ones_like(same_truth), k=1)
    found, true = (same_found & upper).sum(), (same_truth & upper).sum()
    correct = (same_found & same_truth & upper).sum()
    assert correct / found >= 0.95 and correct / true >= 0.9, (correct, found, true)
    assert result.link.check() == [], "the model check finds nothing wrong with events"
    sessions = set(result.link.model.sessions)
    assert {"location", "location (flat)", "category+reported_at day"} <= sessions, sessions
    learned = {f.name: f.learned_from for f in result.link.model.fields}
    assert "location" not in learned["location"] and "category+reported_at day" in learned["location"]
    assert "category+reported_at day" not in learned["category"]
    weights = {f.name: f.weights for f in result.link.model.fields}
    assert weights["reported_at"][1] > 0 > weights["reported_at"][4], "hours apart for, days apart against"
    assert weights["category"][1] > 0 > weights["category"][-1]


def test_reports_of_one_shed_hours_apart_merge_into_one_case() -> None:
    result = resolve_incidents(pd.DataFrame(SHED + SAME_BUILDING_OTHER_INCIDENTS + ELSEWHERE + MONTH))
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
    rows = SHED + SAME_BUILDING_OTHER_INCIDENTS + ELSEWHERE
    result = resolve_incidents(pd.DataFrame(rows + MONTH))
    ids = [incident_of(result.lineage, r) for r in ("R1", "R2", "G8")]
    assert len(set(ids)) == 3
    ours = result.lineage[result.lineage["record_id"].isin([str(row["record_id"]) for row in rows])]
    assert ours["incident_id"].nunique() == len(rows) - 2


def test_residents_report_shows_the_incidents_status() -> None:
    result = resolve_incidents(pd.DataFrame(SHED + SAME_BUILDING_OTHER_INCIDENTS + MONTH))
    shown = result.lineage.merge(result.incidents, on="incident_id").set_index("record_id")
    assert shown.loc["R1", "status"] == "处置中"
    assert shown.loc["R2", "status"] == "上报", "a report nobody has acted on yet is at the first stage"
    assert list(result.incidents.columns) == INCIDENT_COLUMNS


def test_incident_ids_come_from_the_earliest_report_whatever_the_row_order() -> None:
    rows = pd.DataFrame(SHED + SAME_BUILDING_OTHER_INCIDENTS + ELSEWHERE + MONTH)
    first = resolve_incidents(rows).lineage.sort_values("record_id", ignore_index=True)
    shuffled = resolve_incidents(rows.sample(frac=1.0, random_state=3)).lineage
    assert first.equals(shuffled.sort_values("record_id", ignore_index=True))
    assert incident_of(first, "G7") == incident_id_for("resident", "R1")


def test_a_report_with_unknown_category_and_no_time_still_gets_an_incident() -> None:
    odd = report("resident", "U1", "小区停电了", "", "", "整栋楼没电")
    result = resolve_incidents(pd.DataFrame([*SHED, odd, *MONTH]))
    assert incident_of(result.lineage, "U1") == incident_id_for("resident", "U1")
    merged = result.incidents.set_index("incident_id").loc[incident_id_for("resident", "U1")]
    assert merged[["category", "first_reported_at"]].isna().all()


def test_reports_of_one_flat_more_than_a_week_apart_are_never_one_incident() -> None:
    first, again = SHED[0], {**SHED[1], "record_id": "G9", "reported_at": "2026-05-10 09:00:00"}
    echo = {**SHED[2], "record_id": "X9", "reported_at": "2026-05-06 20:00:00"}
    result = resolve_incidents(pd.DataFrame([first, echo, again, *MONTH]))
    assert incident_of(result.lineage, "R1") != incident_of(result.lineage, "G9")
    explained = result.link.explain(("resident", "R1"), ("grid", "G9")).fields.set_index("field")
    assert explained.loc["reported_at", "level"] == "more than a week apart"
    assert explained.loc["location", "level"] == "same room"


def test_unrelated_categories_at_one_flat_stay_apart_even_through_a_report_related_to_both() -> None:
    flat = "芗城区建元路54号9栋4单元1102室"
    parked = report("resident", "P1", "乱停车", "2026-05-03 08:00:00", flat, "车停在楼下")
    blocked = report("grid", "P2", "消防通道堵塞", "2026-05-03 08:30:00", flat, "消防通道堵塞", grid="胜利社区05网格")
    junk = report("intake", "P3", "楼道堆满杂物", "2026-05-03 09:00:00", flat, "楼道堆满杂物")
    result = resolve_incidents(pd.DataFrame([parked, blocked, junk, *MONTH]))
    assert incident_of(result.lineage, "P1") != incident_of(result.lineage, "P3")
    explained = result.link.explain(("resident", "P1"), ("intake", "P3"))
    assert "unrelated categories" in set(explained.fields["level"])


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


def test_reporters_are_counted_once_however_often_they_report() -> None:
    """The resident who reports twice and the grid worker who files two updates are one reporter each."""
    again = [
        {**SHED[0], "record_id": "R1b", "reported_at": "2026-05-03 09:30:00", "description": "棚子还在搭"},
        {**SHED[1], "record_id": "G7b", "reported_at": "2026-05-03 13:10:00", "description": "违章搭建，复查仍在"},
    ]
    result = resolve_incidents(pd.DataFrame(SHED + again + SAME_BUILDING_OTHER_INCIDENTS + ELSEWHERE + MONTH))
    shed_ids = {incident_of(result.lineage, r) for r in ("R1", "R1b", "G7", "G7b", "X2")}
    assert len(shed_ids) == 1
    shed = result.incidents.set_index("incident_id").loc[shed_ids.pop()]
    assert shed["report_count"] == 5
    assert shed["reporter_count"] == 3, "the resident, the grid's worker and the community staff member"
