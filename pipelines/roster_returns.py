"""Returned community rosters: the cells staff corrected in place become community corrections.

A roster goes out pre-filled (pipelines/reporting.py, write_community_rosters); staff overwrite what
is wrong, pick a 核对结果 and drop the file into the community inbox. The returned copy is read
against the cells the warehouse kept for that send (by 人员编号), so only what staff changed counts.
Each changed cell of a correctable column (pipelines/config/roster_returns.yaml) is checked with the
shared normalizers and becomes a correction of the person's field from the source ``community``;
anything else changed, an invalid value, an unknown person or a result outside the dropdown rejects
the whole file with a workbook naming the row and column. The corrections then take part in
survivorship as one ``community`` record per person (``community_records``), whose attributes carry
the latest 核对结果 for the verification rules (pipelines/config/alerts.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
import yaml

from connectors.spreadsheet import find_header, open_workbook, sheet_values
from connectors.text import value_as_text
from connectors.workbook import CoverSheet, TableSheet, write_workbook
from hub_errors import ConfigError
from pipelines.changes import key_header
from pipelines.departments import ColumnSpec, ReportSpec, load_report_specs
from pipelines.reporting import CHECKER_FACT, ROSTER_KIND, ReportTable, roster_send_id
from pipelines.roster_store import CORRECTION_COLUMNS, Correction, Send, sent_cells
from pipelines.warehouse import Warehouse
from schemas.normalize.address import parse_address
from schemas.normalize.dates import normalize_date
from schemas.normalize.names import name_key
from schemas.normalize.phone import normalize_phone

CONFIG_FILE = Path(__file__).resolve().parent / "config" / "roster_returns.yaml"
RESULT_FIELD = "roster_result"
MASK_CHAR = "*"
REJECTION_SUFFIX = "_退回修改.xlsx"
READ_ONLY_REASON = "此列由部门系统提供，不能在名册中修改：请恢复原值（人员迁出或死亡请在“核对结果”中选择）"
REJECTION_HEADERS = ["工作表", "行号", "人员编号", "列", "填写的值", "原因"]


@dataclass(frozen=True)
class RosterReturnRules:
    """How a returned roster is read: its key and result columns, the correctable columns (header ->
    golden field), the results staff may pick, and the roster specification it answers."""

    source: str
    key_column: str
    result_column: str
    correctable: Mapping[str, str]
    results: tuple[str, ...]
    spec: ReportSpec

    def column(self, header: str) -> ColumnSpec | None:
        return next((c for s in self.spec.sections for c in s.columns if c.header == header), None)


@lru_cache(maxsize=4)
def load_roster_return_rules(path: Path = CONFIG_FILE) -> RosterReturnRules:
    """The rules of ``path`` (default pipelines/config/roster_returns.yaml) with the roster spec."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        specs = load_report_specs()
        spec = specs[str(raw["roster"])]
        key, result = str(raw["key_column"]), str(raw["result_column"])
        correctable = {str(header): str(name) for header, name in (raw.get("correctable") or {}).items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"roster return rules {path} cannot be read ({exc!r}). Fix the file and run again.") from None
    headers = {column.header: column for section in spec.sections for column in section.columns}
    missing = [header for header in (key, result, *correctable) if header not in headers]
    if missing:
        raise ConfigError(f"{path}: columns {missing} are not in the roster specification {spec.path}")
    return RosterReturnRules(
        source=str(raw.get("source") or "community"),
        key_column=key,
        result_column=result,
        correctable=correctable,
        results=headers[result].choices,
        spec=spec,
    )


@dataclass(frozen=True)
class CellProblem:
    """A cell of a returned roster that cannot be taken, with the reason for the staff who sent it."""

    sheet: str
    row: int
    person_id: str
    column: str
    value: str
    reason: str


@dataclass
class ReturnedRoster:
    """What one returned roster said: its rows, who checked it, when, and the cells that failed."""

    corrections: list[Correction] = field(default_factory=list)
    problems: list[CellProblem] = field(default_factory=list)
    rows_read: int = 0
    checked_by: str = ""
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def cell_text(value: Any) -> str | None:
    text = value_as_text(value).strip()
    return text or None


def parse_correction(name: str, text: str, column: ColumnSpec | None) -> tuple[str | None, str]:
    """(standardized value, '') for a valid corrected value of golden field ``name``, else (None, reason)."""
    if MASK_CHAR in text and name in ("phone",):
        return None, "号码仍有 * 号遮挡的位数：请填写完整的号码"
    if name == "phone":
        phone = normalize_phone(text)
        return (phone, "") if phone else (None, "不是有效的手机号或固定电话号码")
    if name == "birth":
        birth = normalize_date(text).value
        return (birth, "") if birth else (None, "日期无法识别：请按 2026-01-05 的格式填写")
    if name == "gender":
        codes = {label: code for code, label in (column.codes or {}).items()} if column else {}
        code = codes.get(text)
        return (code, "") if code else (None, f"请填写 {' 或 '.join(codes) or '男 或 女'}")
    if name == "address" and not parse_address(text).canonical:
        return None, "地址无法识别：请填写完整的住址（街道、社区、路、门牌号）"
    return text, ""


