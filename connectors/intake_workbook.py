"""The community intake workbook: the template staff fill in, its reader, and the rejection workbook.

Staff enter a resident or an incident once, in one workbook with dropdowns and hints. The hub reads
a dropped workbook into raw rows (the template's own column names, every value a string) and sends
rejected rows back in the same layout, each bad cell filled and commented with its reason, so staff
fix them in place and drop the file again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from connectors.inbox import rejection_reason, short_label
from connectors.spreadsheet import WorkbookRejected, open_workbook, sheet_values
from connectors.text import value_as_text
from connectors.workbook import (
    FORMULA_TRIGGERS,
    HEADER_ALIGNMENT,
    HEADER_BORDER,
    HEADER_FILL,
    HEADER_FONT,
    display_width,
    set_print_setup,
)
from hub_errors import SourceError

CATEGORIES_FILE = Path(__file__).resolve().parents[1] / "schemas" / "mappings" / "categories.yaml"
RECORD_ID = "记录编号"
ROW_NUMBER = "行号"
REASON_HEADER = "退回原因（修改标红单元格后可直接重新提交）"
TEXT_FORMAT = "@"
TEMPLATE_ROWS = 1000
EXCEL_CELL_MAX = 32767
LISTS_SHEET = "选项"
GUIDE_SHEET = "填写说明"
BAD_CELL_FILL = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")
BAD_CELL_FONT = Font(color="9C0006")
COMMENT_AUTHOR = "数据中心"
GENDERS = ("男", "女")
STATUSES = ("上报", "受理", "分派", "处置中", "办结", "评价")
RESIDENCE_STATUSES = ("人户一致", "人在户不在", "户在人不在")


@dataclass(frozen=True)
class IntakeColumn:
    """One template column: its header, the shared field (or attribute) it feeds, how it is entered."""

    header: str
    field: str
    hint: str
    text: bool = False
    choices: str | None = None
    required: bool = False
    width: float = 14


@dataclass(frozen=True)
class IntakeSheet:
    dataset: str
    title: str
    columns: tuple[IntakeColumn, ...]

    def column(self, name: str) -> IntakeColumn | None:
        """The column with this header or this field name (quarantine rows name either)."""
        return next((c for c in self.columns if name in (c.header, c.field)), None)


RESIDENTS = IntakeSheet(
    "residents",
    "居民信息",
    (
        IntakeColumn("姓名", "name", "必填。与身份证件一致，不要加空格。", required=True, width=12),
        IntakeColumn("公民身份号码", "id_no", "18位身份证号，末位X请大写；没有证件可留空。", text=True, width=22),
        IntakeColumn("性别", "gender", "从下拉列表选择：男 或 女。", choices="gender", width=8),
        IntakeColumn("出生日期", "birth", "如 1950-01-01；有身份证号时可留空。", text=True, width=14),
        IntakeColumn("联系电话", "phone", "手机11位，如 13912345678；座机如 0596-1234567。", text=True, width=16),
        IntakeColumn(
            "现住址",
            "address",
            "必填。写到门牌、楼栋、单元和室，如 幸福路12号3栋2单元501室。",
            required=True,
            width=40,
        ),
        IntakeColumn("所属网格", "grid", "如 东铺头社区01网格。", width=18),
        IntakeColumn("人户状态", "residence_status", "从下拉列表选择。", choices="residence", width=12),
        IntakeColumn("备注", "note", "其他需要说明的情况。", width=24),
    ),
)
EVENTS = IntakeSheet(
    "events",
    "事件上报",
    (
        IntakeColumn(
            "事件类型",
            "category",
            "必填。从下拉列表选择专业分类。",
            choices="category",
            required=True,
            width=16,
        ),
        IntakeColumn("发生时间", "reported_at", "如 2026-03-01 09:30。", text=True, width=18),
        IntakeColumn("事发地点", "location", "必填。写到路名门牌或小区楼栋。", required=True, width=36),
        IntakeColumn("所属网格", "grid", "如 东铺头社区01网格。", width=18),
        IntakeColumn("事件描述", "description", "简要写明发生了什么、涉及多少人。", width=40),
        IntakeColumn("处置状态", "status", "从下拉列表选择；新发现的事件选“上报”。", choices="status", width=10),
        IntakeColumn("联系方式", "contact", "上报人电话，可留空。", text=True, width=16),
    ),
)
INTAKE_SHEETS = (RESIDENTS, EVENTS)

IntakeRows = dict[str, list[dict[str, str]]]


def professional_categories(path: Path = CATEGORIES_FILE) -> list[str]:
    """The grid system's professional categories, the only values the category dropdown offers."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [str(name) for name in data["categories"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise SourceError(f"intake template: category list {path} cannot be read ({exc}).") from None


