"""Sending a form down: one pre-filled workbook per community, and reminders of what is unanswered.

The population comes from the golden person records by the same include rules as the report specs;
known columns are filled and formatted as staff read them and masked where the community copy may
not show them (pipelines.forms.spec.FormSpec.mask_for); asked columns stay blank with dropdowns and
text formats. Every send is recorded with the values shown, so a return is compared with them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from connectors.form_workbook import FormColumn, FormMarker, write_form_workbook
from pipelines.departments import ColumnSpec
from pipelines.forms.spec import AskField, FormSpec, KnownField
from pipelines.forms.store import SendRecord, record_send
from pipelines.reporting import (
    UNKNOWN_GROUP,
    RecordView,
    describe_rule,
    format_column,
    include_mask,
    plain_text,
    safe_file_part,
    sort_view,
)

SORT_BY = ("grid", "address_canonical", "person_id")
GRID_COMMUNITY = re.compile(r"^(.+?社区)")
ASK_HINTS = {
    "choice": "从下拉列表选择",
    "phone": "手机11位，如 13912345678；座机如 0596-1234567",
    "date": "如 2026-01-31",
    "number": "填写数字",
    "text": "",
}


def forms_folder(out_dir: Path, spec: FormSpec) -> Path:
    return Path(out_dir) / "forms" / spec.form


def column_spec(known: KnownField) -> ColumnSpec:
    """The report column that formats a known field the way the form shows it."""
    return ColumnSpec(
        header=known.header, field=known.name, type="text" if known.text else "auto", codes=known.codes, date=known.date
    )


def form_columns(spec: FormSpec) -> list[FormColumn]:
    known = [FormColumn(k.header, prefilled=True, text=k.text) for k in spec.known]
    return known + [ask_column(a) for a in spec.ask]


def ask_column(ask: AskField) -> FormColumn:
    return FormColumn(
        ask.header,
        prefilled=False,
        text=ask.type in ("phone", "date", "text"),
        choices=ask.choices,
        number=ask.type == "number",
        required=ask.required,
        hint=ask.hint or ASK_HINTS[ask.type],
    )


def shown_values(spec: FormSpec, view: RecordView) -> pd.DataFrame:
    """The known columns as the community copy shows them: formatted, masked where it must be."""
    data = {}
    for known in spec.known:
        values = format_column(view.values(known.name), column_spec(known))
        mask = spec.mask_for(known.name)
        if mask is not None:
            values = [mask.apply(None if value is None else str(value)) for value in values]
        data[known.header] = [plain_text(value) for value in values]
    return pd.DataFrame(data, index=view.frame.index, columns=[k.header for k in spec.known], dtype=object)


def population(spec: FormSpec, persons: pd.DataFrame, as_of: date) -> RecordView:
    view = RecordView(persons, as_of)
    return sort_view(view.subset(include_mask(view, spec.population)), SORT_BY)


def community_of(community: object, grid: object) -> str:
    """The community a person's workbook goes to: the one the address names, else the one the grid
    belongs to (grids are named within their community, 东铺头社区01网格), else 未识别社区."""
    named = plain_text(community)
    if named:
        return named
    match = GRID_COMMUNITY.match(plain_text(grid) or "")
    return match.group(1) if match else UNKNOWN_GROUP


def communities_of(view: RecordView) -> pd.Series:
    """The golden record's placed community (dedup.community: address, grid, other records, address
    book), as the rosters group persons; else the address's community or the grid's."""
    grids = view.values("grid")
    placed = view.values("community") if "community" in view.frame.columns else view.values("addr_community")
    named = [p if plain_text(p) else a for p, a in zip(placed, view.values("addr_community"), strict=True)]
    return pd.Series(
        [community_of(c, g) for c, g in zip(named, grids, strict=True)],
        index=view.frame.index,
        dtype=object,
    )


def ask_wording(ask: AskField) -> str:
    return "选择 " + "/".join(ask.choices) if ask.choices else ASK_HINTS[ask.type] or "文字"


def cover_lines(spec: FormSpec, community: str, persons: int, *, reminder: bool, as_of: date) -> list[tuple[str, str]]:
    required = [a.header for a in spec.ask if a.required]
    asks = "；".join(f"{a.header}（{'必填，' if a.required else ''}{ask_wording(a)}）" for a in spec.ask)
    masked = [k.header for k in spec.known if spec.mask_for(k.name) is not None]
    lines = [
        ("社区", community),
        ("下发单位", f"{spec.department_spec.recipient or spec.department}"),
        ("填报截止", f"请于 {spec.due.isoformat()} 前填好交回"),
        ("名单范围", f"{describe_rule(spec.population)}，共 {persons} 人"),
        ("需要填写", asks + (f"。其中 {'、'.join(required)} 为必填" if required else "")),
        (
            "已预填",
            "灰色列（" + "、".join(k.header for k in spec.known) + "）已按数据中心现有数据预填，"
            "不必重新录入；如有错误请直接在单元格中改正，改正会反馈给数据中心核实",
        ),
        ("新增人员", "名单以外符合条件的人员，请在表格末尾空行补充（姓名、身份证号、住址等），将作为新登记人员录入"),
        ("交回方式", "填好后保存（不要改表头、不要删除或移动隐藏列），放入社区收件箱；有问题的行会以“退回”工作簿返回"),
        ("生成日期", as_of.isoformat()),
    ]
    if masked:
        lines.insert(6, ("脱敏说明", "、".join(masked) + " 按权限部分隐藏（*号），如需更正请填写完整内容"))
    if reminder:
        lines.insert(0, ("催报", "以下是尚未填报的人员，请尽快填写交回（已交回的不必重复填写）"))
    return lines


@dataclass
class SendOutcome:
    """What a send wrote: per community its workbook and persons, and the pre-filled share."""

    form: str
    workbooks: dict[str, Path] = field(default_factory=dict)
    persons: dict[str, int] = field(default_factory=dict)
    known_cells: int = 0
    prefilled_cells: int = 0
    all_cells: int = 0

    @property
    def prefilled_share(self) -> float:
        return self.prefilled_cells / self.all_cells if self.all_cells else 0.0

    def lines(self) -> list[str]:
        total = sum(self.persons.values())
        return [
            f"form {self.form}: {len(self.workbooks)} community workbook(s), {total} person(s)",
            f"  cells: {self.all_cells} in all, {self.known_cells} in known columns "
            f"({self.known_cells / max(1, self.all_cells):.1%}), {self.prefilled_cells} pre-filled with a value "
            f"({self.prefilled_share:.1%})",
        ]


def write_sends(
    spec: FormSpec,
    engine: sa.Engine,
    view: RecordView,
    out_dir: Path,
    *,
    as_of: date,
    kind: str = "send",
    only_communities: Sequence[str] | None = None,
) -> SendOutcome:
    """One workbook per community of ``view``'s persons, each recorded as a send of ``kind``."""
    outcome = SendOutcome(spec.form)
    shown = shown_values(spec, view)
    groups = communities_of(view)
    person_ids = view.values("person_id").map(lambda value: plain_text(value) or "")
    columns = form_columns(spec)
    folder = forms_folder(out_dir, spec)
    suffix = "_催报" if kind == "reminder" else ""
    for community in sorted(set(groups)):
        if only_communities is not None and community not in only_communities:
            continue
        positions = groups.index[groups == community]
        frame = shown.loc[positions]
        keys = list(person_ids.loc[positions])
        send_id = uuid.uuid4().hex[:16]
        path = folder / f"{safe_file_part(community)}_{safe_file_part(spec.title)}{suffix}_{as_of.isoformat()}.xlsx"
        rows = [[*values, *([None] * len(spec.ask))] for values in frame.itertuples(index=False, name=None)]
        marker = FormMarker(spec.form, send_id, community, spec.title, spec.due.isoformat())
        write_form_workbook(
            path,
            marker,
            columns,
            rows,
            keys,
            cover_lines(spec, community, len(rows), reminder=kind == "reminder", as_of=as_of),
        )
        record = SendRecord(
            send_id, spec.form, community, kind, len(rows), str(path), spec.due.isoformat(), datetime.now(UTC)
        )
        shown_rows = [
            (key, {h: v for h, v in zip(frame.columns, values, strict=True) if v is not None})
            for key, values in zip(keys, frame.itertuples(index=False, name=None), strict=True)
        ]
        with engine.begin() as conn:
            record_send(conn, record, shown_rows)
        outcome.workbooks[community] = path
        outcome.persons[community] = len(rows)
        outcome.known_cells += len(rows) * len(spec.known)
        outcome.prefilled_cells += int(frame.notna().to_numpy().sum())
        outcome.all_cells += len(rows) * (len(spec.known) + len(spec.ask))
    return outcome


def send_form(spec: FormSpec, persons: pd.DataFrame, engine: sa.Engine, out_dir: Path, *, as_of: date) -> SendOutcome:
    """`hub form send`: the form's population, one pre-filled workbook per community."""
    return write_sends(spec, engine, population(spec, persons, as_of), out_dir, as_of=as_of)
