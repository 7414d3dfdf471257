import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from stdnum.cn import ric

from connectors.civil_inbox import read_civil_inbox
from hub_errors import ConfigError, MappingError
from schemas.mapping import load_mapping, parse_mapping
from schemas.models import EVENT_COLUMNS, RESIDENT_COLUMNS
from schemas.standardize import accounting, standardize

GRID_HEADER = [
    "记录编号",
    "姓名",
    "公民身份号码",
    "性别",
    "出生日期",
    "联系电话",
    "现住址",
    "所属网格",
    "人户状态",
]


def grid_rows(*rows: list[str]) -> pd.DataFrame:
    return pd.DataFrame([list(r) for r in rows], columns=GRID_HEADER)


def test_clean_row_accepted_in_shared_schema() -> None:
    rows = grid_rows(
        [
            "G1",
            "陳 麗婷",
            "11010519491231002x",
            "女",
            "1949/12/31",
            "+86 139 1234 5678",
            "福建省漳州市芗城区建元路38号3幢二单元501室",
            "胜利社区01网格",
            "人户一致",
        ],
    )
    result = standardize("residents", "grid", rows)
    assert list(result.accepted.columns) == RESIDENT_COLUMNS
    row = result.accepted.iloc[0]
    assert (row["name"], row["name_key"], row["id_no"]) == ("陳 麗婷", "陈丽婷", "11010519491231002X")
    assert bool(row["id_valid"]) and row["gender"] == "2" and row["birth"] == "1949-12-31"
    assert row["phone"] == "13912345678"
    assert row["address_canonical"] == "建元路38号3栋2单元501"
    assert row["addr_district"] == "芗城区" and row["addr_street"] is None
    assert json.loads(row["attributes"]) == {"residence_status": "人户一致"}
    assert row["quality_flags"] == ""
    assert accounting(result) == {"received": 1, "accepted": 1, "quarantined": 0, "reasons": {}}


def test_soft_problems_keep_the_row_with_flags() -> None:
    rows = grid_rows(
        ["G1", "李明", "110105194912310021", "未填", "1950-01-01", "", "", "", ""],
    )
    result = standardize("residents", "grid", rows)
    flags = set(result.accepted.iloc[0]["quality_flags"].split(";"))
    assert {"id_checksum", "id_birth_mismatch", "gender_unknown", "gender_code_unknown"} <= flags
    assert not result.accepted.iloc[0]["id_valid"]


def test_hard_failures_quarantined_with_chinese_reasons() -> None:
    rows = grid_rows(
        ["G1", "", "11010519491231002X", "女", "1949-12-31", "", "", "", ""],
        ["G2", "王五", "", "男", "1990-02-30", "", "", "", ""],
        ["G3", "赵六", "", "男", "", "", "漳州市", "", ""],
        ["G4", "钱七", "", "男", "", "13912345678", "", "", ""],
        ["G4", "钱七", "", "男", "", "13912345678", "", "", ""],
        ["", "孙八", "", "男", "1990-01-01", "", "", "", ""],
        ["G5", "", "", "", "3000-01-01", "", "", "", ""],
    )
    result = standardize("residents", "grid", rows)
    assert result.accepted.empty
    quarantine = result.quarantine
    assert list(quarantine.columns) == ["source", "record_id", "field", "check", "value", "reason"]
    by_record = quarantine.groupby("record_id")["check"].apply(set).to_dict()
    assert by_record["G1"] == {"name_empty"}
    assert by_record["G2"] == {"birth_impossible", "identity_insufficient"}
    assert by_record["G3"] == {"identity_insufficient"}
    assert by_record["G4"] == {"record_id_duplicate"}
    assert by_record[""] == {"record_id_empty"}
    assert {"name_empty", "birth_out_of_range", "identity_insufficient"} <= by_record["G5"]
    assert quarantine.loc[quarantine["check"] == "name_empty", "reason"].iloc[0] == "姓名为空：请补录姓名后重新提交"
    counts = accounting(result)
    assert counts["received"] == 7 and counts["accepted"] == 0 and counts["quarantined"] == 7
    assert counts["reasons"]["record_id_duplicate"] == 2
    assert counts["reasons"]["identity_insufficient"] == 3


def test_missing_mapped_column_raises_naming_source_and_column() -> None:
    rows = grid_rows(["G1", "李明", "", "", "", "", "", "", ""]).drop(columns=["联系电话"])
    with pytest.raises(MappingError, match=r"grid.*联系电话"):
        standardize("residents", "grid", rows)


def test_events_standardized() -> None:
    rows = pd.DataFrame(
        [
            [
                "RE1",
                "私搭乱建",
                "2026/10/10 23:12:00",
                "漳州市芗城区水仙大街160号7栋1单元2703室",
                "在水仙大街",
                "13545107642",
            ],
            ["RE2", "外星人", "2026/10/11 08:00:00", "", "不知道是什么", ""],
            ["RE3", "私搭乱建", "昨天", "建元路1号", "", ""],
            ["RE4", "私搭乱建", "2026/10/11 08:00:00", "", "", ""],
        ],
        columns=["event_id", "category", "reported_at", "location", "description", "contact"],
    )
    result = standardize("events", "resident", rows)
    assert list(result.accepted.columns) == EVENT_COLUMNS
    first, second = result.accepted.iloc[0], result.accepted.iloc[1]
    assert (first["category"], first["category_raw"], bool(first["category_known"])) == (
        "违章搭建",
        "私搭乱建",
        True,
    )
    assert first["reported_at"] == "2026-10-10 23:12:00"
    assert first["location_canonical"] == "水仙大街160号7栋1单元2703" and first["channel"] == "居民小程序"
    assert second["category"] is None and "category_unknown" in second["quality_flags"]
    assert set(result.quarantine["check"]) == {"reported_at_invalid", "event_empty"}
    assert accounting(result)["quarantined"] == 2


