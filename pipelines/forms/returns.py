"""Returned forms: recognised by their hidden marker, checked, stored, bad answers sent back.

A form is one kind of community inbox return (kind ``form``, connectors/return_marker.py): its handler
is registered with pipelines/community_returns.py, whose ``process_returns`` recognises it, skips a
file already applied, and moves it to processed/ or rejected/ like a roster. It is a separate step's
kind (``collect_returns``: asset ``returned_forms`` and ``hub form collect``), since the form progress
follows it and the persons staff added go into the inbox as intake after the intake was read.

Answers are checked with a pandera schema built from the form's specification and the shared
normalizers (phone, date, ID number) that intake uses; every failed cell gets a reason in Chinese.
Good rows are stored at once; bad rows go back in a rejection workbook (the same layout and marker,
each bad cell red with its reason), so the corrected file is taken as a further return of the same
send. A pre-filled value a community changed is a community correction; a row staff added for a
person the hub did not know becomes an intake record (an intake workbook in the community inbox,
read by the next run like any other). Each returned file is applied once, by its content digest.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import sqlalchemy as sa

from connectors.form_workbook import FormMarker, FormReturn, FormReturnRow, read_form_workbook, write_form_workbook
from connectors.inbox import fit_name, short_label
from connectors.intake_workbook import RESIDENTS, build_template, file_key, put_text
from connectors.return_marker import FORM_KIND
from pipelines.community_returns import (
    ALREADY_APPLIED,
    APPLIED,
    REJECTED,
    ReturnedFile,
    ReturnHandler,
    ReturnOutcome,
    process_returns,
    register_return_kind,
)
from pipelines.forms.send import form_columns
from pipelines.forms.spec import FormSpec, KnownField, load_form_specs
from pipelines.forms.store import (
    find_send,
    form_answers,
    form_corrections,
    form_returns,
    return_with_digest,
    sent_rows,
)
from pipelines.warehouse import Warehouse
from schemas.normalize.dates import normalize_date
from schemas.normalize.id_number import normalize_cn_id
from schemas.normalize.phone import normalize_phone

REJECTED_SUFFIX = "_退回.xlsx"
ADDED_PREFIX = "表单新增"
TEXT_LIMIT = 500
MASK_CHAR = "*"

REASONS = {
    "required": "{header}为必填项：请填写",
    "choice": "{header}只能从下拉列表中选择（{choices}）",
    "phone": "{header}无法识别为电话号码：手机11位，如 13912345678；座机如 0596-1234567",
    "date": "{header}无法识别为日期：请按“1990-01-31”的格式填写",
    "number": "{header}应填写数字",
    "too_long": f"{{header}}内容超长：最多 {TEXT_LIMIT} 个字",
    "id_no": "{header}校验不通过（位数、出生日期或末位校验码不对）：请核对证件后填写完整号码",
    "gender": "{header}只能填“男”或“女”",
    "name": "{header}不能为空",
    "address": "{header}过短，无法识别：请写到门牌、楼栋和室",
    "masked": "{header}是部分隐藏（*号）的预填值，不能只改一部分：如需更正请填写完整内容",
    "unknown_row": "这一行的隐藏行标识被改动，或不属于本社区本次下发的名单：请在原下发的表格中填写",
    "added_name": "新增人员必须填写姓名",
    "unreadable": "文件无法打开（已损坏或不是 Excel 工作簿）：请在数据中心下发的原表格中填写后重新放入收件箱",
}


def reason(check: str, header: str, choices: tuple[str, ...] = ()) -> str:
    return REASONS[check].format(header=header, choices="/".join(choices))


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


ELEMENT_CHECKS: dict[str, Callable[[str], bool]] = {
    "phone": lambda text: normalize_phone(text) is not None,
    "date": lambda text: normalize_date(text).value is not None,
    "number": _is_number,
    "too_long": lambda text: len(text) <= TEXT_LIMIT,
    "id_no": lambda text: normalize_cn_id(text).valid,
    "gender": lambda text: text in ("男", "女"),
    "name": lambda text: bool(text.strip()),
    "address": lambda text: len(text.strip()) >= 4,
    "masked": lambda text: MASK_CHAR not in text,
}
KNOWN_CHECKS = {
    "name": ("masked", "name", "too_long"),
    "id_no": ("masked", "id_no"),
    "gender": ("gender",),
    "date": ("masked", "date"),
    "phone": ("masked", "phone"),
    "address": ("masked", "address", "too_long"),
    "text": ("masked", "too_long"),
}
ASK_CHECKS = {"phone": ("phone",), "date": ("date",), "number": ("number",), "text": ("too_long",), "choice": ()}


def _check(code: str) -> pa.Check:
    test = ELEMENT_CHECKS[code]
    return pa.Check(lambda value: test(str(value)), element_wise=True, name=code)


def answer_schema(spec: FormSpec) -> pa.DataFrameSchema:
    """The form's columns as a pandera schema: what each asked and each corrected cell must hold.

    Blank cells are missing values; a required column is checked separately, only on rows that were
    answered at all (a row left untouched is simply not answered yet)."""
    columns: dict[str, pa.Column] = {}
    for ask in spec.ask:
        checks = [_check(code) for code in ASK_CHECKS[ask.type]]
        if ask.type == "choice":
            allowed = set(ask.choices)
            checks.append(
                pa.Check(lambda value, allowed=allowed: str(value) in allowed, element_wise=True, name="choice")
            )
        columns[ask.header] = pa.Column(object, checks=checks, nullable=True, required=False)
    for known in spec.known:
        checks = [_check(code) for code in KNOWN_CHECKS[known.kind]]
        columns[known.header] = pa.Column(object, checks=checks, nullable=True, required=False)
    return pa.DataFrameSchema(columns)


CellProblems = dict[tuple[int, str], list[str]]


def schema_problems(spec: FormSpec, cells: pd.DataFrame) -> CellProblems:
    """(row position, header) -> reasons, from the pandera schema run lazily over every cell."""
    problems: CellProblems = defaultdict(list)
    if cells.empty:
        return problems
    choices = {ask.header: ask.choices for ask in spec.ask}
    try:
        answer_schema(spec).validate(cells, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        for header, check, index in cases[["column", "check", "index"]].itertuples(index=False):
            problems[(int(index), str(header))].append(reason(str(check), str(header), choices.get(str(header), ())))
    return problems


@dataclass
class FormOutcome:
    """What became of one returned form file."""

    file: str
    form: str
    community: str
    status: str  # accepted | duplicate | unknown_send | layout | unreadable
    reason: str = ""  # why the whole file was refused
    answered: int = 0
    rejected: int = 0
    added: int = 0
    corrections: int = 0
    rejection_file: Path | None = None
    intake_file: Path | None = None
    problems: CellProblems = field(default_factory=dict)


def blank(text: str | None) -> bool:
    return text is None or not str(text).strip()


@dataclass
class _Row:
    position: int
    row: FormReturnRow
    answers: dict[str, str]
    changed: dict[str, tuple[str, str]]  # known header -> (sent, returned)
    added: bool


def classify_rows(
    spec: FormSpec, ret: FormReturn, sent: Mapping[str, Mapping[str, str]]
) -> tuple[list[_Row], CellProblems]:
    """The answered rows of a return, and the problems found in them."""
    known_by_header: dict[str, KnownField] = {k.header: k for k in spec.known}
    rows: list[_Row] = []
    problems: CellProblems = defaultdict(list)
    check_cells: list[dict[str, Any]] = []
    for row in ret.rows:
        answers = {a.header: row.values.get(a.header, "") for a in spec.ask if not blank(row.values.get(a.header))}
        added = not row.key
        changed: dict[str, tuple[str, str]] = {}
        if added:
            changed = {h: ("", v) for h, v in row.values.items() if h in known_by_header and not blank(v)}
        elif row.key in sent:
            shown = sent[row.key]
            for header, known in known_by_header.items():
                value = row.values.get(header, "")
                before = shown.get(header, "")
                if known.correctable and not blank(value) and value != before:
                    changed[header] = (before, value)
        if not answers and not changed:
            continue
        position = len(rows)
        rows.append(_Row(position, row, answers, changed, added))
        if not added and row.key not in sent:
            problems[(position, spec.known[0].header if spec.known else spec.ask[0].header)].append(
                REASONS["unknown_row"]
            )
            continue
        if added and not any(k.kind == "name" and not blank(row.values.get(k.header)) for k in spec.known):
            name_header = next((k.header for k in spec.known if k.kind == "name"), spec.headers[0])
            problems[(position, name_header)].append(REASONS["added_name"])
        if answers or added:
            for ask in spec.ask:
                if ask.required and blank(row.values.get(ask.header)):
                    problems[(position, ask.header)].append(reason("required", ask.header))
        check_cells.append({"__position": position, **answers, **{h: v for h, (_, v) in changed.items()}})
    if check_cells:
        frame = pd.DataFrame(check_cells).set_index("__position")
        frame.index.name = None
        for column in spec.headers:
            if column not in frame.columns:
                frame[column] = None
        frame = frame[spec.headers].astype(object).where(frame[spec.headers].notna(), None)
        for key, reasons in schema_problems(spec, frame).items():
            problems[key].extend(reasons)
    return rows, problems


def write_added_intake(path: Path, spec: FormSpec, added: list[_Row]) -> list[str]:
    """Persons staff added to a form, as an intake workbook the next run reads like any other;
    returns their intake record ids (``<file key>:居民信息:<row>``)."""
    wb = build_template()
    ws = wb[RESIDENTS.title]
    headers = [column.header for column in RESIDENTS.columns]
    record_ids = []
    for number, item in enumerate(added, start=2):
        for known in spec.known:
            column = RESIDENTS.column(known.name)
            value = item.row.values.get(known.header, "")
            if column is not None and value:
                put_text(ws.cell(row=number, column=headers.index(column.header) + 1), value)
        note = "；".join(f"{h}：{v}" for h, v in item.answers.items())
        put_text(
            ws.cell(row=number, column=headers.index("备注") + 1),
            f"{spec.title}新增人员" + (f"（{note}）" if note else ""),
        )
        record_ids.append(f"{file_key(path)}:{RESIDENTS.title}:{number}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    wb.save(temporary)
    temporary.replace(path)
    return record_ids


def _record_return(conn: sa.Connection, ret: FormReturn, outcome: FormOutcome, now: datetime) -> int:
    result = conn.execute(
        form_returns.insert().values(
            digest=ret.digest,
            form=ret.marker.form,
            send_id=ret.marker.send_id,
            community=outcome.community,
            file_name=ret.path.name,
            status=outcome.status,
            rows_answered=outcome.answered,
            rows_rejected=outcome.rejected,
            rows_added=outcome.added,
            corrections=outcome.corrections,
            rejection_file=str(outcome.rejection_file or ""),
            received_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def reject_whole_file(spec: FormSpec | None, ret: FormReturn, rejected_dir: Path, why: str) -> Path:
    """A return that cannot be taken at all: the workbook saying why, for rejected/ (the file follows)."""
    target = rejected_dir / fit_name(f"{short_label(ret.path.stem)}{REJECTED_SUFFIX}")
    columns = form_columns(spec) if spec is not None else []
    write_form_workbook(
        target, ret.marker, columns, [], [], [("退回原因", why), ("原文件", ret.path.name)], spare_rows=0
    )
    return target


def apply_return(
    spec: FormSpec | None, ret: FormReturn | None, engine: sa.Engine, returned: ReturnedFile, rejected_dir: Path
) -> FormOutcome:
    """Take one returned form (``ret`` None: it cannot be opened): apply a file already taken no more,
    refuse a form never sent, store good rows, corrections and added persons, send bad rows back. One
    transaction; the caller moves the file (pipelines/community_returns.py)."""
    now = datetime.now(UTC)
    marker = FormMarker.of(returned.marker)
    inbox = rejected_dir.parent
    outcome = FormOutcome(returned.path.name, marker.form, marker.community, "accepted")
    readable = ret is not None
    ret = ret or FormReturn(returned.path, marker, [], [], returned.file_hash, keyed=False)
    with engine.begin() as conn:
        if return_with_digest(conn, ret.digest) is not None:
            outcome.status = "duplicate"
            _record_return(conn, ret, outcome, now)
            return outcome
        if not readable:
            outcome.status, outcome.reason = "unreadable", REASONS["unreadable"]
            outcome.rejection_file = reject_whole_file(spec, ret, rejected_dir, outcome.reason)
            _record_return(conn, ret, outcome, now)
            return outcome
        send = find_send(conn, ret.marker.send_id)
        if spec is None or send is None or send.form != spec.form:
            outcome.status = "unknown_send"
            why = (
                f"这份“{ret.marker.title or ret.marker.form}”不是数据中心下发的表格"
                f"（下发编号 {ret.marker.send_id or '无'} "
                "没有下发记录），无法接收：请使用数据中心下发给本社区的表格填写"
            )
            outcome.reason = why
            outcome.rejection_file = reject_whole_file(spec, ret, rejected_dir, why)
            _record_return(conn, ret, outcome, now)
            return outcome
        outcome.community = send.community
        missing = [header for header in spec.headers if header not in ret.headers]
        if not ret.keyed or missing:
            outcome.status = "layout"
            what = f"缺少列：{'、'.join(missing)}" if missing else "隐藏的“行标识”列被删除"
            why = f"表格结构被改动（{what}），无法对应到人员：请在数据中心下发的原表格中填写，不要删除或改动列"
            outcome.reason = why
            outcome.rejection_file = reject_whole_file(spec, ret, rejected_dir, why)
            _record_return(conn, ret, outcome, now)
            return outcome
        sent = sent_rows(conn, send.send_id)
        rows, problems = classify_rows(spec, ret, sent)
        bad = sorted({position for position, _ in problems})
        good = [row for row in rows if row.position not in set(bad)]
        added = [row for row in good if row.added]
        intake_ids: dict[int, str] = {}
        if added:
            intake = inbox / fit_name(
                f"{ADDED_PREFIX}_{spec.form}_{short_label(send.community, 20)}_{ret.digest[:8]}.xlsx"
            )
            ids = write_added_intake(intake, spec, added)
            intake_ids = {row.position: record for row, record in zip(added, ids, strict=True)}
            outcome.intake_file = intake
        if bad:
            outcome.rejection_file = write_rejection(spec, ret, rows, bad, problems, rejected_dir)
        outcome.answered = sum(1 for row in good if row.answers)
        outcome.rejected, outcome.added = len(bad), len(added)
        corrections = [(row, header, pair) for row in good if not row.added for header, pair in row.changed.items()]
        outcome.corrections = len(corrections)
        outcome.problems = dict(problems)
        return_id = _record_return(conn, ret, outcome, now)
        store_rows(conn, spec, send.send_id, send.community, return_id, good, intake_ids, ret.digest, now)
        by_header = {k.header: k.name for k in spec.known}
        if corrections:
            conn.execute(
                form_corrections.insert(),
                [
                    {
                        "return_id": return_id,
                        "form": spec.form,
                        "community": send.community,
                        "person_id": row.row.key,
                        "field": by_header[header],
                        "sent_value": before,
                        "corrected_value": after,
                        "recorded_at": now,
                    }
                    for row, header, (before, after) in corrections
                ],
            )
    return outcome


def store_rows(
    conn: sa.Connection,
    spec: FormSpec,
    send_id: str,
    community: str,
    return_id: int,
    rows: list[_Row],
    intake_ids: Mapping[int, str],
    digest: str,
    now: datetime,
) -> None:
    known_headers = {k.header for k in spec.known}
    records = [
        {
            "return_id": return_id,
            "form": spec.form,
            "send_id": send_id,
            "community": community,
            "row_key": f"added:{digest[:16]}:{row.row.number}" if row.added else row.row.key,
            "person_id": "" if row.added else row.row.key,
            "answers": json.dumps(row.answers, ensure_ascii=False),
            "known": json.dumps({h: v for h, v in row.row.values.items() if h in known_headers}, ensure_ascii=False),
            "intake_record": intake_ids.get(row.position, ""),
            "answered_at": now,
        }
        for row in rows
    ]
    if records:
        conn.execute(form_answers.insert(), records)


def write_rejection(
    spec: FormSpec, ret: FormReturn, rows: list[_Row], bad: list[int], problems: CellProblems, rejected_dir: Path
) -> Path:
    """The bad rows back to the community in the form's layout (marker kept), each bad cell marked."""
    by_position = {row.position: row for row in rows}
    values, keys, reasons = [], [], []
    marks: dict[tuple[int, str], list[str]] = {}
    for index, position in enumerate(bad):
        row = by_position[position]
        values.append([row.row.values.get(header, "") for header in spec.headers])
        keys.append(row.row.key)
        found = [(header, text) for (p, header), texts in problems.items() if p == position for text in texts]
        reasons.append(f"原第{row.row.number}行：" + "；".join(text for _, text in found))
        for header, text in found:
            marks.setdefault((index, header), []).append(text)
    target = rejected_dir / fit_name(f"{short_label(ret.path.stem)}{REJECTED_SUFFIX}")
    cover = [
        (
            "退回说明",
            f"以下 {len(bad)} 行未能接收：请按标红单元格的批注修改，保存后重新放入社区收件箱；"
            "其余行已接收，不必重复填写",
        ),
        ("原文件", ret.path.name),
        ("社区", ret.marker.community),
        ("填报截止", f"请于 {spec.due.isoformat()} 前交回"),
    ]
    return write_form_workbook(
        target, ret.marker, form_columns(spec), values, keys, cover, spare_rows=0, marks=marks, row_reasons=reasons
    )


