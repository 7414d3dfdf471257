"""A form's round trip on real .xlsx files and a real warehouse: send, fill, return, consolidate."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from connectors.form_workbook import (
    DATA_SHEET,
    KEY_HEADER,
    FormMarker,
    read_form_return,
    write_form_workbook,
)
from connectors.intake_workbook import read_intake_workbook
from connectors.return_marker import LEGACY_FORM_SHEET, MARKER_SHEET, recognise_return
from pipelines.forms.consolidate import PROGRESS_SHEET, SUMMARY_SHEET
from pipelines.forms.returns import collect_returns
from pipelines.forms.run import consolidate_form, send_reminders
from pipelines.forms.send import form_columns, send_form
from pipelines.forms.spec import FormSpec, load_form_specs
from pipelines.forms.store import form_answers, form_corrections, form_returns, form_sends
from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.warehouse import Warehouse

AS_OF = date(2026, 11, 28)
NEW_ID = "350602195001011528"  # a valid GB 11643 number


def person(pid: str, name: str, id_no: str, birth: str, community: str, phone: str = "13912345678") -> dict:
    return {
        "person_id": pid,
        "name": name,
        "id_no": id_no,
        "gender": "2",
        "birth": birth,
        "phone": phone,
        "address": f"漳州市{community}幸福路1号",
        "address_canonical": f"{community}幸福路1号",
        "addr_district": "芗城区",
        "addr_street": "东铺头街道",
        "addr_community": community,
        "grid": f"{community}01网格",
        "attributes": "{}",
        "sources": "grid;health",
        "record_count": 2,
        "provenance": json.dumps({"name": {"source": "health", "record_id": "H1"}}),
    }


@pytest.fixture
def persons() -> pd.DataFrame:
    return pd.DataFrame(
        [
            person("P1", "陈秀兰", "35060219450101152X", "1945-01-01", "东铺头社区"),
            person("P2", "林国强", "350602195203041514", "1952-03-04", "东铺头社区", phone=""),
            person("P3", "黄美玉", "350602194811121521", "1948-11-12", "东铺头社区"),
            person("P4", "王建华", "350602194002021512", "1940-02-02", "新华社区"),
            person("P5", "李小明", "350602199001011518", "1990-01-01", "新华社区"),  # 36: not in the population
        ]
    )


@pytest.fixture
def spec() -> FormSpec:
    return load_form_specs()["elderly_living_alone"]


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    """The embedded SQLite warehouse and the real PostgreSQL (a fresh schema of its own)."""
    if request.param == "postgresql":
        _, url = request.getfixturevalue("pg_schema")
        return Warehouse.from_url(url)
    return Warehouse.from_url(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "community-inbox"
    folder.mkdir()
    return folder


def sent_book(out: Path, community: str) -> Path:
    (path,) = [p for p in (out / "forms" / "elderly_living_alone").glob(f"{community}_*.xlsx") if "催报" not in p.name]
    return path


def fill(source: Path, target: Path, answers: dict[str, dict[str, str]], added: list[dict[str, str]] = ()) -> Path:
    """Staff's work: answers per person key (header -> value), rows added below the list."""
    wb = load_workbook(source)
    ws = wb[DATA_SHEET]
    headers = [cell.value for cell in ws[1]]
    key_column = headers.index(KEY_HEADER) + 1
    last = 1
    for row in range(2, ws.max_row + 1):
        key = ws.cell(row=row, column=key_column).value
        if not key:
            continue
        last = row
        for header, value in answers.get(key, {}).items():
            ws.cell(row=row, column=headers.index(header) + 1, value=value)
    for offset, values in enumerate(added, start=1):
        for header, value in values.items():
            ws.cell(row=last + offset, column=headers.index(header) + 1, value=value)
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


def rows_of(engine: sa.Engine, table: sa.Table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(table)).mappings()]


def test_send_prefills_known_columns_masked_and_leaves_asks_blank(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path
) -> None:
    outcome = send_form(spec, persons, warehouse.engine, tmp_path / "out", as_of=AS_OF)
    assert outcome.persons == {"东铺头社区": 3, "新华社区": 1}
    assert outcome.all_cells == 4 * (len(spec.known) + len(spec.ask))
    assert outcome.prefilled_cells == 4 * len(spec.known) - 1  # P2 has no phone
    wb = load_workbook(sent_book(tmp_path / "out", "东铺头社区"))
    assert wb[MARKER_SHEET].sheet_state == "veryHidden"
    ws = wb[DATA_SHEET]
    headers = [cell.value for cell in ws[1]]
    first = {h: ws.cell(row=2, column=i + 1).value for i, h in enumerate(headers)}
    assert first["公民身份号码"].endswith("*" * 12) and first["联系电话"].count("*") == 4
    assert first["是否独居"] is None and first[KEY_HEADER] in {"P1", "P2", "P3"}
    dropdowns = [v.formula1 for v in ws.data_validations.dataValidation if v.type == "list"]
    assert '"是,否"' in dropdowns
    phone_column = headers.index("紧急联系人电话") + 1
    assert ws.cell(row=2, column=phone_column).number_format == "@"
    cover = " ".join(str(c.value) for row in wb["填写说明"].iter_rows() for c in row if c.value)
    assert "2026-12-15" in cover and "是否独居" in cover
    with warehouse.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(form_sends)).scalar() == 2


