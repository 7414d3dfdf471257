"""Department reports and community rosters from hand-built golden persons and incidents."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.push import DeliveryLog
from connectors.return_marker import recognise_return
from connectors.simulated.department_inbox import DepartmentInbox
from hub_errors import ConfigError
from pipelines.departments import load_report_spec, load_report_specs
from pipelines.reporting import (
    build_community_rosters,
    build_department_report,
    build_department_reports,
    deliver_report,
    write_community_rosters,
    write_report_workbook,
)

AS_OF = date(2026, 3, 1)
GENERATED = datetime(2026, 2, 28, 23, 0, 0, tzinfo=UTC)


def person(
    pid: str,
    name: str,
    id_no: str | None,
    gender: str | None,
    birth: str | None,
    sources: str,
    community: str | None,
    **attributes: object,
) -> dict[str, object]:
    return {
        "person_id": pid,
        "name": name,
        "id_no": id_no,
        "gender": gender,
        "birth": birth,
        "phone": "13912345678",
        "address": f"{community or ''}幸福路1号",
        "address_canonical": f"{community}幸福路1号",
        "addr_district": "芗城区",
        "addr_street": "东铺头街道",
        "addr_community": community,
        "grid": "网格01",
        "community": community,
        "attributes": json.dumps(attributes, ensure_ascii=False),
        "sources": sources,
        "record_count": len(sources.split(";")),
        "provenance": json.dumps({"id_no": {"source": sources.split(";")[0], "record_id": "r1"}}),
    }


@pytest.fixture
def persons() -> pd.DataFrame:
    return pd.DataFrame(
        [
            person(
                "P1",
                '=HYPERLINK("x")',
                "350603195001011234",
                "1",
                "1950-01-01",
                "grid;civil",
                "东铺头社区",
                aid_type="低保",
                monthly_amount="800",
                residence_status="人户一致",
            ),
            person(
                "P2",
                "李秀英",
                "35060319900215002X",
                "2",
                "1990-02-15",
                "grid;health",
                "南昌社区",
                chronic="高血压",
                family_doctor="王医生",
            ),
            person("P3", "王五", None, None, "1959-06-30", "health", None, chronic="糖尿病"),
            person("P4", "赵六", "350603196603010011", "1", "1966-03-01", "grid", "南昌社区"),
        ]
    )


@pytest.fixture
def incidents() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "incident_id": "I2",
                "category": "噪声扰民",
                "first_reported_at": "2026-02-20 21:05:00",
                "status": "受理",
                "reporter_count": 3,
                "report_count": 4,
                "grid": "网格01",
                "location": "幸福路1号",
                "location_canonical": "幸福路1号",
                "loc_community": "东铺头社区",
                "description": "+晚上太吵",
                "sources": "grid;resident",
                "report_ids": "g1;r1;r2;r3",
            },
            {
                "incident_id": "I1",
                "category": None,
                "first_reported_at": "2026-02-19 08:00:00",
                "status": "上报",
                "reporter_count": 1,
                "report_count": 1,
                "grid": "网格02",
                "location": "胜利路",
                "location_canonical": "胜利路",
                "loc_community": "南昌社区",
                "description": "路面有坑",
                "sources": "resident",
                "report_ids": "r9",
            },
        ]
    )


def test_specs_load_with_schedules_and_sections() -> None:
    specs = load_report_specs()
    assert {"grid", "health", "civil", "community"} <= set(specs)
    assert specs["civil"].cron_schedule == "0 6 1 * *"
    assert specs["grid"].execution_timezone == "Asia/Shanghai"
    assert [section.covers for section in specs["grid"].sections] == ["persons", "incidents"]
    assert specs["community"].kind == "roster"


def test_bad_spec_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("department: x\ntitle: t\nschedule: {cron: '0 6 * *'}\nsections: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*cron"):
        load_report_spec(path)
    path.write_text(
        "department: x\ntitle: t\nschedule: {cron: '0 6 * * *'}\n"
        "sections: [{sheet: s, covers: persons, include: {aged: 3}, columns: [{header: a, field: name}]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"unknown filter 'aged'"):
        load_report_spec(path)


def test_civil_covers_elderly_and_recipients_in_its_layout(persons: pd.DataFrame, incidents: pd.DataFrame) -> None:
    report = build_department_report(load_report_specs()["civil"], persons, incidents, as_of=AS_OF)
    table = report.tables[0].frame
    assert list(table["编号"]) == ["P1", "P4", "P3"]  # civil source / aged 60+; sorted by community
    first = table.iloc[0]
    assert first["出生年月"] == date(1950, 1, 1) and first["性别"] == "男" and first["年龄"] == 76
    assert first["救助类型"] == "低保" and first["月发放金额"] == 800
    assert first["身份证号"] == "350603195001011234"
    assert table.iloc[1]["救助类型"] == "无"
    assert "慢性病" not in table.columns  # health data is not civil affairs' to see: not sent at all
    assert report.tables[0].withheld == ("慢性病",)
    assert "P2" not in set(table["编号"])


def test_health_uses_codes_and_masks_what_it_is_not_entitled_to(persons: pd.DataFrame) -> None:
    report = build_department_report(load_report_specs()["health"], persons, pd.DataFrame(), as_of=AS_OF)
    table = report.tables[0].frame.set_index("person_id")
    assert set(table.index) == {"P1", "P2", "P3"}  # its records and everyone aged 65 or over
    assert table.loc["P2", "sex"] == "2" and table.loc["P3", "sex"] == "9"
    assert table.loc["P2", "birthday"] == "19900215"
    assert table.loc["P2", "chronic"] == "高血压" and table.loc["P1", "age"] == 76
    # benefits are civil affairs' business: the column is not sent at all
    assert "aid_type" not in table.columns


def test_grid_lists_incidents_and_masks_id_numbers(persons: pd.DataFrame, incidents: pd.DataFrame) -> None:
    report = build_department_report(load_report_specs()["grid"], persons, incidents, as_of=AS_OF)
    residents, events = report.tables
    assert report.counts == {"实有人口": 3, "网格事件": 2}
    # the county only: birth date and sex are shown beside it, so the last four would rebuild it
    assert list(residents.frame["公民身份号码"]) == ["350603************"] * 3
    assert list(events.frame["事件编号"]) == ["I1", "I2"]
    assert list(events.frame["事件类型"]) == ["未归类", "噪声扰民"]
    assert events.frame.iloc[1]["首次上报时间"] == datetime(2026, 2, 20, 21, 5)
    assert events.records()[1]["首次上报时间"] == "2026-02-20 21:05", "pushes keep the text layout"
    assert events.frame.iloc[1]["上报人数"] == 3


def test_each_department_workbook_opens_with_text_ids_masks_and_no_formulas(
    persons: pd.DataFrame, incidents: pd.DataFrame, tmp_path: Path
) -> None:
    reports = build_department_reports(load_report_specs(), persons, incidents, as_of=AS_OF)
    assert set(reports) == {"grid", "health", "civil"}
    id_headers = {"grid": "公民身份号码", "health": "id_card", "civil": "身份证号"}
    for name, report in reports.items():
        path = write_report_workbook(report, tmp_path / f"{name}.xlsx", run_id="run-7", generated_at=GENERATED)
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames == ["说明", *(table.sheet for table in report.tables)]
        cover = {row[0]: row[1] for row in wb["说明"].iter_rows(values_only=True) if row and row[0]}
        assert cover["运行编号"] == "run-7"
        assert cover["生成时间"] == "2026-03-01 07:00:00"  # China time
        ws = wb[report.tables[0].sheet]
        headers = [cell.value for cell in ws[1]]
        id_column = headers.index(id_headers[name])
        ids = [row[id_column] for row in ws.iter_rows(min_row=2) if row[id_column].value is not None]
        assert ids and all(cell.data_type == "s" and isinstance(cell.value, str) for cell in ids)
        for row in ws.iter_rows(min_row=2):
            assert all(cell.data_type != "f" for cell in row)
        if name == "grid":
            assert all("********" in cell.value for cell in ids)
            names = [row[headers.index("姓名")].value for row in ws.iter_rows(min_row=2)]
            assert '\'=HYPERLINK("x")' in names
            description = [row[8].value for row in wb["网格事件"].iter_rows(min_row=2)]
            assert "'+晚上太吵" in description


def test_cover_sheet_says_where_each_column_comes_from(persons: pd.DataFrame, tmp_path: Path) -> None:
    report = build_department_report(load_report_specs()["civil"], persons, pd.DataFrame(), as_of=AS_OF)
    path = write_report_workbook(report, tmp_path / "civil.xlsx", run_id="r", generated_at=GENERATED)
    rows = list(openpyxl.load_workbook(path)["说明"].iter_rows(values_only=True))
    lineage = {row[1]: row for row in rows if row and row[0] == "核对名单"}
    assert lineage["身份证号"][2] == "身份证号" and "网格 2 条" in lineage["身份证号"][3]
    assert "未发送" in lineage["慢性病"][4]
    assert "按中文填写：男、女" in lineage["性别"][4]
    assert "日期单元格" in lineage["出生年月"][4] and "2026年1月5日" in lineage["出生年月"][4]
    assert lineage["年龄"][3] == "由出生日期按统计日计算"


def test_community_rosters_are_per_community_and_masked(persons: pd.DataFrame, tmp_path: Path) -> None:
    spec = load_report_specs()["community"]
    rosters = build_community_rosters(persons, spec, as_of=AS_OF)
    assert set(rosters) == {"东铺头社区", "南昌社区", "未识别社区"}
    south = rosters["南昌社区"].frame
    assert list(south["人员编号"]) == ["P2", "P4"]
    assert list(south["联系电话"]) == ["139****5678"] * 2
    assert south.iloc[0]["公民身份号码"] == "350603************"
    paths = write_community_rosters(rosters, spec, tmp_path, run_id="r", generated_at=GENERATED, as_of=AS_OF)
    assert paths["南昌社区"] == tmp_path / "rosters" / "南昌社区_2026-03-01.xlsx"
    book = openpyxl.load_workbook(paths["南昌社区"])
    ws = book["居民名册"]
    assert ws.max_row == 3 and ws["C2"].value == "350603************"
    assert ws.cell(1, ws.max_column).value == "核对结果"
    (validation,) = ws.data_validations.dataValidation
    assert validation.formula1 == '"无误,信息有误已更正,已迁出,已死亡"'
    marker = recognise_return(paths["南昌社区"])
    assert marker is not None and (marker.kind, marker.facts["community"]) == ("roster", "南昌社区")
    assert book["_hub_return"].sheet_state == "veryHidden"
    cover = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True) if row and row[0]}
    assert cover["名册编号"] == marker.send_id and "核对人（请填写）" in cover and "已死亡" in cover["填写说明"]
    with pytest.raises(ConfigError):
        build_community_rosters(persons, load_report_specs()["civil"])


def test_deliver_report_writes_the_workbook_and_pushes_once(
    persons: pd.DataFrame, incidents: pd.DataFrame, tmp_path: Path
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    report = build_department_report(load_report_specs()["grid"], persons, incidents, as_of=AS_OF)
    with DepartmentInbox() as inbox:
        env = {"HUB_DEPARTMENT_INBOX_URL": inbox.url}
        outcome = deliver_report(report, out_dir=tmp_path, run_id="run-1", engine=engine, env=env)
        again = deliver_report(report, out_dir=tmp_path, run_id="run-2", engine=engine, env=env)
        assert outcome.workbooks == [tmp_path / "reports" / "grid_网格_2026-03-01.xlsx"]
        assert [len(push.delivered) for push in outcome.pushes] == [1, 1]
        assert [len(push.skipped) for push in again.pushes] == [1, 1]
        assert len(inbox.keys("grid")) == 2
        assert {row["公民身份号码"] for row in inbox.rows("grid") if "公民身份号码" in row} == {"350603************"}
    assert len(DeliveryLog(engine).entries()) == 4
    skipped = deliver_report(report, out_dir=tmp_path, run_id="run-3", engine=engine, env={})
    assert skipped.pushes == [] and "unset variable" in skipped.not_attempted[0]


def test_a_sheet_past_the_row_limit_is_split_by_district_then_community_then_numbered(
    incidents: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = [("芗城区", "东铺头社区", 250), ("龙文区", "蓝田社区", 200), ("龙文区", "朝阳社区", 500)]
    rows = []
    for district, community, count in layout:
        for _ in range(count):
            row = person(f"P{len(rows):06d}", "林小红", None, "2", "1980-01-01", "grid", community)
            rows.append({**row, "addr_district": district})
    persons = pd.DataFrame(rows)
    monkeypatch.setenv("HUB_SHEET_ROW_LIMIT", "300")
    report = build_department_report(load_report_specs()["grid"], persons, incidents, as_of=AS_OF)
    with DepartmentInbox() as inbox:
        env = {"HUB_DEPARTMENT_INBOX_URL": inbox.url}
        outcome = deliver_report(report, out_dir=tmp_path, run_id="run-1", engine=None, env=env)
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
        pushed = deliver_report(report, out_dir=tmp_path / "again", run_id="run-1", engine=engine, env=env)
        assert len([row for row in inbox.rows("grid") if "公民身份号码" in row]) == 950, "pushed rows unchanged"
        assert [len(push.delivered) for push in pushed.pushes] == [2, 1], "batches of 500 as without a split"
    book = openpyxl.load_workbook(outcome.workbooks[0], read_only=True)
    person_sheets = {
        name: sum(1 for _ in book[name].iter_rows(min_row=2)) for name in book.sheetnames if name.startswith("实有人口")
    }
    assert person_sheets == {
        "实有人口_芗城区": 250,
        "实有人口_龙文区朝阳社区1": 300,
        "实有人口_龙文区朝阳社区2": 200,
        "实有人口_龙文区蓝田社区": 200,
    }
    assert "网格事件" in book.sheetnames, "a sheet under the limit stays whole"
    facts = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True) if len(row) > 1 and row[0]}
    assert "按区拆分" in facts["实有人口 拆分"] and "4 个工作表" in facts["实有人口 拆分"]
    assert facts["实有人口 行数"] == 950
    assert "网格事件 拆分" not in facts
    book.close()


ASCII_WORD = re.compile(r"[A-Za-z_]{3,}")


def cover_of(path: Path) -> tuple[dict[str, object], list[tuple[object, ...]]]:
    rows = list(openpyxl.load_workbook(path)["说明"].iter_rows(values_only=True))
    facts = {row[0]: row[1] for row in rows if row and row[0] and len(row) > 1 and row[1] is not None}
    return facts, rows


def test_dates_a_clerk_sorts_are_date_cells_unless_the_spec_asks_for_text(
    persons: pd.DataFrame, incidents: pd.DataFrame, tmp_path: Path
) -> None:
    reports = build_department_reports(load_report_specs(), persons, incidents, as_of=AS_OF)
    expected = {
        ("grid", "实有人口", "出生日期"): "yyyy-mm-dd",
        ("grid", "网格事件", "首次上报时间"): "yyyy-mm-dd hh:mm",
        ("civil", "核对名单", "出生年月"): 'yyyy"年"m"月"d"日"',
    }
    for name, report in reports.items():
        path = write_report_workbook(report, tmp_path / f"{name}.xlsx", run_id="r", generated_at=GENERATED)
        book = openpyxl.load_workbook(path)
        for (department, sheet, header), number_format in expected.items():
            if department != name:
                continue
            ws = book[sheet]
            column = [cell.value for cell in ws[1]].index(header)
            cells = [row[column] for row in ws.iter_rows(min_row=2) if row[column].value is not None]
            assert cells and all(cell.is_date and cell.number_format == number_format for cell in cells), header
        if name == "health":  # the health system imports its own text layout (19900215)
            ws = book["居民名单"]
            column = [cell.value for cell in ws[1]].index("birthday")
            assert {ws.cell(row=r, column=column + 1).data_type for r in range(2, ws.max_row + 1)} <= {"s", "n"}
            assert ws.cell(row=2, column=column + 1).value in {"19500101", "19900215", "19590630"}


def test_cover_counts_are_numbers_and_nothing_staff_read_is_in_english(
    persons: pd.DataFrame, incidents: pd.DataFrame, tmp_path: Path
) -> None:
    reports = build_department_reports(load_report_specs(), persons, incidents, as_of=AS_OF)
    for name in ("grid", "civil"):
        path = write_report_workbook(reports[name], tmp_path / f"{name}.xlsx", run_id="run-7", generated_at=GENERATED)
        facts, rows = cover_of(path)
        counts = {label: value for label, value in facts.items() if str(label).endswith("行数")}
        assert counts and all(isinstance(value, int) for value in counts.values()), counts
        texts = [" ".join(map(str, filter(None, row))) for row in rows if row and row[0] != "运行编号"]
        words = [(text, word) for text in texts for word in ASCII_WORD.findall(text)]
        assert words == [], words
    grid = openpyxl.load_workbook(tmp_path / "grid.xlsx")["实有人口"]
    column = [cell.value for cell in grid[1]].index("数据来源")
    assert [row[column].value for row in grid.iter_rows(min_row=2)] == ["网格、民政", "网格、卫健", "网格"]
    facts, _ = cover_of(tmp_path / "civil.xlsx")
    assert facts["核对名单 范围"] == "（年满 60 周岁 或 民政系统有记录 或 救助类型不为空）"


def test_health_code_table_is_described_in_words(persons: pd.DataFrame, tmp_path: Path) -> None:
    report = build_department_report(load_report_specs()["health"], persons, pd.DataFrame(), as_of=AS_OF)
    _, rows = cover_of(write_report_workbook(report, tmp_path / "h.xlsx", run_id="r", generated_at=GENERATED))
    sex = next(row for row in rows if row and row[1] == "sex")
    assert sex[4] == "按本单位代码填写：男填1，女填2；缺失填“9”" and "→" not in sex[4]


def test_columns_a_department_may_see_none_of_are_not_sent_and_the_cover_says_why(
    persons: pd.DataFrame, tmp_path: Path
) -> None:
    report = build_department_report(load_report_specs()["civil"], persons, pd.DataFrame(), as_of=AS_OF)
    path = write_report_workbook(report, tmp_path / "civil.xlsx", run_id="r", generated_at=GENERATED)
    headers = [cell.value for cell in openpyxl.load_workbook(path)["核对名单"][1]]
    assert "慢性病" not in headers and "户籍地址" in headers
    assert all("慢性病" not in row for row in report.tables[0].records())
    facts, _ = cover_of(path)
    assert str(facts["未发送的列"]).startswith("慢性病（") and "无权查看" in str(facts["未发送的列"])
    health = build_department_report(load_report_specs()["health"], persons, pd.DataFrame(), as_of=AS_OF)
    path = write_report_workbook(health, tmp_path / "health.xlsx", run_id="r", generated_at=GENERATED)
    assert cover_of(path)[0]["未发送的列"].startswith("aid_type（救助类型）")  # type: ignore[union-attr]


def test_civil_registered_address_comes_only_from_a_registered_address(persons: pd.DataFrame) -> None:
    registered = json.dumps({"aid_type": "低保", "registered_address": "漳浦县绥安镇新华社区胜利西路211号"})
    persons.loc[persons["person_id"] == "P1", "attributes"] = registered
    table = build_department_report(load_report_specs()["civil"], persons, pd.DataFrame(), as_of=AS_OF).tables[0]
    frame = table.frame.set_index("编号")
    assert frame.loc["P1", "户籍地址"] == "漳浦县绥安镇新华社区胜利西路211号"
    assert pd.isna(frame.loc["P4", "户籍地址"]), "the current address (南昌社区幸福路1号) is no registered address"
    assert frame.loc["P4", "所属社区"] == "南昌社区"


def test_each_roster_names_its_community_as_recipient(persons: pd.DataFrame, tmp_path: Path) -> None:
    spec = load_report_specs()["community"]
    rosters = build_community_rosters(persons, spec, as_of=AS_OF)
    paths = write_community_rosters(rosters, spec, tmp_path, run_id="r", generated_at=GENERATED, as_of=AS_OF)
    assert cover_of(paths["南昌社区"])[0]["接收单位"] == "南昌社区居民委员会"
    assert cover_of(paths["南昌社区"])[0]["居民名册 范围"] == "全部，所属社区为南昌社区"
    assert "核实" in str(cover_of(paths["未识别社区"])[0]["接收单位"])


def test_every_report_workbook_is_set_up_for_printing(
    persons: pd.DataFrame, incidents: pd.DataFrame, tmp_path: Path
) -> None:
    reports = build_department_reports(load_report_specs(), persons, incidents, as_of=AS_OF)
    for name, report in reports.items():
        path = write_report_workbook(report, tmp_path / f"{name}.xlsx", run_id="r", generated_at=GENERATED)
        book = openpyxl.load_workbook(path)
        for ws in book.worksheets:
            assert ws.page_setup.orientation == "landscape", (name, ws.title)
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (1, None)
            assert ws.page_setup.fitToHeight == 0
            assert "&P" in (ws.oddFooter.center.text or "") and "&N" in (ws.oddFooter.center.text or "")
            if ws.title != "说明":
                assert ws.print_title_rows == "$1:$1", (name, ws.title)


def test_record_view_counts_provenance_sources_per_field_whatever_the_record_ids() -> None:
    from pipelines.reporting import RecordView

    rows = [
        {"name": {"record_id": 'g"1', "source": "grid"}, "phone": {"record_id": "h\\2", "source": "health"}},
        {"name": {"record_id": "c, 3", "source": "civil"}, "phone": {"record_id": "g4", "source": "grid"}},
        {"name": {"record_id": "g5", "source": "grid"}},
    ]
    texts = [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in rows]
    view = RecordView(pd.DataFrame({"provenance": [*texts, "not json", None]}), AS_OF)
    assert view.origins["name"] == {"grid": 2, "civil": 1}
    assert list(view.origins["name"].most_common()) == [("grid", 2), ("civil", 1)]
    assert view.origins["phone"] == {"health": 1, "grid": 1}
    indented = RecordView(pd.DataFrame({"provenance": [json.dumps(rows[0], indent=1), texts[1]]}), AS_OF)
    assert indented.origins["phone"] == {"health": 1, "grid": 1}, "texts with line breaks are parsed one by one"


def test_record_view_values_treat_blanks_as_missing_and_ages_count_birthdays() -> None:
    from pipelines.reporting import RecordView, age_on

    births = ["1990-03-01", "1990-03-02", "  ", None, "19900301", "2000-02-29 08:00"]
    frame = pd.DataFrame({"birth": births, "name": ["张伟", " ", "", None, "李娜", 3]})
    view = RecordView(frame, AS_OF)
    assert view.values("name").tolist() == ["张伟", None, None, None, "李娜", 3]
    assert view.values("age").tolist() == [age_on(birth, AS_OF) for birth in births] == [36, 35, None, None, None, 26]