def style_header(ws: Worksheet, sheet: IntakeSheet, extra: Sequence[str] = ()) -> None:
    headers = [column.header for column in sheet.columns] + list(extra)
    for index, header in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=index)
        put_text(cell, header)  # headers copied from a dropped workbook are text, never formulas
        cell.font, cell.fill, cell.alignment, cell.border = (
            HEADER_FONT,
            HEADER_FILL,
            HEADER_ALIGNMENT,
            HEADER_BORDER,
        )
        column = sheet.columns[index - 1] if index <= len(sheet.columns) else None
        width = column.width if column else display_width(headers[index - 1]) + 2
        ws.column_dimensions[get_column_letter(index)].width = width
        if column is not None:
            label = ("【必填】" if column.required else "") + column.hint
            cell.comment = Comment(label, COMMENT_AUTHOR, width=220, height=80)
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 24


def add_validations(ws: Worksheet, sheet: IntakeSheet, lists: Mapping[str, str], last_row: int) -> None:
    """Dropdowns for coded columns, an input hint on every column, text format on identifier columns.

    The text format is the column's style, which Excel and LibreOffice give every cell typed into
    it; styling empty cells instead would make the sheet look 1000 rows long to readers.
    """
    for index, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(index)
        cells = f"{letter}2:{letter}{last_row}"
        if column.choices:
            validation = DataValidation(
                type="list",
                formula1=lists[column.choices],
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="输入有误",
                error="请从下拉列表中选择。",
            )
        else:
            validation = DataValidation(allow_blank=True)
        validation.showInputMessage = True
        validation.promptTitle = column.header[:32]
        validation.prompt = column.hint[:255]
        validation.add(cells)
        ws.add_data_validation(validation)
        if column.text:
            ws.column_dimensions[letter].number_format = TEXT_FORMAT


def add_choice_lists(wb: Workbook, categories: Sequence[str]) -> dict[str, str]:
    """Choices live on a hidden sheet: a list longer than 255 characters cannot be inline."""
    ws = wb.create_sheet(LISTS_SHEET)
    choices = {
        "gender": GENDERS,
        "category": tuple(categories),
        "status": STATUSES,
        "residence": RESIDENCE_STATUSES,
    }
    refs = {}
    for index, (name, values) in enumerate(choices.items(), start=1):
        letter = get_column_letter(index)
        ws.cell(row=1, column=index, value=name)
        for row, value in enumerate(values, start=2):
            ws.cell(row=row, column=index, value=value)
        refs[name] = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(values) + 1}"
    ws.sheet_state = "hidden"
    return refs


def add_guide(wb: Workbook) -> None:
    ws = wb.create_sheet(GUIDE_SHEET, 0)
    lines = [
        "社区信息一次录入表",
        "",
        f"1. 居民在“{RESIDENTS.title}”表填写，一人一行；事件在“{EVENTS.title}”表填写，一事一行。",
        "2. 带下拉箭头的列请从列表中选择；选中单元格时会显示填写提示，表头批注也有说明。",
        "3. 身份证号、电话、日期列已设为文本格式，请直接输入，不要加空格或撇号。",
        "4. 不要修改表头、不要增删列；填好后保存，放入社区收件箱（community-inbox 文件夹）即可。",
        "5. 有问题的行会以“退回”工作簿返回，标红的单元格有批注说明原因，修改后直接重新提交。",
    ]
    for line in lines:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 100
    for row in ws.iter_rows(min_row=3):
        row[0].alignment = Alignment(wrap_text=True)


