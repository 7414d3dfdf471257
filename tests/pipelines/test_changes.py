"""Daily deliveries: a department gets only what changed since its last delivery (变更 workbook and
change rows), its full report on its full days, and nothing on a day without changes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.simulated.department_inbox import DepartmentInbox
from hub_errors import ConfigError, DeliveryError
from pipelines.alerts import verification_table
from pipelines.changes import (
    DailyOutcome,
    SnapshotStore,
    deliver_daily,
    id_changes,
    plan_report,
    report_digests,
    table_rows,
)
from pipelines.departments import load_report_spec, load_report_specs
from pipelines.reporting import DepartmentReport, build_department_report
from pipelines.warehouse import Warehouse, create_warehouse_engine

DEPARTMENTS = ("civil", "grid", "health")
FIRST_DAY = date(2026, 3, 10)  # a Tuesday: no department's full day
NEXT_DAY = date(2026, 3, 11)
MONDAY = date(2026, 3, 16)  # the grid's full day
GENERATED = datetime(2026, 3, 10, 23, 0, 0, tzinfo=UTC)


def person(pid: str, name: str, id_no: str, gender: str, birth: str, sources: str, phone: str, **attributes: object):
    return {
        "person_id": pid,
        "name": name,
        "id_no": id_no,
        "gender": gender,
        "birth": birth,
        "phone": phone,
        "address": "东铺头社区幸福路1号",
        "address_canonical": "东铺头社区幸福路1号",
        "addr_community": "东铺头社区",
        "grid": "网格01",
        "attributes": json.dumps(attributes, ensure_ascii=False),
        "sources": sources,
        "provenance": "{}",
    }


def day_one() -> pd.DataFrame:
    return pd.DataFrame(
        [
            person("P1", "张三", "350603195001011234", "1", "1950-01-01", "grid;civil", "13900000001", aid_type="低保"),
            person(
                "P2", "李秀英", "35060319900215002X", "2", "1990-02-15", "grid;health", "13900000002", chronic="高血压"
            ),
            person("P3", "王五", "350603195906300017", "1", "1959-06-30", "health", "13900000003"),
            person("P4", "赵六", "350603196603010011", "1", "1966-03-01", "grid", "13900000004"),
        ]
    )


def day_two() -> pd.DataFrame:
    """One phone edited (P2), one person removed (P4), one added (P5)."""
    frame = day_one()
    frame.loc[frame["person_id"] == "P2", "phone"] = "13811112222"
    frame = frame[frame["person_id"] != "P4"]
    added = person("P5", "孙七", "350603194005050026", "2", "1940-05-05", "grid;health", "13900000005", aid_type="特困")
    return pd.concat([frame, pd.DataFrame([added])], ignore_index=True)


def incidents() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "incident_id": "I1",
                "category": "噪声扰民",
                "first_reported_at": "2026-03-01 21:05:00",
                "status": "受理",
                "reporter_count": 1,
                "report_count": 1,
                "grid": "网格01",
                "location": "幸福路1号",
                "description": "晚上太吵",
                "sources": "grid",
            }
        ]
    )


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return Warehouse(create_warehouse_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")).engine


def reports(persons: pd.DataFrame, as_of: date) -> dict[str, DepartmentReport]:
    specs = load_report_specs()
    return {name: build_department_report(specs[name], persons, incidents(), as_of=as_of) for name in DEPARTMENTS}


def deliver_all(
    persons: pd.DataFrame,
    as_of: date,
    *,
    engine: sa.Engine,
    inbox: DepartmentInbox,
    out: Path,
    run_id: str,
    mode: str = "incremental",
    **options: Any,
) -> dict[str, DailyOutcome]:
    env = {"HUB_DEPARTMENT_INBOX_URL": inbox.url}
    return {
        name: deliver_daily(
            report,
            out_dir=out,
            run_id=run_id,
            engine=engine,
            mode=mode,
            env=env,
            generated_at=GENERATED,
            backoff=0,
            **options,
        )
        for name, report in reports(persons, as_of).items()
    }


def detail(path: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["变更明细"].iter_rows(values_only=True))
    cover = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True) if len(row) > 1 and row[0]}
    book.close()
    assert rows[0] == ("人员编号", "变更类型", "字段", "原值", "新值")
    return rows[1:], cover


def by_key(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(row[key]): row for row in rows}


KEY_COLUMNS = {"civil": "编号", "grid": "人员编号", "health": "person_id"}


def assert_inbox_holds(inbox: DepartmentInbox, report: DepartmentReport) -> None:
    """The department's whole state equals today's full report, sheet by sheet (row order aside)."""
    name = report.spec.name
    for table, section in zip(report.tables, report.spec.sections, strict=True):
        key = KEY_COLUMNS[name] if section.covers == "persons" else "事件编号"
        held = inbox.current_rows(name, f"{name}/{table.sheet}")
        assert by_key(held, key) == by_key(table.records(), key), (name, table.sheet)


def test_second_run_delivers_only_the_changes_and_the_inbox_holds_the_whole_report(
    engine: sa.Engine, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with DepartmentInbox() as inbox:
        first = deliver_all(day_one(), FIRST_DAY, engine=engine, inbox=inbox, out=out, run_id="run-1")
        assert all(o.full and o.snapshot_saved and not o.change_workbooks for o in first.values())
        assert {p.name for o in first.values() for p in o.workbooks} == {
            "civil_民政_2026-03-10.xlsx",
            "grid_网格_2026-03-10.xlsx",
            "health_卫健_2026-03-10.xlsx",
        }
        pushed_before = len(inbox.batches)

        second = deliver_all(day_two(), NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-2")
        assert not any(o.full or o.workbooks for o in second.values()), "no full workbook on an incremental day"
        books = {name: o.change_workbooks for name, o in second.items()}
        assert {name: [p.name for p in paths] for name, paths in books.items()} == {
            "civil": ["civil_民政_变更_2026-03-11.xlsx"],
            "grid": ["grid_网格_变更_2026-03-11.xlsx"],
            "health": ["health_卫健_变更_2026-03-11.xlsx"],
        }
        lines = {name: detail(paths[0])[0] for name, paths in books.items()}
        # grid: P2's phone, P4 gone, P5 new (its ID number masked as for every grid row)
        grid = lines["grid"]
        assert ("P2", "修改", "联系电话", "13900000002", "13811112222") in grid
        assert {line[:2] for line in grid} == {("P2", "修改"), ("P4", "删除"), ("P5", "新增")}
        assert ("P5", "新增", "公民身份号码", None, "350603************") in grid
        assert [line for line in grid if line[0] == "P2"] == [("P2", "修改", "联系电话", "13900000002", "13811112222")]
        # health sees P2's mobile and the newcomer (65+), never her aid type
        health = lines["health"]
        assert {line[:2] for line in health} == {("P2", "修改"), ("P5", "新增")}
        assert not any(line[2] == "aid_type" for line in health), "a column it may see none of is not sent"
        assert not any("特困" in str(value) for line in health for value in line)
        # civil: P4 (60 now) removed, P5 new; P2 is not its resident
        assert {line[:2] for line in lines["civil"]} == {("P4", "删除"), ("P5", "新增")}
        assert ("P5", "新增", "救助类型", None, "特困") in lines["civil"]
        assert not any(line[2] == "慢性病" for line in lines["civil"])
        _, cover = detail(books["grid"][0])
        assert (cover["新增（行数）"], cover["修改（行数）"], cover["删除（行数）"]) == (1, 1, 1)

        change_batches = inbox.batches[pushed_before:]
        assert {batch.payload["kind"] for batch in change_batches} == {"changes"}
        assert {(b.department, b.payload["applies_to"]) for b in change_batches} == {
            ("grid", "grid/实有人口"),
            ("health", "health/居民名单"),
            ("civil", "civil/核对名单"),
        }, "the unchanged incidents sheet is not pushed"
        sent = {b.department: {(r["变更类型"], r[b.payload["key_column"]]) for r in b.rows} for b in change_batches}
        assert sent == {
            "grid": {("删除", "P4"), ("修改", "P2"), ("新增", "P5")},
            "health": {("修改", "P2"), ("新增", "P5")},
            "civil": {("删除", "P4"), ("新增", "P5")},
        }
        assert second["grid"].change_rows_pushed == 3
        for report in reports(day_two(), NEXT_DAY).values():
            assert_inbox_holds(inbox, report)
            snapshot = SnapshotStore(engine).load(report.spec.name)
            assert snapshot is not None and snapshot.run_id == "run-2"
            assert snapshot.sheets == {table.sheet: table_rows(table) for table in report.tables}

        pushed_before = len(inbox.batches)
        third = deliver_all(day_two(), NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-3")
        assert len(inbox.batches) == pushed_before, "no changes: nothing pushed"
        assert all(o.summary()["nothing_to_deliver"] and not o.change_workbooks for o in third.values())
        assert len(list((out / "reports").glob("*变更*.xlsx"))) == 3


def test_full_day_by_schedule_or_flag_sends_the_full_report_and_the_changes(engine: sa.Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with DepartmentInbox() as inbox:
        deliver_all(day_one(), FIRST_DAY, engine=engine, inbox=inbox, out=out, run_id="run-1")
        changed = day_two()
        deliver_all(changed, NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-2")
        changed.loc[changed["person_id"] == "P1", "phone"] = "13700000000"
        monday = deliver_all(changed, MONDAY, engine=engine, inbox=inbox, out=out, run_id="run-3")
        assert monday["grid"].full and "full_schedule" in monday["grid"].reason
        assert [p.name for p in monday["grid"].workbooks] == ["grid_网格_2026-03-16.xlsx"]
        assert [p.name for p in monday["grid"].change_workbooks] == ["grid_网格_变更_2026-03-16.xlsx"]
        assert not monday["health"].full and not monday["health"].workbooks
        for report in reports(changed, MONDAY).values():
            assert_inbox_holds(inbox, report)
        forced = deliver_all(changed, MONDAY, engine=engine, inbox=inbox, out=out, run_id="run-4", mode="full")
        assert all(o.full and o.workbooks and not o.change_workbooks for o in forced.values())
        assert sum(len(p.delivered) for o in forced.values() for p in o.pushes) == 2, (
            "health and civil received changes since their last full push, so their positions are sent again"
        )


def test_a_change_push_that_fails_is_sent_again_next_run(engine: sa.Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with DepartmentInbox() as inbox:
        deliver_all(day_one(), FIRST_DAY, engine=engine, inbox=inbox, out=out, run_id="run-1")
        inbox.fail_next(100)
        with pytest.raises(DeliveryError, match="could not be delivered"):
            deliver_all(day_two(), NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-2", attempts=2)
        assert SnapshotStore(engine).load("civil").run_id == "run-1", "what the department holds is unchanged"
        inbox.fail_next(0)
        again = deliver_all(day_two(), NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-3")
        assert not again["grid"].full and again["grid"].change_rows_pushed == 3
        for report in reports(day_two(), NEXT_DAY).values():
            assert_inbox_holds(inbox, report)


def test_a_full_push_that_fails_makes_the_next_run_full_again(engine: sa.Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with DepartmentInbox() as inbox:
        deliver_all(day_one(), FIRST_DAY, engine=engine, inbox=inbox, out=out, run_id="run-1")
        inbox.serve_login_page(1)
        with pytest.raises(DeliveryError, match="not counted as delivered"):
            deliver_all(day_two(), NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-2", mode="full")
        retry = deliver_all(day_two(), NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-3")
        assert retry["civil"].full and "not acknowledged" in retry["civil"].reason
        for report in reports(day_two(), NEXT_DAY).values():
            assert_inbox_holds(inbox, report)


def test_merges_and_splits_of_this_run_are_listed(engine: sa.Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    merged = day_one()
    merged = merged[merged["person_id"] != "P4"]
    history = [
        {
            "run_id": "run-2",
            "person_id": "P4",
            "change": "merged",
            "detail": json.dumps({"into_id": "P1"}),
            "recorded_at": GENERATED,
        },
        {
            "run_id": "run-2",
            "person_id": "P9",
            "change": "split",
            "detail": json.dumps({"from_ids": "P7"}),
            "recorded_at": GENERATED,
        },
    ]
    with engine.begin() as conn:
        conn.execute(sa.table("person_id_history", *(sa.column(c) for c in history[0])).insert(), history)
    with DepartmentInbox() as inbox:
        deliver_all(day_one(), FIRST_DAY, engine=engine, inbox=inbox, out=out, run_id="run-1")
        ids = id_changes(engine, "run-2")
        second = deliver_all(merged, NEXT_DAY, engine=engine, inbox=inbox, out=out, run_id="run-2", ids=ids)
        lines, cover = detail(second["grid"].change_workbooks[0])
        assert ("P1", "合并", "人员编号", "P4", "P1") in lines
        assert not any(line[0] == "P9" for line in lines), "a split of persons the grid never held is not its news"
        assert cover["合并（人员编号数）"] == 1
        rows = [row for batch in inbox.received("grid")[-1:] for row in batch.rows]
        assert {"变更类型": "合并", "人员编号": "P1", "原编号": ["P4"]} in rows
        assert_inbox_holds(inbox, reports(merged, NEXT_DAY)["grid"])


def test_full_schedule_is_data_and_checked(tmp_path: Path) -> None:
    grid = load_report_specs()["grid"]
    assert grid.is_full_day(MONDAY) and not grid.is_full_day(NEXT_DAY)
    civil = load_report_specs()["civil"]
    assert civil.is_full_day(date(2026, 4, 1)) and not civil.is_full_day(date(2026, 4, 2))
    broken = tmp_path / "x.yaml"
    text = Path(grid.path or "").read_text(encoding="utf-8")
    text = text.replace('full_schedule: "0 7 * * 1"', "full_schedule: mondays")
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="full_schedule"):
        load_report_spec(broken)


def test_a_change_workbook_carries_the_departments_verification_sheet(engine: sa.Engine, tmp_path: Path) -> None:
    """An incremental day's 变更 workbook has the 核验 sheet (alerts and the answer dropdown) as the
    full workbook does, so a department sees and answers its alerts between full days too."""
    spec = load_report_specs()["civil"]
    alert = {"alert_id": "HY0000000001", "kind": "duplicate_benefit", "source": "civil", "record_id": "C1",
             "person_id": "P2", "detail": "重复享受", "context": json.dumps({"others": "C9", "aid_type": "低保"}),
             "status": "open", "answer": None, "answer_note": None, "first_seen_at": "2026-03-10T00:00:00+00:00"}

    def report(persons: pd.DataFrame, as_of: date) -> DepartmentReport:
        verification = verification_table(spec, pd.DataFrame([alert]), persons)
        return build_department_report(spec, persons, incidents(), as_of=as_of, verification=verification)

    out = tmp_path / "out"
    with DepartmentInbox() as inbox:
        options: dict[str, Any] = {"out_dir": out, "engine": engine, "generated_at": GENERATED, "backoff": 0,
                                   "env": {"HUB_DEPARTMENT_INBOX_URL": inbox.url}}
        deliver_daily(report(day_one(), FIRST_DAY), run_id="run-1", **options)
        outcome = deliver_daily(report(day_two(), NEXT_DAY), run_id="run-2", **options)
    assert not outcome.full
    (path,) = outcome.change_workbooks
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["说明", "变更明细", "核验"]
    rows = list(book["核验"].iter_rows(values_only=True))
    assert rows[1][0] == "HY0000000001" and rows[1][2] == "C1"
    (validation,) = book["核验"].data_validations.dataValidation
    assert "已更正" in str(validation.formula1)
    cover = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True) if row and row[0]}
    assert cover["核验 行数"] == "1"


def digests_of(persons: pd.DataFrame) -> dict[str, str]:
    """Stands in for the golden digests (pipelines.golden_state): one per person, changing with its row."""
    return {
        str(row["person_id"]): hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()[:16]
        for row in persons.to_dict("records")
    }


def deliver_planned(
    persons: pd.DataFrame, as_of: date, *, engine: sa.Engine, inbox: DepartmentInbox, out: Path, run_id: str
) -> dict[str, tuple[DailyOutcome, set[str] | None]]:
    """As the report assets deliver: each report planned (full, or only the persons to compare)."""
    specs = load_report_specs()
    outcomes = {}
    for name in DEPARTMENTS:
        plan = plan_report(
            specs[name], persons, incidents(), engine=engine, mode="incremental", as_of=as_of,
            golden_digests=digests_of(persons),
        )  # fmt: skip
        outcome = deliver_daily(
            plan.report, out_dir=out, run_id=run_id, engine=engine, env={"HUB_DEPARTMENT_INBOX_URL": inbox.url},
            generated_at=GENERATED, backoff=0, digests=plan.digests, scope=plan.scope,
        )  # fmt: skip
        outcomes[name] = (outcome, plan.scope)
    return outcomes


def test_an_incremental_day_compares_only_changed_persons_and_delivers_what_a_whole_comparison_does(
    tmp_path: Path,
) -> None:
    """Built only for the persons whose golden record changed (and one who turned 60, which only the
    date changed), the changes are those of comparing every person."""
    turning_sixty = person("P6", "周八", "350603196603110018", "1", "1966-03-11", "grid", "13900000006")
    first = pd.concat([day_one(), pd.DataFrame([turning_sixty])], ignore_index=True)
    second = pd.concat([day_two(), pd.DataFrame([turning_sixty])], ignore_index=True)
    whole = Warehouse(create_warehouse_engine(f"sqlite:///{tmp_path / 'whole.sqlite'}")).engine
    planned = Warehouse(create_warehouse_engine(f"sqlite:///{tmp_path / 'planned.sqlite'}")).engine
    with DepartmentInbox() as inbox_whole, DepartmentInbox() as inbox_planned:
        deliver_all(first, FIRST_DAY, engine=whole, inbox=inbox_whole, out=tmp_path / "whole", run_id="run-1")
        day1 = deliver_planned(first, FIRST_DAY, engine=planned, inbox=inbox_planned, out=tmp_path / "p", run_id="r1")
        assert all(outcome.full and scope is None for outcome, scope in day1.values())
        expected = deliver_all(second, NEXT_DAY, engine=whole, inbox=inbox_whole, out=tmp_path / "w", run_id="run-2")
        got = deliver_planned(second, NEXT_DAY, engine=planned, inbox=inbox_planned, out=tmp_path / "p", run_id="r2")
        assert got["grid"][1] == {"P2", "P4", "P5"}, "grid shows no age: only changed, removed and new persons"
        assert got["civil"][1] == {"P2", "P4", "P5", "P6"}, "civil selects by age: P6 turned 60"
        for name in DEPARTMENTS:
            outcome, _ = got[name]
            assert not outcome.full and outcome.changes == expected[name].changes, name
            assert detail(outcome.change_workbooks[0])[0] == detail(expected[name].change_workbooks[0])[0], name
        assert ("P6", "新增", "姓名", None, "周八") in detail(got["civil"][0].change_workbooks[0])[0]
        for report in reports(second, NEXT_DAY).values():
            assert_inbox_holds(inbox_planned, report)
            held, reference = SnapshotStore(planned).load(report.spec.name), SnapshotStore(whole).load(report.spec.name)
            assert held is not None and reference is not None and held.sheets == reference.sheets
        again = deliver_planned(second, NEXT_DAY, engine=planned, inbox=inbox_planned, out=tmp_path / "p", run_id="r3")
        assert all(scope == set() and outcome.summary()["nothing_to_deliver"] for outcome, scope in again.values())


def test_the_digests_kept_with_a_snapshot_are_the_same_in_every_process() -> None:
    """A report's digests bind its specification, whose sets a process orders by its own string hashing:
    another process (another hash seed) must give the same digests, or every day compares everyone."""
    program = (
        "from pipelines.changes import report_digests\n"
        "from pipelines.departments import load_report_specs\n"
        "print(report_digests(load_report_specs()['grid'], {'P1': '7'})['P1'])\n"
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        found = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True)
        outputs.add(found.stdout.strip())
    assert len(outputs) == 1 and "" not in outputs
    spec = load_report_specs()["grid"]
    changed = dataclasses.replace(spec, entitled=spec.entitled - {"phone"})
    assert report_digests(spec, {"P1": "7"}) != report_digests(changed, {"P1": "7"}), "a changed spec compares all"
