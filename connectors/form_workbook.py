"""Department form workbooks sent to a community pre-filled, and the same workbooks coming back.

A form workbook carries the hub's return marker (connectors/return_marker.py: kind ``form``, the
send, and the form, community, title and due date as facts), so a return is recognised by what it is
and not by its file name, by the same recogniser as every other return; and a hidden key column (the
person each row is about), so rows sorted or filtered by staff still find their person. A row staff
add at the end has no key: a person the hub did not know. Rejected answers go back in the same
layout, the marker kept, each bad cell red with its reason, so staff fix it in place and drop it
again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from connectors.inbox import file_hash
from connectors.intake_workbook import BAD_CELL_FONT, COMMENT_AUTHOR, cell_safe, mark_cell, put_text, raw_text
from connectors.return_marker import FORM_KIND, ReturnMarker, add_marker_openpyxl, recognise_return
from connectors.spreadsheet import WorkbookRejected, open_workbook
from connectors.workbook import HEADER_ALIGNMENT, HEADER_BORDER, HEADER_FILL, HEADER_FONT, TITLE_FONT, display_width

DATA_SHEET = "填报"
COVER_SHEET = "填写说明"
LISTS_SHEET = "_选项"
KEY_HEADER = "行标识（请勿修改）"
REASON_HEADER = "退回原因（修改标红单元格后重新放入收件箱）"
TEXT_FORMAT = "@"
PREFILLED_FILL = PatternFill("solid", start_color="EDEDED", end_color="EDEDED")
INLINE_LIST_LIMIT = 255  # Excel's limit for a list written into the validation itself
MARKER_FACTS = ("form", "community", "title", "due")


@dataclass(frozen=True)
class FormMarker:
    """What a form's return marker says: the form, the send it belongs to, the community."""

    form: str
    send_id: str
    community: str
    title: str = ""
    due: str = ""

    def return_marker(self) -> ReturnMarker:
        return ReturnMarker(FORM_KIND, self.send_id, {key: getattr(self, key) for key in MARKER_FACTS})

    @classmethod
    def of(cls, marker: ReturnMarker) -> FormMarker:
        return cls(send_id=marker.send_id, **{key: marker.facts.get(key, "") for key in MARKER_FACTS})


@dataclass(frozen=True)
class FormColumn:
    """One column of the form: pre-filled (grey, correctable) or asked (blank, validated)."""

    header: str
    prefilled: bool
    text: bool = False
    choices: tuple[str, ...] = ()
    number: bool = False
    required: bool = False
    hint: str = ""


@dataclass(frozen=True)
class FormReturnRow:
    """One filled row of a returned form: its Excel row, its person key ("" for a row staff added)."""

    number: int
    key: str
    values: dict[str, str]


@dataclass(frozen=True)
class FormReturn:
    path: Path
    marker: FormMarker
    headers: list[str]
    rows: list[FormReturnRow] = field(default_factory=list)
    digest: str = ""
    keyed: bool = True  # the hidden key column is still there (staff did not delete it)


def _style_header(ws: Worksheet, headers: Sequence[str], columns: Sequence[FormColumn]) -> None:
    for index, header in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=index)
        put_text(cell, header)
        cell.font, cell.fill, cell.alignment, cell.border = HEADER_FONT, HEADER_FILL, HEADER_ALIGNMENT, HEADER_BORDER
        column = columns[index - 1] if index <= len(columns) else None
        ws.column_dimensions[get_column_letter(index)].width = min(40.0, max(10.0, display_width(header) + 4))
        if column is not None:
            note = (
                "已预填，如有误请直接更正"
                if column.prefilled
                else ("【必填】" if column.required else "") + (column.hint or "请填写")
            )
            cell.comment = Comment(note, COMMENT_AUTHOR, width=220, height=70)
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 28


def _validation(column: FormColumn, lists: Mapping[str, str]) -> DataValidation:
    if column.choices:
        inline = '"' + ",".join(column.choices) + '"'
        formula = inline if len(inline) <= INLINE_LIST_LIMIT else lists[column.header]
        validation = DataValidation(
            type="list",
            formula1=formula,
            allow_blank=not column.required,
            showErrorMessage=True,
            errorTitle="输入有误",
            error="请从下拉列表中选择。",
        )
    elif column.number:
        validation = DataValidation(
            type="decimal",
            operator="greaterThanOrEqual",
            formula1="0",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="输入有误",
            error="请填写数字。",
        )
    else:
        validation = DataValidation(allow_blank=True)
    validation.showInputMessage = True
    validation.promptTitle = column.header[:32]
    prompt = column.hint or (
        "手机11位，如 13912345678；座机如 0596-1234567" if column.text and not column.prefilled else "请填写"
    )
    validation.prompt = (("【必填】" if column.required else "") + prompt)[:255]
    return validation


