"""Returned community rosters on small crafted records, real workbooks and a real warehouse: corrected
phones applied once and winning survivorship, a bad cell rejecting the file with a workbook naming
row and column, 已死亡 becoming alerts, returns of other kinds plugging in, intake left alone."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from connectors.return_marker import ReturnMarker, add_marker_openpyxl
from dedup import build_golden
from pipelines.alerts import find_alerts, load_alert_rules, verification_table
from pipelines.assets.resolved import with_community_records
from pipelines.assets.returns import current_ids
from pipelines.community_returns import (
    ALREADY_APPLIED,
    APPLIED,
    REJECTED,
    UNKNOWN_KIND,
    ReturnOutcome,
    apply_roster_return,
    process_returns,
    returned_files,
)
from pipelines.departments import load_report_specs
from pipelines.reporting import CHECKER_FACT, build_community_rosters, build_department_report, write_community_rosters
from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.roster_returns import community_records, record_roster_sends
from pipelines.survivorship import load_survivorship_rules
from pipelines.warehouse import Warehouse
from schemas.standardize import standardize

AS_OF = date(2026, 11, 1)
COMMUNITY = "胜利社区"
ADDRESS = f"漳州市芗城区胜利街道{COMMUNITY}腾飞路12号3栋2单元501"
GRID_COLUMNS = ["记录编号", "姓名", "公民身份号码", "性别", "出生日期", "联系电话", "现住址", "所属网格", "人户状态"]
HEALTH_COLUMNS = ["record_id", "name", "id_card", "sex", "birthday", "mobile", "address", "chronic", "family_doctor"]
CIVIL_COLUMNS = ["编号", "姓名", "身份证号", "性别", "出生年月", "电话", "户籍地址", "救助类型", "月发放金额"]
NEW_PHONES = {"P1": "13900001111", "P2": "13900002222", "P3": "13900003333"}


def id_number(first17: str) -> str:
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def standardized() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four persons of one community: P1..P3 in the grid and health records, P4 in the grid and civil."""
    ids = [id_number(f"3506021950030{n}00{n}") for n in range(1, 5)]
    names = ["陈大明", "林小红", "黄老伯", "王阿婆"]
    grid = [[f"G{n}", names[n - 1], ids[n - 1], "男", f"1950-03-0{n}", f"1380000000{n}", ADDRESS,
             f"{COMMUNITY}1网格", "人户一致"] for n in range(1, 5)]
    health = [[f"H{n}", names[n - 1], ids[n - 1], "1", f"1950030{n}", f"1380000000{n}", ADDRESS, "", ""]
              for n in range(1, 4)]
    civil = [["C4", names[3], ids[3], "男", "1950年3月4日", "13800000004", ADDRESS, "低保", "680"]]
    std = pd.concat(
        [
            standardize("residents", "grid", pd.DataFrame(grid, columns=GRID_COLUMNS)).accepted,
            standardize("residents", "health", pd.DataFrame(health, columns=HEALTH_COLUMNS)).accepted,
            standardize("residents", "civil", pd.DataFrame(civil, columns=CIVIL_COLUMNS)).accepted,
        ],
        ignore_index=True,
    )
    std["updated_at"] = "2026-10-01T08:00:00+08:00"
    lineage = pd.DataFrame({"source": std["source"], "record_id": std["record_id"],
                            "person_id": "P" + std["record_id"].str[1:]})
    return std, lineage


def golden(std: pd.DataFrame, lineage: pd.DataFrame, community: pd.DataFrame | None = None) -> pd.DataFrame:
    if community is not None:
        std, lineage = with_community_records(std, lineage, community, corrected_only=True)
    return build_golden(std, lineage.rename(columns={"person_id": "cluster_id"}), load_survivorship_rules())