def test_return_answers_corrections_bad_cell_and_consolidation(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path, inbox: Path
) -> None:
    out = tmp_path / "out"
    send_form(spec, persons, warehouse.engine, out, as_of=AS_OF)
    fill(
        sent_book(out, "东铺头社区"),
        inbox / "东铺头.xlsx",
        {
            "P1": {"是否独居": "是", "紧急联系人电话": "13800001111", "联系电话": "13900002222"},
            "P2": {"是否独居": "不知道"},
            "P3": {"是否独居": "否", "紧急联系人电话": "12345"},
        },
    )
    (outcome,) = collect_returns({spec.form: spec}, warehouse, inbox)
    assert (outcome.status, outcome.answered, outcome.rejected, outcome.corrections) == ("accepted", 1, 2, 1)
    assert not (inbox / "东铺头.xlsx").exists() and (inbox / "processed" / "东铺头.xlsx").exists()
    rejection = load_workbook(outcome.rejection_file)
    ws = rejection[DATA_SHEET]
    headers = [cell.value for cell in ws[1]]
    marked = {
        (ws.cell(row=1, column=c.column).value, c.comment.text)
        for row in ws.iter_rows(min_row=2)
        for c in row
        if c.comment
    }
    assert ("是否独居", "是否独居只能从下拉列表中选择（是/否）") in marked
    assert any(h == "紧急联系人电话" and "无法识别为电话号码" in text for h, text in marked)
    assert {ws.cell(row=r, column=headers.index(KEY_HEADER) + 1).value for r in (2, 3)} == {"P2", "P3"}
    assert MARKER_SHEET in rejection.sheetnames  # fixed in place, it comes back as the same send
    (correction,) = rows_of(warehouse.engine, form_corrections)
    assert (correction["person_id"], correction["field"], correction["corrected_value"]) == (
        "P1",
        "phone",
        "13900002222",
    )

    fixed = fill(
        outcome.rejection_file,
        inbox / "东铺头_改.xlsx",
        {"P2": {"是否独居": "否"}, "P3": {"紧急联系人电话": "13800003333"}},
    )
    (again,) = collect_returns({spec.form: spec}, warehouse, inbox)
    assert (again.status, again.answered, again.rejected) == ("accepted", 2, 0), fixed
    done = consolidate_form(spec, warehouse.engine, persons, out, as_of=AS_OF, run_id="t")
    figures = done.progress.figures()
    assert (figures["returned"], figures["pending"], figures["overdue"]) == (1, 1, 0)
    assert (figures["persons_sent"], figures["persons_answered"]) == (4, 3)
    book = load_workbook(done.workbook)
    assert done.workbook.name == "汇总_elderly_living_alone.xlsx" and PROGRESS_SHEET in book.sheetnames
    header, *values = list(book[SUMMARY_SHEET].values)
    summary = pd.DataFrame(values, columns=header)
    p1 = summary[summary["人员编号"] == "P1"].iloc[0]
    assert p1["公民身份号码"] == "35060219450101152X"  # the department sees the number it is entitled to
    assert p1["联系电话"] == "13900002222" and "联系电话" in p1["社区更正"]
    assert summary.set_index("人员编号").loc["P2", "是否独居"] == "否"

    late = consolidate_form(spec, warehouse.engine, persons, out, as_of=date(2026, 12, 16), run_id="t2")
    assert late.progress.figures()["overdue"] == 1
    reminder = send_reminders(spec, warehouse.engine, persons, out, as_of=date(2026, 12, 16))
    assert reminder.persons == {"新华社区": 1}