def read_checker(rows: Sequence[Sequence[Any]]) -> str:
    """The name staff wrote beside 核对人 on the cover sheet ('' when left empty)."""
    for row in rows:
        cells = [cell_text(value) for value in row[:2]] if row else []
        if cells and cells[0] == CHECKER_FACT:
            return cells[1] or "" if len(cells) > 1 else ""
    return ""


def saved_at(path: Path, workbook: Any) -> datetime:
    """When staff last saved the file: the workbook's own modified time, else the file's."""
    modified = getattr(workbook.properties, "modified", None)
    if isinstance(modified, datetime):
        return modified if modified.tzinfo else modified.replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def read_returned_roster(
    path: Path, sent: Mapping[str, Mapping[str, Any]], rules: RosterReturnRules
) -> ReturnedRoster:
    """Compare a returned roster with the cells sent (person id -> header -> value) and check every
    changed cell. A file that cannot be opened raises WorkbookRejected with its reason."""
    workbook = open_workbook(path, source=rules.source)
    outcome = ReturnedRoster(checked_at=saved_at(path, workbook))
    seen: dict[str, int] = {}
    try:
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                continue
            rows = sheet_values(path, workbook, sheet)
            header = find_header(rows, [rules.key_column, rules.result_column])
            if header is None:
                outcome.checked_by = outcome.checked_by or read_checker(rows)
                continue
            start, headers = header
            for offset, row in enumerate(rows[start + 1 :], start=start + 2):
                values = {name: cell_text(row[i]) if i < len(row) else None for i, name in enumerate(headers) if name}
                if any(value is not None for value in values.values()):
                    outcome.rows_read += 1
                    read_row(outcome, sheet.title, offset, values, sent, rules, seen)
    finally:
        workbook.close()
    return outcome


def read_row(
    outcome: ReturnedRoster,
    sheet: str,
    row: int,
    values: Mapping[str, str | None],
    sent: Mapping[str, Mapping[str, Any]],
    rules: RosterReturnRules,
    seen: dict[str, int],
) -> None:
    """One returned row: its corrections, or the problems of its cells."""
    person = values.get(rules.key_column) or ""

    def problem(column: str, value: str | None, reason: str) -> None:
        outcome.problems.append(CellProblem(sheet, row, person, column, value or "", reason))

    if not person:
        problem(rules.key_column, None, "人员编号为空：名册只能核对已有人员；新增居民请用一表通录入模板")
        return
    before = sent.get(person)
    if before is None:
        problem(rules.key_column, person, "这个人员编号不在本次下发的名册中：请勿修改或新增人员编号")
        return
    if person in seen:
        problem(rules.key_column, person, f"人员编号与第 {seen[person]} 行重复：每人只填一行")
        return
    seen[person] = row
    result = values.get(rules.result_column)
    if result is not None and result not in rules.results:
        problem(rules.result_column, result, f"请从下拉列表中选择：{'/'.join(rules.results)}")
    found: list[Correction] = []
    for column, old in before.items():
        if column in (rules.key_column, rules.result_column):
            continue
        new = values.get(column)
        if new == (None if old is None else str(old).strip() or None):
            continue
        name = rules.correctable.get(column)
        if name is None:
            problem(column, new, READ_ONLY_REASON)
            continue
        if new is None:
            problem(column, new, "不能清空：如信息有误，请填写正确的值")
            continue
        value, reason = parse_correction(name, new, rules.column(column))
        if value is None:
            problem(column, new, f"{column}：{reason}")
            continue
        found.append(Correction(person, name, None if old is None else str(old), value, row))
    if result is not None and result in rules.results:
        found.append(Correction(person, RESULT_FIELD, None, result, row))
    outcome.corrections += found


def write_roster_rejection(path: Path, file_name: str, send: Send | None, problems: Sequence[CellProblem]) -> Path:
    """The rejection workbook: why the file went back, and one line per bad cell (row and column)."""
    facts = [
        ("退回文件", file_name),
        ("名册编号", send.send_id if send else "（未知）"),
        ("社区", send.community if send else "（未知）"),
        ("处理结果", "本文件的更正均未采用。请在原文件中按“退回明细”逐项修改后，重新放入社区收件箱。"),
        ("问题单元格数", str(len(problems))),
    ]
    frame = pd.DataFrame(
        [[p.sheet, p.row, p.person_id, p.column, p.value, p.reason] for p in problems], columns=REJECTION_HEADERS
    )
    cover = CoverSheet(title="社区核对名册 退回修改", facts=facts)
    sheet = TableSheet("退回明细", frame, text_columns=frozenset({"人员编号", "填写的值"}))
    return write_workbook(path, [sheet], cover)