def build_template(categories: Sequence[str] | None = None, *, rows: int = TEMPLATE_ROWS) -> Workbook:
    """The intake workbook in memory: guide, residents and incidents sheets, hidden choice lists."""
    wb = Workbook()
    if wb.active is not None:
        wb.remove(wb.active)
    add_guide(wb)
    sheets = [wb.create_sheet(sheet.title) for sheet in INTAKE_SHEETS]
    lists = add_choice_lists(wb, categories if categories is not None else professional_categories())
    for ws, sheet in zip(sheets, INTAKE_SHEETS, strict=True):
        style_header(ws, sheet)
        add_validations(ws, sheet, lists, rows + 1)
        set_print_setup(ws)
    set_print_setup(wb[GUIDE_SHEET], header_rows=0)
    wb.active = 1
    return wb


def write_intake_template(path: Path, *, categories: Sequence[str] | None = None) -> Path:
    """Write the empty intake workbook community staff fill in (``hub template``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build_template(categories).save(path)
    return path


def raw_text(value: Any, *, date_only: bool = False) -> str:
    """A cell as the text staff meant: dates to ISO, whole numbers without .0, empty to ""."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if date_only or value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return value_as_text(value)  # a long number keeps its numeric form: never an ID number
    return str(value)


def file_key(path: Path) -> str:
    """The workbook's part of its record ids (``<key>:<sheet>:<row>``): its name without suffix,
    shortened with a hash when long, so ids stay within the warehouse's id length."""
    return short_label(Path(path).stem)


def read_sheet(rows: Sequence[Sequence[Any]], sheet: IntakeSheet, file_name: str, key: str) -> list[dict[str, str]]:
    """Filled rows of one template sheet (its rows as values, the header first)."""
    if not rows:
        return []
    headers = [raw_text(value).strip() for value in rows[0]]
    if not any(header in {column.header for column in sheet.columns} for header in headers):
        raise WorkbookRejected(
            f"intake workbook {file_name}, sheet {sheet.title}: row 1 holds no template headers "
            f"({', '.join(c.header for c in sheet.columns)}). Copy the data into a fresh template.",
            check="layout",
            reason=rejection_reason("layout", detail=f"“{sheet.title}”表第1行不是模板表头"),
        )
    skipped = {RECORD_ID, ROW_NUMBER, REASON_HEADER}
    keep = [(index, header) for index, header in enumerate(headers) if header and header not in skipped]
    records = []
    for row_number, values in enumerate(rows[1:], start=2):
        texts = {header: raw_text(values[index]) if index < len(values) else "" for index, header in keep}
        if not any(text.strip() for text in texts.values()):
            continue
        records.append({RECORD_ID: f"{key}:{sheet.title}:{row_number}", ROW_NUMBER: str(row_number), **texts})
    return records


def read_intake_workbook(path: Path) -> IntakeRows:
    """Raw rows per dataset (``residents``, ``events``) of a dropped intake workbook.

    Each row maps the template's column names to strings as entered, plus ``记录编号``
    (``<file key>:<sheet>:<row>``, the record id quarantine refers to) and ``行号`` (the Excel row).
    Empty rows are skipped; a sheet that is absent gives no rows. A file that cannot be opened or
    holds no template sheet raises WorkbookRejected (a SourceError) with the sender's reason.
    """
    path = Path(path)
    wb = open_workbook(path, source="intake")
    try:
        found = [sheet for sheet in INTAKE_SHEETS if sheet.title in wb.sheetnames]
        if not found:
            titles = "、".join(s.title for s in INTAKE_SHEETS)
            raise WorkbookRejected(
                f"intake workbook {path.name} has none of the sheets {', '.join(s.title for s in INTAKE_SHEETS)}; "
                "use the template from `hub template`.",
                check="no_sheet",
                reason=rejection_reason("no_sheet", detail=titles),
            )
        result: IntakeRows = {sheet.dataset: [] for sheet in INTAKE_SHEETS}
        for sheet in found:
            values = sheet_values(path, wb, wb[sheet.title])
            result[sheet.dataset] = read_sheet(values, sheet, path.name, file_key(path))
        return result
    finally:
        wb.close()