def test_return_of_a_form_never_sent_is_refused(
    spec: FormSpec, warehouse: Warehouse, inbox: Path, tmp_path: Path
) -> None:
    forged = FormMarker(spec.form, "0123456789abcdef", "东铺头社区", spec.title, "2026-12-15")
    row = ["陈秀兰", "", "", "", "", "", "", "是", "", ""]
    write_form_workbook(inbox / "表.xlsx", forged, form_columns(spec), [row], ["P1"], [])
    (outcome,) = collect_returns({spec.form: spec}, warehouse, inbox)
    assert outcome.status == "unknown_send"
    assert not (inbox / "表.xlsx").exists() and (inbox / "rejected" / "表.xlsx").exists()
    cover = load_workbook(outcome.rejection_file)["填写说明"]
    assert "不是数据中心下发的表格" in " ".join(str(c.value) for r in cover.iter_rows() for c in r if c.value)
    assert rows_of(warehouse.engine, form_answers) == []


def test_same_return_dropped_twice_is_applied_once(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path, inbox: Path
) -> None:
    out = tmp_path / "out"
    send_form(spec, persons, warehouse.engine, out, as_of=AS_OF)
    filled = fill(sent_book(out, "新华社区"), tmp_path / "新华.xlsx", {"P4": {"是否独居": "是"}})
    shutil.copy(filled, inbox / "新华.xlsx")
    shutil.copy(filled, inbox / "新华 (1).xlsx")  # two copies in one drop
    outcomes = collect_returns({spec.form: spec}, warehouse, inbox)
    shutil.copy(filled, inbox / "新华.xlsx")  # and again on a later day
    outcomes += collect_returns({spec.form: spec}, warehouse, inbox)
    assert sorted(o.status for o in outcomes) == ["accepted", "duplicate", "duplicate"]
    assert len(rows_of(warehouse.engine, form_answers)) == 1
    assert [r["status"] for r in rows_of(warehouse.engine, form_returns)].count("accepted") == 1
    assert list(inbox.glob("*.xlsx")) == []


def test_row_added_by_staff_becomes_an_intake_record(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path, inbox: Path
) -> None:
    out = tmp_path / "out"
    send_form(spec, persons, warehouse.engine, out, as_of=AS_OF)
    added = {
        "姓名": "郑桂香",
        "公民身份号码": NEW_ID,
        "性别": "女",
        "现住址": "新华社区胜利路8号2栋101室",
        "是否独居": "是",
        "紧急联系人电话": "13700001234",
    }
    fill(sent_book(out, "新华社区"), inbox / "新华.xlsx", {"P4": {"是否独居": "否"}}, [added])
    (outcome,) = collect_returns({spec.form: spec}, warehouse, inbox)
    assert (outcome.status, outcome.answered, outcome.added, outcome.rejected) == ("accepted", 2, 1, 0)
    assert outcome.intake_file is not None and outcome.intake_file.parent == inbox
    intake = read_intake_workbook(outcome.intake_file)["residents"]
    assert [(r["姓名"], r["公民身份号码"], r["现住址"]) for r in intake] == [("郑桂香", NEW_ID, added["现住址"])]
    assert "是否独居：是" in intake[0]["备注"]
    stored = [r for r in rows_of(warehouse.engine, form_answers) if not r["person_id"]]
    assert [r["intake_record"] for r in stored] == [intake[0]["记录编号"]]
    assert read_form_return(outcome.intake_file) is None  # the next run reads it as intake, not as a return
    rows = consolidate_form(spec, warehouse.engine, persons, out, as_of=AS_OF, run_id="t").progress.rows
    assert rows[rows["来源"] == "社区新增"]["姓名"].tolist() == ["郑桂香"]


def test_community_inbox_leaves_form_returns_to_the_forms_reader(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path, inbox: Path
) -> None:
    out = tmp_path / "out"
    send_form(spec, persons, warehouse.engine, out, as_of=AS_OF)
    fill(sent_book(out, "新华社区"), inbox / "新华.xlsx", {"P4": {"是否独居": "是"}})
    read, scan = CommunityInboxResource(path=str(inbox)).read_all()
    assert read == {} and scan.rejected == []


