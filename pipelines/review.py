"""The stewards' review in Excel: the pairs the model is least sure of and the category words it does not
know, in one workbook with a dropdown per row; the returned workbook's choices become steward decisions
and category mappings that the next run honours, recorded with who decided and when.

The workbook goes out as ``OUT/待核对_复核.xlsx`` after each run (and with `hub review export`); it comes
back through `hub review import FILE` or the steward inbox (``HUB_HOME/steward-inbox/``), which the next
run reads before it starts.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from connectors.workbook import neutralise_formula
from hub_errors import HubError
from pipelines.metadata import mask_value
from pipelines.warehouse import Warehouse
from schemas.categories import load_table, map_category, use_steward_words

REVIEW_BOOK = "待核对_复核.xlsx"
PAIRS_SHEET = "人员比对"
WORDS_SHEET = "事件分类"
GUIDE_SHEET = "说明"
OPTIONS_SHEET = "选项"
SAME, DIFFERENT = "同一人", "不是同一人"
STEWARD_LABEL = "核对人"
STEWARD_CELL = "B4"

RecordKey = tuple[str, str]

PAIR_HEADER = [
    "序号",
    "记录A",
    "姓名A",
    "出生日期A",
    "身份证号A",
    "住址A",
    "记录B",
    "姓名B",
    "出生日期B",
    "身份证号B",
    "住址B",
    "同一人可能性",
    "本次结果",
    "各项比对",
    "判定",
    "备注",
]
WORD_HEADER = ["序号", "居民用词", "出现次数", "系统猜测", "把握", "映射到", "备注"]
SHOWN_FIELDS = ("name", "birth", "id_no", "address")


class DecisionError(HubError):
    """A steward decision that cannot be honoured: a record that does not exist, or a record with itself."""


class ReviewWorkbookError(HubError):
    """A returned review workbook that cannot be read."""


def check_distinct(left: RecordKey, right: RecordKey) -> None:
    if left == right:
        raise DecisionError(f"{':'.join(left)} is paired with itself: a decision needs two different records")


def check_pair(warehouse: Warehouse, left: RecordKey, right: RecordKey) -> None:
    """Refuse a decision on a record paired with itself or on a record the last run did not accept."""
    check_distinct(left, right)
    missing = warehouse.missing_records([left, right])
    if missing:
        named = " and ".join(":".join(key) for key in missing)
        raise DecisionError(
            f"no accepted resident record {named} in the warehouse: check SOURCE:RECORD_ID against "
            "lineage_residents.csv of the last run (a quarantined record cannot be decided on)"
        )


def install_category_mappings(warehouse: Warehouse) -> dict[str, str]:
    """Make the words stewards mapped (category_mappings) count in this process's category mapping."""
    return use_steward_words(warehouse.category_mappings())


def remap_categories(events: pd.DataFrame) -> pd.DataFrame:
    """Fill the category of kept event rows whose word a steward has mapped since they were read."""
    if events.empty or "category_raw" not in events.columns:
        return events
    unknown = events["category"].isna() & events["category_raw"].notna()
    if not unknown.any():
        return events
    mapped = events.loc[unknown, "category_raw"].astype(str).map(lambda word: map_category(word)[0])
    found = mapped.notna()
    if found.any():
        events = events.copy()
        index = mapped.index[found]
        events.loc[index, "category"] = mapped[found]
        events.loc[index, "category_known"] = True
    return events


def _key_text(source: object, record_id: object) -> str:
    return f"{source}:{record_id}"


def _parse_key(text: object) -> RecordKey | None:
    source, sep, record_id = str(text or "").strip().partition(":")
    return (source, record_id) if sep and source and record_id else None