COMMUNITY_COLUMNS = [
    "source", "record_id", "person_id", "name", "name_key", "id_no", "id_valid", "gender", "birth", "phone",
    "address", "address_canonical", "addr_district", "addr_street", "addr_community", "addr_road",
    "addr_door_no", "addr_building", "addr_unit", "addr_room", "grid", "quality_flags", "attributes", "updated_at",
]  # fmt: skip


def form_corrections_frame(warehouse: Warehouse) -> pd.DataFrame:
    """The corrections communities made to pre-filled columns of department forms
    (pipelines/forms, ``form_corrections``), as rows like RosterStore.corrections gives, so a phone a
    community corrected on a form reaches survivorship and every department as a roster's does. A
    value that is not valid for its field (parse_correction) is kept in form_corrections only; fields
    survivorship does not take from the community are ignored by community_records."""
    from pipelines.forms.store import form_corrections

    with warehouse.engine.connect() as conn:
        rows = conn.execute(sa.select(form_corrections).order_by(form_corrections.c.recorded_at, form_corrections.c.id))
        found = []
        for row in rows.mappings():
            value, _ = parse_correction(row["field"], str(row["corrected_value"]), None)
            if value is None:
                continue
            found.append({
                "person_id": str(row["person_id"]), "field": row["field"], "sent_value": row["sent_value"],
                "new_value": value, "send_id": f"form:{row['form']}", "file_hash": None, "sheet_row": None,
                "community": row["community"], "checked_by": "", "checked_at": row["recorded_at"], "run_id": None,
            })
    return pd.DataFrame(found, columns=CORRECTION_COLUMNS)


def all_community_corrections(warehouse: Warehouse) -> pd.DataFrame:
    """Roster and form corrections together, oldest first (the latest of a field wins)."""
    rosters, forms = warehouse.rosters.corrections(), form_corrections_frame(warehouse)
    if not len(forms):
        return rosters
    both = pd.concat([frame for frame in (rosters, forms) if len(frame)], ignore_index=True)
    when = pd.to_datetime(both["checked_at"], utc=True, format="mixed")
    return both.iloc[when.argsort(kind="stable")].reset_index(drop=True)


def community_records(corrections: pd.DataFrame, source: str = "community") -> pd.DataFrame:
    """One standardized record per corrected person (COMMUNITY_COLUMNS): each field its latest
    correction, the attributes the latest 核对结果 with who checked it and when, ``updated_at``
    the latest check. ``corrections`` as RosterStore.corrections gives them (oldest first)."""
    rows = []
    for person, own in corrections.groupby("person_id", sort=True):
        latest = own.groupby("field").tail(1).set_index("field")
        last = own.iloc[-1]
        values: dict[str, Any] = dict.fromkeys(COMMUNITY_COLUMNS)
        values.update(source=source, record_id=f"{last['send_id']}/{person}", person_id=str(person),
                      id_valid=False, quality_flags="")
        for name in ("name", "gender", "birth", "phone", "address", "grid"):
            if name in latest.index:
                values[name] = latest.loc[name, "new_value"]
        if values["name"]:
            values["name_key"] = name_key(str(values["name"]))
        if values["address"]:
            parts = parse_address(str(values["address"]))
            values.update(
                address_canonical=parts.canonical, addr_district=parts.district, addr_street=parts.street,
                addr_community=parts.community or str(latest.loc["address", "community"]), addr_road=parts.road,
                addr_door_no=parts.door_no, addr_building=parts.building, addr_unit=parts.unit, addr_room=parts.room,
            )
        attributes = {"checked_by": str(last["checked_by"]), "checked_at": str(last["checked_at"])[:10]}
        if RESULT_FIELD in latest.index:
            attributes[RESULT_FIELD] = str(latest.loc[RESULT_FIELD, "new_value"])
        values["attributes"] = json.dumps(attributes, ensure_ascii=False, sort_keys=True)
        values["updated_at"] = pd.Timestamp(last["checked_at"]).isoformat()
        rows.append(values)
    return pd.DataFrame(rows, columns=COMMUNITY_COLUMNS)


def record_roster_sends(
    warehouse: Warehouse, spec: ReportSpec, rosters: Mapping[str, ReportTable], *, run_id: str, as_of: date
) -> None:
    """Keep each community's roster cells as sent, so its returned copy is read against them."""
    key = key_header(spec.sections[0]) or ""
    for group, table in rosters.items():
        send = Send(roster_send_id(run_id, group), ROSTER_KIND, group, run_id, as_of.isoformat())
        warehouse.rosters.record_send(send, sent_cells(table.frame, key))


def rejection_workbook_name(file_name: str) -> str:
    return f"{Path(file_name).stem}{REJECTION_SUFFIX}"