GENERIC_OUTCOMES = {"accepted": APPLIED, "duplicate": ALREADY_APPLIED}  # any other status: rejected


def form_return_handler(
    specs: Mapping[str, FormSpec] | None = None, taken: list[FormOutcome] | None = None
) -> ReturnHandler:
    """The ``form`` kind's handler: forms of ``specs`` (default: the catalogue, read per return);
    what became of each file is appended to ``taken``."""

    def handle(returned: ReturnedFile, warehouse: Warehouse, run_id: str, rejected_dir: Path) -> ReturnOutcome:
        catalogue = load_form_specs() if specs is None else specs
        marker = FormMarker.of(returned.marker)
        ret = read_form_workbook(returned.path, marker)
        outcome = apply_return(catalogue.get(marker.form), ret, warehouse.engine, returned, rejected_dir)
        if taken is not None:
            taken.append(outcome)
        reason = outcome.reason or (f"{outcome.rejected} 行退回社区修改" if outcome.rejected else "")
        return ReturnOutcome(
            GENERIC_OUTCOMES.get(outcome.status, REJECTED),
            corrections=outcome.corrections,
            reason=reason,
            rejection_workbook=outcome.rejection_file,
        )

    return handle


register_return_kind(FORM_KIND, form_return_handler(), separate_step=True)


def collect_returns(
    specs: Mapping[str, FormSpec], warehouse: Warehouse, inbox: Path, run_id: str = "hub-form-collect"
) -> list[FormOutcome]:
    """Every form return in the community inbox, applied in the order they arrived and moved out;
    other workbooks (intake, rosters) are left where they are for their own readers."""
    taken: list[FormOutcome] = []
    process_returns(inbox, warehouse, run_id, {FORM_KIND: form_return_handler(specs, taken)}, kinds=[FORM_KIND])
    return taken