def _shown(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(neutralise_formula(str(mask_value(value))))


def _style_header(sheet: Worksheet, widths: Iterable[int]) -> None:
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "B2"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def write_review_workbook(
    path: Path,
    pairs: pd.DataFrame,
    words: pd.DataFrame,
    residents: pd.DataFrame | None = None,
    *,
    categories: Iterable[str] | None = None,
) -> Path:
    """Write the review workbook: one row per uncertain pair (判定: 同一人 / 不是同一人) and one per
    unknown category word (映射到: a category of the table). Personal numbers are masked."""
    categories = list(categories if categories is not None else load_table().categories)
    lookup: dict[RecordKey, dict] = {}
    if residents is not None and not residents.empty and not pairs.empty:
        wanted = set(zip(pairs["left_source"].astype(str), pairs["left_record_id"].astype(str), strict=True))
        wanted |= set(zip(pairs["right_source"].astype(str), pairs["right_record_id"].astype(str), strict=True))
        keys = list(zip(residents["source"].astype(str), residents["record_id"].astype(str), strict=True))
        rows = residents.reset_index(drop=True)
        for index, key in enumerate(keys):
            if key in wanted:
                lookup[key] = {name: rows.at[index, name] for name in SHOWN_FIELDS if name in rows.columns}
    book = openpyxl.Workbook()
    guide = book.active
    assert guide is not None
    guide.title = GUIDE_SHEET
    guide["A1"] = "数据复核表（人员比对、事件分类）"
    guide["A1"].font = Font(bold=True, size=14)
    guide["A2"] = f"生成时间：{datetime.now(UTC).astimezone().strftime('%Y-%m-%d %H:%M')}"
    guide["A3"] = f"待判定人员记录对：{len(pairs)}；待映射事件用词：{len(words)}"
    guide[STEWARD_CELL.replace("B", "A")] = STEWARD_LABEL
    guide[STEWARD_CELL] = ""
    guide[STEWARD_CELL].fill = PatternFill("solid", fgColor="FFF2CC")
    for row, line in enumerate(
        [
            "1. “人员比对”每行是系统拿不准的两条居民记录。请在“判定”列下拉选择“同一人”或“不是同一人”；拿不准的留空。",
            "2. “事件分类”每行是系统不认识的居民用词。请在“映射到”列下拉选择它对应的事件类型；不确定的留空。",
            "3. 在上面“核对人”右侧填写您的姓名，保存后交回：放入数据管理员收件箱（steward-inbox 文件夹），"
            "或运行 hub review import 文件名。",
            "4. 下一次运行起按您的判定合并或分开人员、按您的映射归类事件，并记录核对人和时间。身份证号已脱敏。",
        ],
        start=6,
    ):
        guide.cell(row=row, column=1, value=line)
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 30

    options = book.create_sheet(OPTIONS_SHEET)
    for row, value in enumerate([SAME, DIFFERENT], start=1):
        options.cell(row=row, column=1, value=value)
    for row, value in enumerate(categories, start=1):
        options.cell(row=row, column=2, value=value)
    options.sheet_state = "hidden"

    sheet = book.create_sheet(PAIRS_SHEET)
    sheet.append(PAIR_HEADER)
    for number, pair in enumerate(pairs.to_dict("records"), start=1):
        left = (str(pair["left_source"]), str(pair["left_record_id"]))
        right = (str(pair["right_source"]), str(pair["right_record_id"]))
        shown = [lookup.get(key, {}) for key in (left, right)]
        sheet.append(
            [
                number,
                _key_text(*left),
                *(_shown(shown[0].get(name)) for name in SHOWN_FIELDS),
                _key_text(*right),
                *(_shown(shown[1].get(name)) for name in SHOWN_FIELDS),
                float(pair["probability"]),
                "已合并为一人" if bool(pair["merged"]) else "未合并",
                _shown(pair.get("contributions", "")),
                None,
                None,
            ]
        )
    _style_header(sheet, [6, 18, 10, 12, 20, 30, 18, 10, 12, 20, 30, 10, 12, 60, 12, 20])
    for row in sheet.iter_rows(min_row=2, min_col=12, max_col=12):
        row[0].number_format = "0.0%"
    verdict = DataValidation(
        type="list", formula1=f"={OPTIONS_SHEET}!$A$1:$A$2", allow_blank=True, showErrorMessage=True
    )
    verdict.error, verdict.errorTitle = f"请选择“{SAME}”或“{DIFFERENT}”，或留空", "判定"
    sheet.add_data_validation(verdict)
    verdict.add(f"O2:O{max(len(pairs) + 1, 2)}")

    vocabulary = book.create_sheet(WORDS_SHEET)
    vocabulary.append(WORD_HEADER)
    for number, word in enumerate(words.to_dict("records"), start=1):
        suggestion = word.get("suggestion")
        vocabulary.append(
            [
                number,
                neutralise_formula(str(word["category_raw"])),
                int(word["count"]),
                "" if suggestion is None or pd.isna(suggestion) else str(suggestion),
                float(word.get("confidence") or 0.0),
                None,
                None,
            ]
        )
    _style_header(vocabulary, [6, 30, 10, 14, 8, 16, 20])
    for row in vocabulary.iter_rows(min_row=2, min_col=5, max_col=5):
        row[0].number_format = "0%"
    mapped = DataValidation(
        type="list",
        formula1=f"={OPTIONS_SHEET}!$B$1:$B${max(len(categories), 1)}",
        allow_blank=True,
        showErrorMessage=True,
    )
    mapped.error, mapped.errorTitle = "请从下拉列表中选择事件类型，或留空", "映射到"
    vocabulary.add_data_validation(mapped)
    mapped.add(f"F2:F{max(len(words) + 1, 2)}")
    book.active = book.sheetnames.index(PAIRS_SHEET)

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    book.save(partial)
    partial.replace(path)
    return path


def export_review(warehouse: Warehouse, path: Path) -> tuple[Path, int, int]:
    """The review workbook from the last run's match_review and unknown_categories tables."""
    pairs = warehouse.read_table("match_review") if warehouse.has_table("match_review") else _no_pairs()
    words = warehouse.read_table("unknown_categories") if warehouse.has_table("unknown_categories") else _no_words()
    residents = None
    if warehouse.has_table("std_residents") and not pairs.empty:  # only the records and fields the pairs show
        keys = [
            *zip(pairs["left_source"].astype(str), pairs["left_record_id"].astype(str), strict=True),
            *zip(pairs["right_source"].astype(str), pairs["right_record_id"].astype(str), strict=True),
        ]
        residents = warehouse.read_records("std_residents", keys, SHOWN_FIELDS)
    write_review_workbook(path, pairs, words, residents)
    return path, len(pairs), len(words)


def _no_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["left_source", "left_record_id", "right_source", "right_record_id", "probability", "merged"]
    )


