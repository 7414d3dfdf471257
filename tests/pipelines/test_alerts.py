"""Cross-department verification (核验) on small crafted records: each kind, its wording and masking,
the 核验 sheet, the stored states (answered stays answered, a gone cause closes) and the rules file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from hub_errors import ConfigError
from pipelines.alerts import (
    CSV_COLUMNS,
    VERIFICATION_HEADERS,
    alert_id,
    apply_returned_answers,
    as_csv_frame,
    find_alerts,
    load_alert_rules,
    open_counts,
    parse_alert_rules,
    read_returned_answers,
    verification_table,
)
from pipelines.assets.alerts import judged_kinds
from pipelines.cli import main
from pipelines.departments import load_report_specs
from pipelines.reporting import build_department_report, write_report_workbook
from pipelines.warehouse import AlertAnswerError, Warehouse
from schemas.standardize import standardize

AS_OF = date(2026, 11, 1)
GRID_COLUMNS = ["记录编号", "姓名", "公民身份号码", "性别", "出生日期", "联系电话", "现住址", "所属网格", "人户状态"]
HEALTH_COLUMNS = ["record_id", "name", "id_card", "sex", "birthday", "mobile", "address", "chronic", "family_doctor"]
CIVIL_COLUMNS = ["编号", "姓名", "身份证号", "性别", "出生年月", "电话", "户籍地址", "救助类型", "月发放金额"]
ADDRESS = "漳州市芗城区胜利街道腾飞路12号3栋2单元501"


def id_number(first17: str) -> str:
    """A GB 11643 number with its check character."""
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


ID_1950 = id_number("35060219500307001")
ID_1940 = id_number("35060219400505002")


def records(deaths: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Standardized records of four people across the three departments, and their lineage.

    P1 (born 1950) has a death date in health, a grid record and a civil 低保 record;
    P2 (born 1940) has two civil 高龄津贴 records (a duplicate benefit), aged 86;
    P3 (born 1950, one record typo'd to 1940) receives 高龄津贴: under 80 by the dates most records give;
    P4 (born 1940, alive) receives 高龄津贴 lawfully and is registered in the grid.
    """
    deaths = {"H1": "2026-05-03"} if deaths is None else deaths
    id3, id4 = id_number("35060219500812002"), id_number("35060219400212003")
    grid = [
        ["G1", "陈大明", ID_1950, "男", "1950-03-07", "13912345678", ADDRESS, "胜利社区1网格", "人户一致"],
        ["G3", "林小红", id3, "女", "1950-08-12", "", ADDRESS, "胜利社区1网格", "人户一致"],
        ["G4", "黄老伯", id4, "男", "1940-02-12", "", ADDRESS, "胜利社区1网格", "人户一致"],
    ]
    health = [
        ["H1", "陈大明", ID_1950, "1", "19500307", "13912345678", ADDRESS, "", "", deaths.get("H1", "")],
        ["H3", "林小红", id3, "2", "19500812", "", ADDRESS, "", "", ""],
        ["H4", "黄老伯", id4, "1", "19400212", "", ADDRESS, "", "", deaths.get("H4", "")],
    ]
    civil = [
        ["C1", "陈大明", ID_1950, "男", "1950年3月7日", "13912345678", ADDRESS, "低保", "680"],
        ["C2", "王阿婆", ID_1940, "女", "1940年5月5日", "", ADDRESS, "高龄津贴", "200"],
        ["C3", "王阿婆", ID_1940, "女", "1940年5月5日", "", ADDRESS, "高龄津贴", "200"],
        ["C4", "林小红", id3, "女", "1940年8月12日", "", ADDRESS, "高龄津贴", "200"],
        ["C5", "黄老伯", id4, "男", "1940年2月12日", "", ADDRESS, "高龄津贴", "200"],
    ]
    frames = [
        standardize("residents", "grid", pd.DataFrame(grid, columns=GRID_COLUMNS)).accepted,
        standardize("residents", "health", pd.DataFrame(health, columns=[*HEALTH_COLUMNS, "death_date"])).accepted,
        standardize("residents", "civil", pd.DataFrame(civil, columns=CIVIL_COLUMNS)).accepted,
    ]
    std = pd.concat(frames, ignore_index=True)
    person = {"G1": "P1", "H1": "P1", "C1": "P1", "C2": "P2", "C3": "P2", "G3": "P3", "H3": "P3", "C4": "P3",
              "G4": "P4", "H4": "P4", "C5": "P4"}
    lineage = pd.DataFrame(
        [(s, r, person[r]) for s, r in zip(std["source"], std["record_id"], strict=True)],
        columns=["source", "record_id", "person_id"],
    )
    return std, lineage