def reasons_by_record(quarantine: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """record_id -> [(field, reason)], in the order the checks reported them."""
    reasons: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if quarantine.empty:
        return reasons
    for record_id, field_name, reason in quarantine[["record_id", "field", "reason"]].itertuples(index=False):
        reasons[str(record_id)].append(("" if pd.isna(field_name) else str(field_name), str(reason)))
    return reasons


def put_text(cell: Any, value: str) -> None:
    """Store exactly what staff typed, as text: a value a spreadsheet would run (= + - @, tab, CR)
    is written as a string cell with Excel's quote prefix, so it shows as typed and never runs."""
    cell.value = value
    if value.startswith(FORMULA_TRIGGERS):
        cell.data_type = "s"
        cell.quotePrefix = True


def cell_safe(value: str) -> str:
    """Text a cell can hold: control characters (which .xlsx cannot store) dropped, and no more than
    Excel's 32,767 characters (a longer value is cut, its excess named)."""
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(text) <= EXCEL_CELL_MAX:
        return text
    tail = f"……（共{len(text)}字，超出部分未显示）"
    return text[: EXCEL_CELL_MAX - len(tail)] + tail


def mark_cell(cell: Any, reasons: Iterable[str]) -> None:
    cell.fill = BAD_CELL_FILL
    cell.font = BAD_CELL_FONT
    cell.comment = Comment("；".join(reasons), COMMENT_AUTHOR, width=260, height=90)


def write_rejected_sheet(
    ws: Worksheet,
    sheet: IntakeSheet,
    rows: Sequence[Mapping[str, str]],
    reasons: Mapping[str, list[tuple[str, str]]],
) -> int:
    """Rejected rows in template layout; returns how many rows went back."""
    extra = [key for row in rows for key in row if key not in {RECORD_ID, ROW_NUMBER} and sheet.column(key) is None]
    extra_headers = list(dict.fromkeys(extra))
    headers = [column.header for column in sheet.columns] + extra_headers
    style_header(ws, sheet, [*extra_headers, ROW_NUMBER, REASON_HEADER])
    written = 0
    for row in rows:
        problems = reasons.get(row.get(RECORD_ID, ""))
        if not problems:
            continue
        written += 1
        excel_row = written + 1
        for index, header in enumerate(headers, start=1):
            put_text(ws.cell(row=excel_row, column=index), cell_safe(row.get(header, "")))
        put_text(ws.cell(row=excel_row, column=len(headers) + 1), row.get(ROW_NUMBER, ""))
        by_column: dict[int, list[str]] = defaultdict(list)
        summary = []
        for field_name, reason in problems:
            column = sheet.column(field_name)
            if column is not None:
                by_column[headers.index(column.header) + 1].append(reason)
                summary.append(f"{column.header}：{reason}")
            else:
                summary.append(reason)
        for index, column_reasons in by_column.items():
            mark_cell(ws.cell(row=excel_row, column=index), column_reasons)
        reason_cell = ws.cell(row=excel_row, column=len(headers) + 2)
        put_text(reason_cell, "；".join(summary))
        reason_cell.font = BAD_CELL_FONT
    ws.column_dimensions[get_column_letter(len(headers) + 2)].width = 50
    return written


def write_rejection_workbook(
    path: Path, rows: IntakeRows, quarantine: pd.DataFrame, *, file_reason: str | None = None
) -> Path:
    """Return rejected rows to the sender: template layout, each bad cell red with its reason.

    ``rows`` is what :func:`read_intake_workbook` gave; ``quarantine`` has ``record_id, field,
    reason`` (field is a template header or the shared field it feeds; other fields are listed in
    the reason column only). Dropdowns and text formats are kept, so staff fix and resubmit.
    ``file_reason`` is for a file that could not be read at all: the guide sheet then says why.
    """
    wb = build_template(rows=TEMPLATE_ROWS)
    reasons = reasons_by_record(quarantine)
    counts = {}
    for sheet in INTAKE_SHEETS:
        ws = wb[sheet.title]
        counts[sheet.title] = write_rejected_sheet(ws, sheet, rows.get(sheet.dataset, []), reasons)
    guide = wb[GUIDE_SHEET]
    guide["A1"] = "退回记录：请按标红单元格的批注修改后重新提交"
    guide.insert_rows(2)
    guide["A2"] = "；".join(f"{title} 退回 {count} 行" for title, count in counts.items())
    if file_reason is not None:
        guide["A1"] = "退回文件：整个文件未能读取，请按下述原因处理后重新提交"
        guide["A2"] = cell_safe(file_reason)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