def write_form_workbook(
    path: Path,
    marker: FormMarker,
    columns: Sequence[FormColumn],
    rows: Sequence[Sequence[str | None]],
    keys: Sequence[str],
    cover: Sequence[tuple[str, str]],
    *,
    spare_rows: int = 100,
    marks: Mapping[tuple[int, str], Sequence[str]] | None = None,
    row_reasons: Sequence[str] | None = None,
) -> Path:
    """Write a form workbook: cover sheet, the data sheet (pre-filled columns grey, asked columns with
    dropdowns, text formats and hints, ``spare_rows`` empty validated rows for persons staff add),
    the hidden key column and the hidden marker sheet. ``marks`` ((row index, header) -> reasons) and
    ``row_reasons`` make it a rejection workbook. Saved under a temporary name, then renamed."""
    wb = Workbook()
    ws_cover = wb.active
    assert ws_cover is not None
    ws_cover.title = COVER_SHEET
    ws_cover.append([marker.title])
    ws_cover["A1"].font = TITLE_FONT
    for label, text in cover:
        ws_cover.append([label, cell_safe(text)])
    ws_cover.column_dimensions["A"].width = 18
    ws_cover.column_dimensions["B"].width = 100
    for row in ws_cover.iter_rows(min_row=2):
        row[0].font = Font(bold=True)
        if len(row) > 1:
            row[1].alignment = Alignment(wrap_text=True, vertical="top")

    ws = wb.create_sheet(DATA_SHEET)
    headers = [column.header for column in columns]
    extra = [REASON_HEADER] if row_reasons is not None else []
    all_headers = [*headers, *extra, KEY_HEADER]
    _style_header(ws, all_headers, columns)
    key_column = len(all_headers)
    for index, values in enumerate(rows):
        excel_row = index + 2
        for number, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = ws.cell(row=excel_row, column=number)
            if value not in (None, ""):
                put_text(cell, cell_safe(str(value)))
            if column.prefilled:
                cell.fill = PREFILLED_FILL
        for (row_index, header), reasons in (marks or {}).items():
            if row_index == index and header in headers:
                mark_cell(ws.cell(row=excel_row, column=headers.index(header) + 1), reasons)
        if row_reasons is not None:
            reason_cell = ws.cell(row=excel_row, column=len(headers) + 1)
            put_text(reason_cell, cell_safe(row_reasons[index]))
            reason_cell.font = BAD_CELL_FONT
        put_text(ws.cell(row=excel_row, column=key_column), keys[index] if index < len(keys) else "")
    last_row = max(2, len(rows) + 1 + spare_rows)
    lists = _choice_lists(wb, columns)
    for number, column in enumerate(columns, start=1):
        letter = get_column_letter(number)
        validation = _validation(column, lists)
        validation.add(f"{letter}2:{letter}{last_row}")
        ws.add_data_validation(validation)
        if column.text:
            ws.column_dimensions[letter].number_format = TEXT_FORMAT
            for excel_row in range(2, last_row + 1):
                ws.cell(row=excel_row, column=number).number_format = TEXT_FORMAT
    if row_reasons is not None:
        ws.column_dimensions[get_column_letter(len(headers) + 1)].width = 50
    ws.column_dimensions[get_column_letter(key_column)].hidden = True
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(2, len(rows) + 1)}"

    add_marker_openpyxl(wb, marker.return_marker())
    wb.active = 1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        wb.save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _choice_lists(wb: Workbook, columns: Sequence[FormColumn]) -> dict[str, str]:
    """Choice lists too long to write into a validation go on a hidden sheet."""
    long_lists = [c for c in columns if c.choices and len('"' + ",".join(c.choices) + '"') > INLINE_LIST_LIMIT]
    refs: dict[str, str] = {}
    if not long_lists:
        return refs
    ws = wb.create_sheet(LISTS_SHEET)
    for index, column in enumerate(long_lists, start=1):
        letter = get_column_letter(index)
        ws.cell(row=1, column=index, value=column.header)
        for row, choice in enumerate(column.choices, start=2):
            ws.cell(row=row, column=index, value=choice)
        refs[column.header] = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(column.choices) + 1}"
    ws.sheet_state = "hidden"
    return refs


def read_form_return(path: Path) -> FormReturn | None:
    """The returned form in ``path``, or None when the workbook is not a form the hub sent (no return
    marker of kind ``form``, new or old, see connectors/return_marker.py) or cannot be opened (the
    intake path rejects such files with their reason)."""
    path = Path(path)
    found = recognise_return(path)
    return None if found is None or found.kind != FORM_KIND else read_form_workbook(path, FormMarker.of(found))


def read_form_workbook(path: Path, marker: FormMarker) -> FormReturn | None:
    """The rows of a form workbook whose marker was already recognised (None if it cannot be opened)."""
    try:
        wb = open_workbook(path, source="form")
    except WorkbookRejected:
        return None
    try:
        if DATA_SHEET not in wb.sheetnames:
            return FormReturn(path, marker, [], [], file_hash(path), keyed=False)
        values = [list(row) for row in wb[DATA_SHEET].iter_rows(values_only=True)]
    finally:
        wb.close()
    if not values:
        return FormReturn(path, marker, [], [], file_hash(path), keyed=False)
    headers = [raw_text(value).strip() for value in values[0]]
    key_index = headers.index(KEY_HEADER) if KEY_HEADER in headers else None
    keep = [(i, h) for i, h in enumerate(headers) if h and h not in (KEY_HEADER, REASON_HEADER)]
    rows = []
    for number, row in enumerate(values[1:], start=2):
        texts = {h: raw_text(row[i]).strip() if i < len(row) else "" for i, h in keep}
        if not any(texts.values()):
            continue
        key = raw_text(row[key_index]).strip() if key_index is not None and key_index < len(row) else ""
        rows.append(FormReturnRow(number, key, texts))
    return FormReturn(path, marker, [h for _, h in keep], rows, file_hash(path), keyed=key_index is not None)