def test_progress_asset_warns_after_the_due_date_with_communities_pending(
    spec: FormSpec, persons: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from pipelines.assets.forms import DUE_CHECK, build_form_asset
    from pipelines.resources.delivery import DeliveryResource
    from pipelines.resources.warehouse import WarehouseResource

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    send_form(spec, persons, Warehouse.from_url(url).engine, tmp_path / "out", as_of=AS_OF)
    asset = build_form_asset(spec)
    resources = {
        "warehouse": WarehouseResource(url=url),
        "delivery": DeliveryResource(inbox_url="", out_dir=str(tmp_path / "out"), database_url=url),
    }
    for as_of, expected in (("2026-12-15", True), ("2026-12-16", False)):
        monkeypatch.setenv("HUB_AS_OF", as_of)
        with dg.build_asset_context(resources=resources) as context:
            results = list(asset(context=context, golden_persons=persons, returned_forms=pd.DataFrame()))
        (check,) = [r for r in results if isinstance(r, dg.AssetCheckResult)]
        assert check.check_name == DUE_CHECK and check.severity == dg.AssetCheckSeverity.WARN
        assert check.passed is expected, check.description
    assert (tmp_path / "out" / "forms" / spec.form / "汇总_elderly_living_alone.xlsx").exists()


def test_return_whose_key_column_was_deleted_is_refused_whole(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path, inbox: Path
) -> None:
    """Without the hidden keys every row would look like a person staff added: refuse the file instead."""
    out = tmp_path / "out"
    send_form(spec, persons, warehouse.engine, out, as_of=AS_OF)
    filled = fill(sent_book(out, "东铺头社区"), inbox / "东铺头.xlsx", {"P1": {"是否独居": "是"}})
    wb = load_workbook(filled)
    ws = wb[DATA_SHEET]
    ws.delete_cols([cell.value for cell in ws[1]].index(KEY_HEADER) + 1)
    wb.save(filled)
    (outcome,) = collect_returns({spec.form: spec}, warehouse, inbox)
    assert outcome.status == "layout" and outcome.rejection_file is not None
    cover = load_workbook(outcome.rejection_file)["填写说明"]
    assert "行标识" in " ".join(str(c.value) for r in cover.iter_rows() for c in r if c.value)
    assert rows_of(warehouse.engine, form_answers) == [] and list(inbox.glob("表单新增*")) == []


def with_old_marker(path: Path) -> Path:
    """The workbook as the hub wrote forms before the marker was shared: the same facts on a very
    hidden ``_hub_form`` sheet (a tag row, then key/value rows), no ``_hub_return``."""
    wb = load_workbook(path)
    marker = recognise_return(path)
    assert marker is not None
    del wb[MARKER_SHEET]
    old = wb.create_sheet(LEGACY_FORM_SHEET)
    old.append(["hub-form/1"])
    for key in ("form", "send_id", "community", "title", "due"):
        old.append([key, marker.send_id if key == "send_id" else marker.facts[key]])
    old.sheet_state = "veryHidden"
    wb.save(path)
    return path


def test_a_form_sent_with_the_old_marker_is_still_taken_back(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path, inbox: Path
) -> None:
    out = tmp_path / "out"
    send_form(spec, persons, warehouse.engine, out, as_of=AS_OF)
    filled = fill(sent_book(out, "新华社区"), inbox / "新华.xlsx", {"P4": {"是否独居": "是"}})
    with_old_marker(filled)
    assert MARKER_SHEET not in load_workbook(filled).sheetnames
    read, scan = CommunityInboxResource(path=str(inbox)).read_all()
    assert read == {} and scan.workbooks == [] and scan.rejected == [], "no intake workbook"
    (outcome,) = collect_returns({spec.form: spec}, warehouse, inbox)
    assert (outcome.status, outcome.community, outcome.answered) == ("accepted", "新华社区", 1)
    assert (inbox / "processed" / "新华.xlsx").exists()
    assert [json.loads(r["answers"]) for r in rows_of(warehouse.engine, form_answers)] == [{"是否独居": "是"}]


def test_a_form_return_that_cannot_be_opened_is_refused_with_its_reason(
    spec: FormSpec, persons: pd.DataFrame, warehouse: Warehouse, tmp_path: Path, inbox: Path
) -> None:
    """Its marker reads, its data sheet does not: the file goes to rejected/ with a workbook saying why,
    and is not left in the inbox for ever (nor read as intake)."""
    out = tmp_path / "out"
    send_form(spec, persons, warehouse.engine, out, as_of=AS_OF)
    filled = fill(sent_book(out, "新华社区"), tmp_path / "新华.xlsx", {"P4": {"是否独居": "是"}})
    broken = inbox / "新华.xlsx"
    with zipfile.ZipFile(filled) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet2.xml" else data)
    assert recognise_return(broken) is not None
    (outcome,) = collect_returns({spec.form: spec}, warehouse, inbox)
    assert outcome.status == "unreadable" and outcome.rejection_file is not None
    assert (inbox / "rejected" / "新华.xlsx").exists() and not broken.exists()
    cover = load_workbook(outcome.rejection_file)["填写说明"]
    assert "文件无法打开" in " ".join(str(c.value) for r in cover.iter_rows() for c in r if c.value)
    assert rows_of(warehouse.engine, form_answers) == []