def keys(alerts: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(zip(alerts["kind"], alerts["source"], alerts["record_id"], strict=True))


def test_each_kind_flags_the_record_the_issue_describes() -> None:
    std, lineage = records()
    alerts = find_alerts(std, lineage, load_alert_rules(), as_of=AS_OF)
    assert keys(alerts) == {
        ("deceased_receiving_aid", "civil", "C1"),
        ("deceased_still_registered", "grid", "G1"),
        ("duplicate_benefit", "civil", "C2"),
        ("duplicate_benefit", "civil", "C3"),
        ("age_ineligible", "civil", "C4"),
    }
    by_record = alerts.set_index(["kind", "record_id"])
    assert "H1" in by_record.loc[("deceased_receiving_aid", "C1"), "detail"]
    assert "2026-05-03" in by_record.loc[("deceased_still_registered", "G1"), "detail"]
    assert "C3" in by_record.loc[("duplicate_benefit", "C2"), "detail"]
    age = json.loads(by_record.loc[("age_ineligible", "C4"), "context"])
    assert (age["consensus_birth"], age["age"]) == ("1950-08-12", "76"), "two records' date wins over the typo"
    triples = alerts[["kind", "source", "record_id"]].to_numpy()
    assert alerts["alert_id"].tolist() == [alert_id(k, s, r) for k, s, r in triples], "ids stable across runs"


def test_no_death_date_column_no_deceased_alerts_and_the_mapping_accepts_its_absence() -> None:
    std, lineage = records(deaths={})
    health = std[std["source"] == "health"]
    assert all("death_date" not in json.loads(text) for text in health["attributes"])
    raw = pd.DataFrame([["H9", "陈大明", ID_1950, "1", "19500307", "", ADDRESS, "", ""]], columns=HEALTH_COLUMNS)
    assert len(standardize("residents", "health", raw).accepted) == 1, "a health export without death_date"
    kinds = set(find_alerts(std, lineage, load_alert_rules(), as_of=AS_OF)["kind"])
    assert kinds == {"duplicate_benefit", "age_ineligible"}


def test_a_death_date_after_the_reference_date_or_unreadable_is_no_evidence() -> None:
    std, lineage = records(deaths={"H1": "2027-01-05", "H4": "去年"})
    kinds = set(find_alerts(std, lineage, load_alert_rules(), as_of=AS_OF)["kind"])
    assert not kinds & {"deceased_receiving_aid", "deceased_still_registered"}


def test_reference_date_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    std, lineage = records()
    rules = load_alert_rules()
    monkeypatch.setenv("HUB_REFERENCE_DATE", "2031-01-01")  # P3 is 80 by then
    assert rules.as_of() == date(2031, 1, 1)
    assert "age_ineligible" not in set(find_alerts(std, lineage, rules)["kind"])
    monkeypatch.setenv("HUB_REFERENCE_DATE", "next week")
    with pytest.raises(ConfigError, match="HUB_REFERENCE_DATE"):
        rules.as_of()


def test_alerts_csv_has_the_contract_columns_and_masked_details(tmp_path: Path) -> None:
    rules = parse_alert_rules(
        {"rules": [{"kind": "phone_on_benefit", "title": "t", "source": "civil", "when": [{"present": "aid_type"}],
                    "detail": "电话 {phone}，身份证 {id_no}"}]},
        tmp_path / "alerts.yaml",
    )
    std, lineage = records()
    frame = as_csv_frame(find_alerts(std, lineage, rules, as_of=AS_OF))
    assert list(frame.columns) == CSV_COLUMNS
    detail = frame.set_index("record_id").loc["C1", "detail"]
    assert "13912345678" not in detail and "5678" in detail
    assert ID_1950 not in detail and ID_1950[:6] in detail


def test_verification_sheet_masks_evidence_to_the_departments_entitlements(tmp_path: Path) -> None:
    std, lineage = records()
    alerts = find_alerts(std, lineage, load_alert_rules(), as_of=AS_OF).assign(status="open")
    persons = pd.DataFrame({"person_id": ["P1", "P2", "P3"], "name": ["陈大明", "王阿婆", "林小红"]})
    specs = load_report_specs()
    civil = verification_table(specs["civil"], alerts, persons)
    assert list(civil.frame.columns) == list(VERIFICATION_HEADERS)
    assert set(civil.frame["记录编号"]) == {"C1", "C2", "C3", "C4"}
    assert "2026-05-03" in " ".join(civil.frame["其他部门依据"]), "civil is entitled to the date of death"
    not_entitled = specs["civil"].__class__(**{**specs["civil"].__dict__, "entitled": frozenset({"person_id"})})
    masked = verification_table(not_entitled, alerts, persons)
    assert "2026-05-03" not in " ".join(masked.frame["问题说明"]) + " ".join(masked.frame["其他部门依据"])
    assert not set(masked.frame["姓名"]) & {"陈大明", "王阿婆"}
    assert len(verification_table(specs["health"], alerts, persons).frame) == 0

    report = build_department_report(specs["civil"], persons.assign(sources="civil"), pd.DataFrame(
        columns=["incident_id"]), verification=civil)
    path = write_report_workbook(report, tmp_path / "civil.xlsx", run_id="r1", generated_at=pd.Timestamp.now(tz="UTC"))
    sheet = openpyxl.load_workbook(path)["核验"]
    assert sheet.max_row == 1 + 4
    (validation,) = sheet.data_validations.dataValidation
    assert validation.formula1 == '"核实无误,已更正,情况属实"'
    assert str(validation.sqref).startswith("J2")


def state(warehouse: Warehouse) -> dict[str, str]:
    frame = warehouse.alert_states()
    return dict(zip(frame["kind"] + ":" + frame["record_id"], frame["status"], strict=True))


def exercise_states(warehouse: Warehouse) -> None:
    rules = load_alert_rules()
    std, lineage = records()
    found = find_alerts(std, lineage, rules, as_of=AS_OF)
    current, closed = warehouse.reconcile_alerts(found, "run-1")
    assert closed == 0 and set(current["status"]) == {"open"} and len(current) == len(found)

    answered = alert_id("deceased_receiving_aid", "civil", "C1")
    warehouse.answer_alert(answered, "情况属实", by="民政张", allowed=rules.answers)
    with pytest.raises(AlertAnswerError):
        warehouse.answer_alert(answered, "随便", by="民政张", allowed=rules.answers)
    with pytest.raises(AlertAnswerError):
        warehouse.answer_alert("HY0000000000", "已更正", by="民政张", allowed=rules.answers)
    current, _ = warehouse.reconcile_alerts(found, "run-2")
    row = current.set_index("alert_id").loc[answered]
    assert (row["status"], row["answer"]) == ("answered", "情况属实"), "an answer stays in a later run"

    # Civil affairs stops C4's 高龄津贴: the cause is gone, its alert closes; others keep their state.
    fixed = std.copy()
    fixed.loc[fixed["record_id"] == "C4", "attributes"] = json.dumps({"aid_type": "低保"}, ensure_ascii=False)
    current, closed = warehouse.reconcile_alerts(find_alerts(fixed, lineage, rules, as_of=AS_OF), "run-3")
    assert closed == 1
    assert state(warehouse)["age_ineligible:C4"] == "closed"
    assert state(warehouse)["deceased_receiving_aid:C1"] == "answered"
    assert alert_id("age_ineligible", "civil", "C4") not in set(current["alert_id"])

    # The death date disappears while its source is held back: those kinds are not judged, nothing closes.
    alive = find_alerts(*records(deaths={}), rules, as_of=AS_OF)
    _, closed = warehouse.reconcile_alerts(alive, "run-4", judged=["duplicate_benefit", "age_ineligible"])
    assert closed == 0 and state(warehouse)["deceased_still_registered:G1"] == "open"

    # The 高龄津贴 is paid again: the alert opens again.
    current, _ = warehouse.reconcile_alerts(found, "run-5")
    assert state(warehouse)["age_ineligible:C4"] == "open"


def test_alert_states_on_sqlite(tmp_path: Path) -> None:
    exercise_states(Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}"))


def test_alert_states_on_postgres(pg_schema: tuple[str, str]) -> None:
    _, url = pg_schema
    exercise_states(Warehouse(sa.create_engine(url)))


def test_hub_answer_records_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    warehouse = Warehouse.from_url(url)
    found = find_alerts(*records(), load_alert_rules(), as_of=AS_OF)
    warehouse.reconcile_alerts(found, "run-1")
    target = found["alert_id"].iloc[0]
    assert main(["answer", target, "已更正", "--by", "网格李"]) == 0
    assert state(warehouse)[f"{found['kind'].iloc[0]}:{found['record_id'].iloc[0]}"] == "answered"
    assert main(["answer", target, "不知道"]) == 2
    assert "核验结果" in capsys.readouterr().err


def test_kinds_relying_on_a_held_source_are_not_judged() -> None:
    rules = load_alert_rules().rules
    guard = pd.DataFrame(
        {"dataset": ["residents", "residents"], "source": ["health", "civil"], "passed": [False, True]}
    )
    assert set(judged_kinds(rules, guard)) == {"duplicate_benefit", "age_ineligible"}


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"when": [{"older_than": 3}]}, "未知条件"),
        ({"when": [{"other_record": {"present": "x"}}]}, "other_record"),
        ({"when": [{"age_below": "eighty"}]}, "age_below"),
        ({"detail": None}, "缺少 detail"),
    ],
)
def test_a_bad_rule_names_the_file_and_the_rule(tmp_path: Path, rule: dict, problem: str) -> None:
    base = {"kind": "k", "title": "t", "source": "civil", "when": [{"present": "aid_type"}], "detail": "d"}
    with pytest.raises(ConfigError, match=problem) as error:
        parse_alert_rules({"rules": [{**base, **rule}]}, tmp_path / "alerts.yaml")
    assert "alerts.yaml" in str(error.value) and "rules[0]" in str(error.value)