class Hub:
    """A warehouse that sent one roster, the roster file, and the community inbox."""

    def __init__(self, tmp_path: Path) -> None:
        self.std, self.lineage = standardized()
        self.warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
        spec = load_report_specs()["community"]
        rosters = build_community_rosters(golden(self.std, self.lineage), spec, as_of=AS_OF)
        paths = write_community_rosters(rosters, spec, tmp_path / "out", run_id="run-1",
                                        generated_at=pd.Timestamp("2026-11-01T00:00:00Z").to_pydatetime(), as_of=AS_OF)
        record_roster_sends(self.warehouse, spec, rosters, run_id="run-1", as_of=AS_OF)
        self.roster = paths[COMMUNITY]
        self.inbox = tmp_path / "community-inbox"
        self.inbox.mkdir()

    def drop(self, name: str, cells: dict[tuple[str, str], object], *, checker: str = "王网格员",
             extra_rows: list[list[object]] = ()) -> Path:
        """The roster as staff return it: cells (person id, header) overwritten, saved under ``name``."""
        book = openpyxl.load_workbook(self.roster)
        sheet = book["居民名册"]
        header = [cell.value for cell in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for (person, column), value in cells.items():
                if row[0].value == person:
                    row[header.index(column)].value = value
        for extra in extra_rows:
            sheet.append(extra)
        for row in book.worksheets[0].iter_rows():
            if row[0].value == CHECKER_FACT:
                row[1].value = checker
        target = self.inbox / name
        book.save(target)
        return target

    def process(self, run_id: str = "run-2") -> list:
        return process_returns(self.inbox, self.warehouse, run_id)


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return Hub(tmp_path)


def corrected_phones() -> dict[tuple[str, str], object]:
    cells: dict[tuple[str, str], object] = {(p, "联系电话"): phone for p, phone in NEW_PHONES.items()}
    cells.update({(p, "核对结果"): "信息有误已更正" for p in NEW_PHONES})
    cells[("P4", "核对结果")] = "无误"
    return cells


def test_three_corrected_phones_are_applied_once_and_reach_the_health_report(hub: Hub) -> None:
    dropped = hub.drop("核对完毕.xlsx", corrected_phones())
    kept = hub.inbox.parent / "copy.xlsx"
    shutil.copy2(dropped, kept)

    (done,) = hub.process()
    assert (done.kind, done.outcome, done.corrections) == ("roster", APPLIED, 7)  # 3 phones, 4 results
    assert not dropped.exists() and Path(done.moved_to).parent == hub.inbox / "processed"
    log = hub.warehouse.rosters.corrections()
    phones = log[log["field"] == "phone"].set_index("person_id")
    assert phones["new_value"].to_dict() == NEW_PHONES
    assert set(phones["sent_value"]) == {"138****0001", "138****0002", "138****0003"}, "compared with what was sent"
    assert set(log["checked_by"]) == {f"{COMMUNITY}，王网格员"} and set(log["send_id"]) == {done.send_id}

    community = community_records(log)
    persons = golden(hub.std, hub.lineage, community).set_index("person_id")
    assert persons.loc[list(NEW_PHONES), "phone"].to_dict() == NEW_PHONES, "community-verified phone wins"
    assert persons.loc["P4", "phone"] == "13800000004", "a row checked 无误 changes nothing"
    assert '"phone": {"record_id": "' in persons.loc["P1", "provenance"] and "community" in persons.loc["P1", "sources"]
    report = build_department_report(load_report_specs()["health"], persons.reset_index(), pd.DataFrame(
        columns=["incident_id"]), as_of=AS_OF)
    rows = report.tables[0].frame.set_index("person_id")
    assert rows.loc[list(NEW_PHONES), "mobile"].to_dict() == NEW_PHONES

    shutil.copy2(kept, hub.inbox / "再传一次.xlsx")
    (again,) = hub.process("run-3")
    assert again.outcome == ALREADY_APPLIED and "核对完毕.xlsx" in again.reason
    assert len(hub.warehouse.rosters.corrections()) == len(log), "the same file is not applied twice"
    assert not list(hub.inbox.glob("*.xlsx"))


def test_a_bad_cell_rejects_the_file_with_a_workbook_naming_row_and_column(hub: Hub) -> None:
    cells = corrected_phones()
    cells[("P2", "联系电话")] = "1390000"  # too short
    cells[("P3", "公民身份号码")] = "350602195003030033"  # not correctable in a roster
    cells[("P4", "核对结果")] = "不清楚"
    dropped = hub.drop("名册.xlsx", cells, extra_rows=[["P999", "新来的"]])

    (done,) = hub.process()
    assert done.outcome == REJECTED
    assert not dropped.exists() and (hub.inbox / "rejected" / "名册.xlsx").exists()
    assert hub.warehouse.rosters.corrections().empty, "nothing of a rejected file is applied"
    book = openpyxl.load_workbook(hub.inbox / "rejected" / "名册_退回修改.xlsx")
    rows = list(book["退回明细"].iter_rows(values_only=True))
    assert rows[0] == ("工作表", "行号", "人员编号", "列", "填写的值", "原因")
    found = {(row[2], row[3]): row for row in rows[1:]}
    assert set(found) == {("P2", "联系电话"), ("P3", "公民身份号码"), ("P4", "核对结果"), ("P999", "人员编号")}
    assert "不是有效的手机号" in found[("P2", "联系电话")][5]
    assert "不能在名册中修改" in found[("P3", "公民身份号码")][5]
    assert "下拉列表" in found[("P4", "核对结果")][5]
    assert found[("P999", "人员编号")][1] == 6, "the row number staff see in Excel"
    assert all(isinstance(row[1], int) and row[1] >= 2 for row in rows[1:])

    fixed = {**cells, ("P2", "联系电话"): "13900002222", ("P3", "公民身份号码"): "350602************",
             ("P4", "核对结果"): "无误"}
    hub.drop("名册_改好了.xlsx", fixed)
    (again,) = hub.process("run-3")
    assert again.outcome == APPLIED, again.reason


@pytest.mark.parametrize(("result", "kind"), [("已死亡", "community_reported_deceased"),
                                              ("已迁出", "community_reported_moved_out")])
def test_deceased_or_moved_out_becomes_an_alert_for_each_department_carrying_the_person(
    hub: Hub, result: str, kind: str
) -> None:
    hub.drop("名册.xlsx", {("P4", "核对结果"): result, ("P1", "核对结果"): "无误"})
    (done,) = hub.process()
    assert done.outcome == APPLIED
    community = community_records(hub.warehouse.rosters.corrections())
    records, lineage = with_community_records(hub.std, hub.lineage, community, corrected_only=False)
    alerts = find_alerts(records, lineage, load_alert_rules(), as_of=AS_OF)
    raised = alerts[alerts["kind"] == kind]
    assert set(zip(raised["source"], raised["record_id"], strict=True)) == {("grid", "G4"), ("civil", "C4")}
    assert all(COMMUNITY in detail and "王网格员" in detail for detail in raised["detail"])
    persons = golden(hub.std, hub.lineage, community)
    assert len(persons) == 4, "a result alone is no record in the golden build"
    sheet = verification_table(load_report_specs()["civil"], raised, persons).frame
    (row,) = sheet[sheet["核验类型"].str.contains(result)].to_dict("records")
    assert "王网格员" in row["问题说明"] and result in row["其他部门依据"], "who checked is shown, not masked"


def test_a_grid_record_already_marked_deceased_raises_no_alert(hub: Hub) -> None:
    hub.drop("名册.xlsx", {("P4", "核对结果"): "已死亡"})
    hub.process()
    std = hub.std.copy()
    grid_p4 = (std["source"] == "grid") & (std["record_id"] == "G4")
    std.loc[grid_p4, "attributes"] = std.loc[grid_p4, "attributes"].str.replace("人户一致", "已死亡")
    community = community_records(hub.warehouse.rosters.corrections())
    records, lineage = with_community_records(std, hub.lineage, community, corrected_only=False)
    alerts = find_alerts(records, lineage, load_alert_rules(), as_of=AS_OF)
    assert set(alerts.loc[alerts["kind"] == "community_reported_deceased", "source"]) == {"civil"}


def test_unknown_sends_are_rejected_and_other_kinds_plug_in_or_wait(hub: Hub, tmp_path: Path) -> None:
    def workbook(name: str, marker: ReturnMarker) -> Path:
        book = openpyxl.Workbook()
        add_marker_openpyxl(book, marker)
        book.save(hub.inbox / name)
        return hub.inbox / name

    workbook("旧名册.xlsx", ReturnMarker("roster", "MCNOTSENT0000"))
    survey = workbook("问卷.xlsx", ReturnMarker("survey", "S1"))
    outcomes = {item.file_name: item for item in hub.process()}
    assert outcomes["旧名册.xlsx"].outcome == REJECTED and "不是本系统下发的名册" in outcomes["旧名册.xlsx"].reason
    assert outcomes["问卷.xlsx"].outcome == UNKNOWN_KIND and survey.exists(), "left for the handler that will come"

    seen = []

    def survey_handler(returned, warehouse, run_id, rejected_dir):  # type: ignore[no-untyped-def]
        seen.append(returned.marker.send_id)
        return ReturnOutcome(APPLIED)

    (done,) = process_returns(hub.inbox, hub.warehouse, "run-3", {"survey": survey_handler})
    assert seen == ["S1"] and done.outcome == APPLIED and not survey.exists()


def test_intake_reads_no_returned_roster_and_the_sensor_sees_both(hub: Hub) -> None:
    hub.drop("名册.xlsx", {("P1", "核对结果"): "无误"})
    intake = hub.inbox / "一表通.xlsx"
    from connectors.intake_workbook import write_intake_template

    write_intake_template(intake)
    inbox = CommunityInboxResource(path=str(hub.inbox))
    assert inbox.scan().workbooks == [intake]
    assert not inbox.scan().rejected, "a roster is no intake workbook to reject"
    assert {path.name for path in inbox.all_workbooks()} == {"名册.xlsx", "一表通.xlsx"}


def test_a_run_killed_after_applying_but_before_moving_does_not_apply_again(hub: Hub) -> None:
    dropped = hub.drop("名册.xlsx", corrected_phones())
    (returned,) = returned_files(hub.inbox)
    outcome = apply_roster_return(returned, hub.warehouse, "run-killed", hub.inbox / "rejected")
    assert outcome.outcome == APPLIED and dropped.exists(), "recorded, then the run died before the move"
    shutil.copy2(dropped, hub.inbox / "同一份的副本.xlsx")
    done = hub.process("run-next")
    assert [item.outcome for item in done] == [ALREADY_APPLIED, ALREADY_APPLIED]
    assert len(hub.warehouse.rosters.corrections()) == outcome.corrections
    assert not list(hub.inbox.glob("*.xlsx"))


def test_corrections_follow_a_person_merged_into_another() -> None:
    log = pd.DataFrame({"person_id": ["P1", "P2", "P9"], "field": ["phone"] * 3, "new_value": ["1", "2", "9"]})
    moved = current_ids(log, {"P1": "P5", "P5": "P7"}, known={"P2", "P7"})
    assert moved[["person_id", "new_value"]].values.tolist() == [["P7", "1"], ["P2", "2"]], "P9 is gone"


def test_a_phone_corrected_on_a_department_form_wins_like_a_roster_correction(hub: Hub) -> None:
    from datetime import UTC, datetime

    from pipelines.forms.store import form_corrections
    from pipelines.roster_returns import all_community_corrections

    hub.drop("核对完毕.xlsx", corrected_phones())
    hub.process()
    later = datetime(2099, 1, 1, tzinfo=UTC)
    with hub.warehouse.engine.begin() as conn:
        conn.execute(form_corrections.insert(), [
            {"return_id": 1, "form": "elderly_living_alone", "community": COMMUNITY, "person_id": "P1",
             "field": "phone", "sent_value": "138****0001", "corrected_value": "139 0000 0009", "recorded_at": later},
            {"return_id": 1, "form": "elderly_living_alone", "community": COMMUNITY, "person_id": "P2",
             "field": "phone", "sent_value": "138****0002", "corrected_value": "12345", "recorded_at": later},
        ])
    corrections = all_community_corrections(hub.warehouse)
    persons = golden(hub.std, hub.lineage, community_records(corrections)).set_index("person_id")
    assert persons.loc["P1", "phone"] == "13900000009", "the form's later correction wins over the roster's"
    assert persons.loc["P2", "phone"] == NEW_PHONES["P2"], "an invalid form value is not taken"