def test_new_department_is_a_new_mapping_file(tmp_path: Path) -> None:
    (tmp_path / "residents_police.yaml").write_text(
        "dataset: residents\nsource: police\nrecord_id: ID\ncolumns: {NAME: name, CARD: id_no, SEX: gender}\n"
        "codes:\n  gender: {M: '1', F: '2'}\n",
        encoding="utf-8",
    )
    mapping = load_mapping("residents", "police", tmp_path)
    rows = pd.DataFrame({"ID": ["P1"], "NAME": ["Anna"], "CARD": ["11010519491231002X"], "SEX": ["F"]})
    accepted = standardize("residents", "police", rows, mapping=mapping).accepted
    assert accepted.iloc[0]["gender"] == "2" and accepted.iloc[0]["name_key"] == "anna"


def test_bad_mapping_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="record_id"):
        parse_mapping({"dataset": "residents", "source": "x", "columns": {"a": "name"}}, tmp_path / "m.yaml")
    with pytest.raises(ConfigError, match="未知字段"):
        parse_mapping({"dataset": "residents", "source": "x", "record_id": "i", "columns": {"a": "nom"}}, tmp_path)


def test_bench_sources_every_row_accounted_for(bench_small: Path) -> None:
    files = {
        ("residents", "grid"): "grid_residents.csv",
        ("residents", "health"): "health_records.csv",
        ("residents", "civil"): "civil_affairs.csv",
        ("events", "grid"): "grid_events.csv",
        ("events", "resident"): "resident_events.csv",
    }
    for (dataset, source), name in files.items():
        rows = pd.read_csv(bench_small / name, dtype=str, keep_default_na=False)
        big = pd.concat([rows] * 20, ignore_index=True)
        id_column = big.columns[0]
        big[id_column] = [f"{value}-{i}" for i, value in enumerate(big[id_column])]
        result = standardize(dataset, source, big)
        counts = accounting(result)
        assert counts["received"] == len(big) == counts["accepted"] + counts["quarantined"]
        assert counts["accepted"] > 0.9 * len(big)


def damaged_pair() -> tuple[str, str, str]:
    """Two people's ID numbers that Excel turns into one number (last three digits 000) which
    still passes the check character: the fault that merged two people."""
    for day in range(1, 29):
        prefix = f"3506271985010{day:02d}"[:15]
        damaged = prefix + "000"
        if ric.is_valid(damaged):
            first, second = (prefix + order for order in ("12", "34"))
            return first + ric.calc_check_digit(first + "0"), second + ric.calc_check_digit(second + "0"), damaged
    raise AssertionError("no such prefix")


def test_ids_stored_as_numbers_in_a_workbook_are_never_identities(tmp_path: Path) -> None:
    first, second, damaged = damaged_pair()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["救助与补贴对象名册"])
    sheet.append(["编号", "姓名", "身份证号", "性别", "出生年月", "电话", "户籍地址", "救助类型", "月发放金额"])
    # Excel keeps 15 significant digits of a numeric cell; another tool may store the exact integer
    sheet.append(["C1", "王芳", float(damaged), "女", "1985年1月2日", "", "芗城区幸福路1号2栋101室", "低保", 800])
    sheet.append(["C2", "林秀", float(damaged), "女", "1985年1月2日", "", "龙文区水仙大街9号1栋302室", "低保", 800])
    sheet.append(["C3", "陈明", int(first), "男", "", "", "", "", ""])
    sheet.append(["C4", "李强", second, "男", "", "", "芗城区幸福路3号", "", ""])
    path = tmp_path / "inbox" / "roster.xlsx"
    path.parent.mkdir()
    book.save(path)

    rows = pd.DataFrame([row.values for row in read_civil_inbox(path.parent)])
    result = standardize("residents", "civil", rows)
    accepted = result.accepted.set_index("record_id")
    assert set(accepted.index) | set(result.quarantine["record_id"]) == {"C1", "C2", "C3", "C4"}
    for record_id in ("C1", "C2"):
        assert ric.is_valid(damaged), "the damaged number passes the check character"
        assert accepted.loc[record_id, "id_no"] is None and not accepted.loc[record_id, "id_valid"]
        assert "id_from_number" in accepted.loc[record_id, "quality_flags"].split(";")
    # an exact integer cell is still a number: no identity, so the row lacks one and is quarantined
    c3 = result.quarantine[result.quarantine["record_id"] == "C3"]
    assert list(c3["check"]) == ["identity_insufficient"]
    assert accepted.loc["C4", "id_no"] == second and accepted.loc["C4", "id_valid"]


def test_an_excel_damaged_csv_id_with_a_failing_check_is_flagged() -> None:
    body = next(f"3506271985010{d:02d}" for d in range(1, 29) if not ric.is_valid(f"3506271985010{d:02d}000"))
    rows = grid_rows(["G1", "王芳", body + "000", "女", "1985-01-02", "", "芗城区幸福路1号2栋101室", "", ""])
    row = standardize("residents", "grid", rows).accepted.iloc[0]
    assert row["id_no"] is None and not row["id_valid"]
    assert "id_excel_truncated" in row["quality_flags"].split(";")