def test_open_counts_per_department_with_overdue_alerts() -> None:
    alerts = pd.DataFrame(
        {
            "source": ["civil", "civil", "civil", "grid"],
            "kind": ["duplicate_benefit", "age_ineligible", "age_ineligible", "deceased_still_registered"],
            "status": ["open", "open", "answered", "open"],
            "first_seen_at": ["2026-09-01 08:00:00", "2026-11-20 08:00:00", "2026-09-01 08:00:00",
                              "2026-11-20 08:00:00"],
        }
    )
    counts = open_counts(alerts, ["grid", "civil", "health"], pd.Timestamp("2026-10-29", tz="UTC").to_pydatetime())
    assert counts["civil"] == {"open": 2, "answered": 1, "overdue": 1, "open_age_ineligible": 1,
                               "open_duplicate_benefit": 1}
    assert counts["grid"]["overdue"] == 0 and counts["health"] == {"open": 0, "answered": 0, "overdue": 0}


def test_answers_read_back_from_a_returned_workbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    warehouse = Warehouse.from_url(url)
    current, _ = warehouse.reconcile_alerts(find_alerts(*records(), load_alert_rules(), as_of=AS_OF), "run-1")
    persons = pd.DataFrame({"person_id": ["P1", "P2", "P3"], "name": ["陈大明", "王阿婆", "林小红"]})
    spec = load_report_specs()["civil"]
    report = build_department_report(
        spec, persons.assign(sources="civil"), pd.DataFrame(columns=["incident_id"]),
        verification=verification_table(spec, current, persons),
    )
    path = write_report_workbook(report, tmp_path / "civil.xlsx", run_id="r1", generated_at=pd.Timestamp.now(tz="UTC"))
    book = openpyxl.load_workbook(path)
    sheet = book["核验"]
    sheet["J2"], sheet["K2"] = "已更正", "已停发"
    sheet["J3"] = "不清楚"
    book.save(path)
    first, second = str(sheet["A2"].value), str(sheet["A3"].value)

    done = apply_returned_answers(warehouse, path, by="民政张")
    assert (done.applied, len(done.problems)) == (1, 1)
    assert "第 3 行" in done.problems[0] and "不清楚" in done.problems[0]
    states = warehouse.alert_states().set_index("alert_id")
    assert (states.loc[first, "status"], states.loc[first, "answer"], states.loc[first, "answer_note"]) == (
        "answered", "已更正", "已停发")
    assert states.loc[second, "status"] == "open"
    assert main(["answer", "--workbook", str(path)]) == 2, "the bad row is reported"
    with pytest.raises(ConfigError, match="核验"):
        read_returned_answers(_without_sheet(tmp_path))


def _without_sheet(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    path = tmp_path / "other.xlsx"
    book.save(path)
    return path
