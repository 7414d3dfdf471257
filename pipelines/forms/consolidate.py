"""Consolidation for the department: every returned row in one workbook, and where each community stands.

``OUT/forms/<form>/汇总_<form>.xlsx``: a cover sheet, ``汇总`` (one row per answered person, the latest
answer counting; pre-filled columns from the golden records as the department is entitled to see
them, or the community's correction; the asked columns) and ``填报进度`` (per community: persons
sent, answered, unanswered, added, corrections, returns, state returned / pending / overdue). The
same rows are pushed to the department's HTTP inbox like its other deliveries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from connectors.push import PushResult, push_batches
from connectors.workbook import CoverSheet, TableSheet
from pipelines.forms.send import column_spec, forms_folder
from pipelines.forms.spec import FormSpec
from pipelines.forms.store import form_answers, form_corrections, form_returns, read_frame, sends_with_rows
from pipelines.reporting import RecordView, format_column, plain_text, save_workbook_atomically

SUMMARY_SHEET = "汇总"
PROGRESS_SHEET = "填报进度"
STATES = {"returned": "已交回", "pending": "未交回", "overdue": "逾期未交回"}
PROGRESS_COLUMNS = ["社区", "下发人数", "已填报", "未填报", "新增人员", "更正项", "交回次数", "最近交回", "状态"]


@dataclass
class FormProgress:
    """Where a form stands: per community and in total."""

    form: str
    due: date
    as_of: date
    table: pd.DataFrame
    rows: pd.DataFrame
    unanswered: dict[str, list[str]] = field(default_factory=dict)  # community -> person ids

    def count(self, state: str) -> int:
        return int((self.table["状态"] == STATES[state]).sum()) if not self.table.empty else 0

    @property
    def sent_persons(self) -> int:
        return int(self.table["下发人数"].sum()) if not self.table.empty else 0

    @property
    def answered_persons(self) -> int:
        return int(self.table["已填报"].sum()) if not self.table.empty else 0

    def figures(self) -> dict[str, Any]:
        return {
            "communities": len(self.table),
            "returned": self.count("returned"),
            "pending": self.count("pending"),
            "overdue": self.count("overdue"),
            "persons_sent": self.sent_persons,
            "persons_answered": self.answered_persons,
            "rows_consolidated": len(self.rows),
            "due": self.due.isoformat(),
            "as_of": self.as_of.isoformat(),
        }


def latest_answers(engine: sa.Engine, form: str) -> pd.DataFrame:
    answers = read_frame(engine, form_answers, form)
    if answers.empty:
        return answers
    return answers.sort_values("id").drop_duplicates("row_key", keep="last").reset_index(drop=True)


def golden_known(spec: FormSpec, persons: pd.DataFrame, as_of: date) -> dict[str, dict[str, str | None]]:
    """person id -> known header -> the value the department sees (it is entitled to every known field)."""
    if persons.empty:
        return {}
    view = RecordView(persons, as_of)
    ids = [plain_text(value) or "" for value in view.values("person_id")]
    columns = {k.header: format_column(view.values(k.name), column_spec(k)) for k in spec.known}
    return {
        person: {header: plain_text(values[index]) for header, values in columns.items()}
        for index, person in enumerate(ids)
    }


def build_progress(spec: FormSpec, engine: sa.Engine, persons: pd.DataFrame, as_of: date) -> FormProgress:
    """The progress table and the consolidated rows of a form, from the warehouse."""
    sends = sends_with_rows(engine, spec.form)
    answers = latest_answers(engine, spec.form)
    returns = read_frame(engine, form_returns, spec.form)
    returns = returns[returns["status"] == "accepted"] if not returns.empty else returns
    corrections = read_frame(engine, form_corrections, spec.form)
    first = sends[sends["kind"] == "send"] if not sends.empty else sends
    if not first.empty:
        latest_send = first.sort_values("sent_at").groupby("community")["send_id"].last()
        listed = first[first["send_id"].isin(set(latest_send))]
    else:
        listed = first
    answered_keys = set(answers["row_key"]) if not answers.empty else set()
    overdue = as_of > spec.due
    records, unanswered = [], {}
    for community, group in listed.groupby("community") if not listed.empty else []:
        people = [str(p) for p in group["person_id"]]
        missing = [p for p in people if p not in answered_keys]
        unanswered[str(community)] = missing
        mine = returns[returns["community"] == community] if not returns.empty else returns
        added = (
            answers[(answers["community"] == community) & (answers["person_id"] == "")]
            if not answers.empty
            else answers
        )
        fixed = corrections[corrections["community"] == community] if not corrections.empty else corrections
        state = "returned" if len(mine) else ("overdue" if overdue else "pending")
        last = pd.to_datetime(mine["received_at"], utc=True).max() if len(mine) else None
        records.append(
            [
                str(community),
                len(people),
                len(people) - len(missing),
                len(missing),
                len(added),
                len(fixed),
                len(mine),
                last.tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M") if last is not None else "",
                STATES[state],
            ]
        )
    table = pd.DataFrame(records, columns=PROGRESS_COLUMNS)
    return FormProgress(
        spec.form, spec.due, as_of, table, consolidated_rows(spec, sends, answers, persons, as_of), unanswered
    )


def consolidated_rows(
    spec: FormSpec, sends: pd.DataFrame, answers: pd.DataFrame, persons: pd.DataFrame, as_of: date
) -> pd.DataFrame:
    headers = [
        "人员编号",
        "社区",
        *[k.header for k in spec.known],
        *[a.header for a in spec.ask],
        "来源",
        "社区更正",
        "交回时间",
    ]
    if answers.empty:
        return pd.DataFrame(columns=headers)
    golden = golden_known(spec, persons, as_of)
    shown: dict[str, dict[str, str]] = {}
    for person, values in zip(sends["person_id"], sends["shown"], strict=True):
        shown[str(person)] = json.loads(values)
    rows = []
    for answer in answers.sort_values(["community", "row_key"]).to_dict("records"):
        returned: Mapping[str, str] = json.loads(answer["known"])
        asked: Mapping[str, str] = json.loads(answer["answers"])
        person = str(answer["person_id"])
        known_values, notes = [], []
        for known in spec.known:
            sent_value = shown.get(person, {}).get(known.header, "")
            value = returned.get(known.header, "")
            if not person:
                known_values.append(value or None)
            elif known.correctable and value and value != sent_value:
                known_values.append(value)
                notes.append(f"{known.header}：{sent_value or '（空）'}→{value}")
            else:
                known_values.append(golden.get(person, {}).get(known.header) or sent_value or None)
        answered_at = pd.Timestamp(answer["answered_at"])
        answered_at = answered_at.tz_localize(UTC) if answered_at.tzinfo is None else answered_at
        rows.append(
            [
                person or answer["intake_record"],
                answer["community"],
                *known_values,
                *[asked.get(a.header) for a in spec.ask],
                "社区新增" if not person else "预填名单",
                "；".join(notes),
                answered_at.tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M"),
            ]
        )
    return pd.DataFrame(rows, columns=headers)


def consolidation_path(out_dir: Path, spec: FormSpec) -> Path:
    return forms_folder(out_dir, spec) / f"汇总_{spec.form}.xlsx"


def write_consolidation(spec: FormSpec, progress: FormProgress, out_dir: Path, *, run_id: str) -> Path:
    figures = progress.figures()
    cover = CoverSheet(
        title=f"{spec.title}（汇总）",
        facts=[
            ("表单", f"{spec.title}（{spec.form}）"),
            ("接收单位", spec.department_spec.recipient or spec.department),
            ("填报截止", spec.due.isoformat()),
            ("统计日期", progress.as_of.isoformat()),
            ("运行编号", run_id),
            (
                "社区",
                f"共 {figures['communities']} 个：已交回 {figures['returned']}，未交回 {figures['pending']}，"
                f"逾期未交回 {figures['overdue']}",
            ),
            (
                "人员",
                f"下发 {figures['persons_sent']} 人，已填报 {figures['persons_answered']} 人；"
                f"汇总表 {figures['rows_consolidated']} 行（含社区新增人员）",
            ),
            ("说明", "预填列取自数据中心的人员信息（社区更正过的取更正值，见“社区更正”列）；其余列为社区填报内容"),
        ],
    )
    sheets = [
        TableSheet(
            SUMMARY_SHEET,
            progress.rows,
            text_columns=frozenset(
                [
                    "人员编号",
                    *[k.header for k in spec.known if k.text],
                    *[a.header for a in spec.ask if a.type == "phone"],
                ]
            ),
        ),
        TableSheet(PROGRESS_SHEET, progress.table, number_formats={c: "0" for c in PROGRESS_COLUMNS[1:7]}),
    ]
    return save_workbook_atomically(consolidation_path(out_dir, spec), sheets, cover)


def push_consolidation(
    spec: FormSpec, progress: FormProgress, engine: sa.Engine, *, run_id: str, env: Mapping[str, str] | None = None
) -> PushResult | None:
    """The consolidated rows to the department's HTTP inbox (its report spec's http delivery), or None
    when it has none or its address is not set."""
    delivery = next((d for d in spec.department_spec.deliveries if d.kind == "http"), None)
    url = delivery.resolved_url(env) if delivery is not None else None
    if delivery is None or url is None:
        return None
    frame = progress.rows.astype(object).where(progress.rows.notna(), None)
    rows = [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
    return push_batches(
        engine,
        report=f"form_{spec.form}/{SUMMARY_SHEET}",
        run_id=run_id,
        url=url,
        rows=rows,
        batch_size=delivery.batch_size,
        payload_extra={"form": spec.form},
    )