def _no_words() -> pd.DataFrame:
    return pd.DataFrame(columns=["category_raw", "count", "suggestion", "confidence"])


@dataclass
class ReviewChoices:
    """What a returned workbook says: decisions on pairs, word mappings, and rows that cannot be taken."""

    steward: str
    decisions: list[tuple[RecordKey, RecordKey, bool, str]] = field(default_factory=list)
    mappings: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _columns(sheet: Worksheet, header: list[str], name: str) -> dict[str, int]:
    found = {str(cell.value).strip(): index for index, cell in enumerate(sheet[1]) if cell.value is not None}
    missing = [column for column in header if column not in found]
    if missing:
        raise ReviewWorkbookError(f"{name}: sheet {sheet.title} lacks the columns {', '.join(missing)}")
    return found


def read_review_workbook(path: Path) -> ReviewChoices:
    """The choices made in a returned review workbook (rows left empty are no choice)."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ReviewWorkbookError(f"{path.name} cannot be read as an .xlsx workbook: {type(exc).__name__}") from exc
    try:
        if PAIRS_SHEET not in book.sheetnames and WORDS_SHEET not in book.sheetnames:
            raise ReviewWorkbookError(f"{path.name} is not a review workbook (no {PAIRS_SHEET} or {WORDS_SHEET} sheet)")
        steward = ""
        if GUIDE_SHEET in book.sheetnames:
            steward = str(book[GUIDE_SHEET][STEWARD_CELL].value or "").strip()
        choices = ReviewChoices(steward=steward)
        categories = set(load_table().categories)
        if PAIRS_SHEET in book.sheetnames:
            sheet = book[PAIRS_SHEET]
            at = _columns(sheet, ["记录A", "记录B", "判定"], path.name)
            for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
                verdict = str(row[at["判定"]] or "").strip()
                if not verdict:
                    continue
                where = f"{PAIRS_SHEET} row {number}"
                if verdict not in (SAME, DIFFERENT):
                    choices.problems.append(f"{where}: 判定 “{verdict}” is neither {SAME} nor {DIFFERENT}")
                    continue
                left, right = _parse_key(row[at["记录A"]]), _parse_key(row[at["记录B"]])
                if left is None or right is None:
                    choices.problems.append(f"{where}: 记录A/记录B is not SOURCE:RECORD_ID")
                    continue
                note = str(row[at["备注"]] or "").strip() if "备注" in at else ""
                choices.decisions.append((left, right, verdict == SAME, note))
        if WORDS_SHEET in book.sheetnames:
            sheet = book[WORDS_SHEET]
            at = _columns(sheet, ["居民用词", "映射到"], path.name)
            for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
                category = str(row[at["映射到"]] or "").strip()
                word = str(row[at["居民用词"]] or "").strip()
                if not category:
                    continue
                if category not in categories:
                    choices.problems.append(f"{WORDS_SHEET} row {number}: 映射到 “{category}” is not a category")
                elif word:
                    choices.mappings.append((word.removeprefix("'"), category))
        return choices
    finally:
        book.close()


@dataclass
class ReviewApplied:
    """What importing a returned workbook recorded."""

    steward: str
    decisions: int = 0
    same: int = 0
    different: int = 0
    mappings: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.decisions} decision(s) recorded ({self.same} same, {self.different} different), "
            f"{self.mappings} word mapping(s), {self.unchanged} unchanged, {len(self.problems)} not taken; "
            f"by {self.steward}; the next run honours them"
        )


def apply_review(warehouse: Warehouse, path: Path, *, steward: str | None = None) -> ReviewApplied:
    """Record the choices of a returned review workbook; a choice equal to the latest word is unchanged."""
    choices = read_review_workbook(path)
    who = steward or choices.steward or os.environ.get("USER") or getpass.getuser()
    applied = ReviewApplied(steward=who, problems=list(choices.problems))
    latest = {
        frozenset({(r.left_source, r.left_record_id), (r.right_source, r.right_record_id)}): bool(r.same)
        for r in warehouse.decisions().itertuples()
    }
    for left, right, same, note in choices.decisions:
        try:
            check_pair(warehouse, left, right)
        except DecisionError as exc:
            applied.problems.append(str(exc))
            continue
        if latest.get(frozenset({left, right})) is same:
            applied.unchanged += 1
            continue
        warehouse.record_decision(left, right, same=same, steward=who, note=note or f"复核表 {path.name}")
        latest[frozenset({left, right})] = same
        applied.decisions += 1
        applied.same += int(same)
        applied.different += int(not same)
    mapped = warehouse.category_mappings()
    for word, category in choices.mappings:
        if mapped.get(word) == category:
            applied.unchanged += 1
            continue
        warehouse.record_category_mapping(word, category, steward=who, origin=f"复核表 {path.name}")
        mapped[word] = category
        applied.mappings += 1
    return applied


def steward_inbox(home: Path) -> Path:
    return home / "steward-inbox"


def import_steward_inbox(warehouse: Warehouse, inbox: Path) -> list[tuple[str, ReviewApplied | str]]:
    """Apply every returned review workbook in ``inbox``; each file then leaves it (``imported/``, or
    ``rejected/`` with a note of why when it cannot be read)."""
    done: list[tuple[str, ReviewApplied | str]] = []
    if not inbox.is_dir():
        return done
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        try:
            applied = apply_review(warehouse, path)
        except ReviewWorkbookError as exc:
            target = inbox / "rejected" / f"{stamp}_{digest}_{path.name}"
            target.parent.mkdir(exist_ok=True)
            shutil.move(path, target)
            target.with_name(target.name + ".reason.txt").write_text(str(exc) + "\n", encoding="utf-8")
            done.append((path.name, str(exc)))
            continue
        target = inbox / "imported" / f"{stamp}_{digest}_{path.name}"
        target.parent.mkdir(exist_ok=True)
        shutil.move(path, target)
        done.append((path.name, applied))
    return done
