"""Department reports and community rosters built from golden persons and merged incidents.

Plain functions the Dagster assets call: every department fact (columns, codes, date layouts,
coverage, entitlements, deliveries) comes from the specifications in ``pipelines/departments``,
so this module only knows how to apply them. Values a department is not entitled to are masked
before they reach any workbook or HTTP payload.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import math
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import requests
import sqlalchemy as sa

from connectors.bulk_workbook import write_bulk_workbook
from connectors.push import DeliveryLog, PushResult, push_batches
from connectors.return_marker import ReturnMarker
from connectors.workbook import MAX_SHEET_TITLE, CoverSheet, TableSheet, safe_sheet_title
from hub_errors import ConfigError, DeliveryError
from pipelines.departments import ColumnSpec, Mask, ReportSpec, Section, load_labels
from pipelines.faults import crash_point

UNKNOWN_GROUP = "未识别社区"
MASKED_NOTE = "已脱敏（无权查看）"
WITHHELD_NOTE = "未发送：本单位无权查看该字段，整列只会是 ***，故删去"
DERIVED_FIELDS = {"age": "由出生日期按统计日计算"}
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
ISO_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?")
KEY_FIELDS = {"persons": "person_id", "incidents": "incident_id"}
FILE_NAME_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')
EXCEL_MAX_ROWS = 1_048_576  # rows in one worksheet, the header included
SHEET_ROW_LIMIT_ENV = "HUB_SHEET_ROW_LIMIT"
AREA_FIELDS = {"persons": ("addr_district", "community"), "incidents": ("loc_district", "loc_community")}
UNKNOWN_DISTRICT = "未识别区"


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def plain_text(value: Any) -> str | None:
    """A value as the text a department sees; numbers without a trailing .0, lists joined."""
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        parts = [text for text in (plain_text(item) for item in value) if text]
        return "、".join(parts) or None
    return str(value).strip()


def age_on(birth: Any, as_of: date) -> int | None:
    match = ISO_DATE.match(str(birth)) if not is_missing(birth) else None
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    return as_of.year - year - ((as_of.month, as_of.day) < (month, day))


def missing_mask(values: pd.Series) -> np.ndarray:
    """is_missing for a whole column at once: missing, or text of blanks only."""
    mask = values.isna().to_numpy(dtype=bool, copy=True)
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        cells = values.tolist()
        mask |= np.fromiter((isinstance(cell, str) and not cell.strip() for cell in cells), bool, len(cells))
    return mask


def with_none(values: pd.Series) -> pd.Series:
    """The column as objects, None where is_missing."""
    cells = values.to_numpy(dtype=object, copy=True)
    cells[missing_mask(values)] = None
    return pd.Series(cells, index=values.index, dtype=object)


def ages_on(births: pd.Series, as_of: date) -> pd.Series:
    """age_on for a column of birth dates (None where there is no ISO date)."""
    known = births.notna().to_numpy(dtype=bool)
    ages = np.full(len(births), None, dtype=object)
    if known.any():
        parts = births[known].map(str).str.extract(ISO_DATE.pattern)
        dated = parts[0].notna().to_numpy(dtype=bool)
        numbers = parts[dated].astype(int).to_numpy()
        later = (numbers[:, 1] > as_of.month) | ((numbers[:, 1] == as_of.month) & (numbers[:, 2] > as_of.day))
        years = as_of.year - numbers[:, 0] - later
        ages[np.flatnonzero(known)[dated]] = [int(age) for age in years]
    return pd.Series(ages, index=births.index, dtype=object)


def distinct_map(values: Iterable[Any], function: Callable[[Any], Any]) -> list[Any]:
    """``function`` once per distinct value: golden columns repeat (codes, dates, grids, communities)."""
    cache: dict[Any, Any] = {}
    mapped = []
    for value in values:
        try:
            mapped.append(cache[value])
        except KeyError:
            mapped.append(cache.setdefault(value, function(value)))
        except TypeError:  # an unhashable attribute value (a list)
            mapped.append(function(value))
    return mapped


class RecordView:
    """Golden fields, attribute keys and derived fields of a persons or incidents frame, by name."""

    def __init__(self, frame: pd.DataFrame, as_of: date) -> None:
        self.frame = frame.reset_index(drop=True)
        self.as_of = as_of
        self._values: dict[str, pd.Series] = {}

    @cached_property
    def attributes(self) -> list[dict[str, Any]]:
        if "attributes" not in self.frame.columns:
            return [{} for _ in range(len(self.frame))]
        return parse_json_objects(self.frame["attributes"])

    @cached_property
    def provenance(self) -> list[dict[str, Any]]:
        if "provenance" not in self.frame.columns:
            return [{} for _ in range(len(self.frame))]
        return parse_json_objects(self.frame["provenance"])

    @cached_property
    def origins(self) -> dict[str, Counter[str]]:
        """Per golden field, how many of these rows took it from each source. Rows whose provenance
        differs only in record ids count as one shape, parsed once (provenance_shapes)."""
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        if "provenance" not in self.frame.columns:
            return counts
        for shape, rows in provenance_shapes(self.frame["provenance"].tolist()).items():
            entry = parse_json_object(shape)
            for field_name, origin in entry.items():
                if isinstance(origin, Mapping) and origin.get("source"):
                    counts[field_name][str(origin["source"])] += rows
        return counts

    def values(self, name: str) -> pd.Series:
        """The field's values (object dtype, None when missing), whichever kind of field it is."""
        if name not in self._values:
            self._values[name] = self._field_values(name)
        return self._values[name]

    def _field_values(self, name: str) -> pd.Series:
        if name in self.frame.columns and name != "attributes":
            return with_none(self.frame[name])
        if name == "age":
            return ages_on(self.values("birth"), self.as_of)
        return pd.Series([attrs.get(name) for attrs in self.attributes], index=self.frame.index, dtype=object)

    def subset(self, keep: pd.Series) -> RecordView:
        return RecordView(self.frame[keep.to_numpy(dtype=bool)], self.as_of)


def native_cells(values: pd.Series) -> list[Any]:
    """A column's values as Python objects (numpy scalars unboxed), None where missing."""
    cells = values.to_numpy(dtype=object, copy=True)
    cells[values.isna().to_numpy(dtype=bool)] = None
    listed = cells.tolist()
    if any(issubclass(kind, np.generic) for kind in set(map(type, listed))):
        return [value.item() if isinstance(value, np.generic) else value for value in listed]
    return listed


def parse_json_object(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if is_missing(raw):
        return {}
    try:
        value = json.loads(str(raw))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


RECORD_ID_PAIR = re.compile(r'"record_id": "(?:[^"\\\n]|\\.)*", ')


def provenance_shapes(raws: Sequence[Any]) -> Counter[Any]:
    """Provenance texts counted with their record ids left out (the ``"record_id": "...", `` pairs
    json.dumps(sort_keys=True) writes before each ``"source"``): a city's rows come down to a few
    hundred shapes. A quote cannot stand unescaped inside a JSON string, so only real pairs go."""
    if all(type(raw) is str and "\n" not in raw for raw in raws):
        return Counter(RECORD_ID_PAIR.sub("", "\n".join(raws)).split("\n")) if raws else Counter()
    return Counter(json.dumps(parse_json_object(raw), sort_keys=True) for raw in raws)


def parse_json_objects(column: pd.Series) -> list[dict[str, Any]]:
    """parse_json_object for a column: texts parsed as one JSON array (one call, not one per row),
    row by row when any of them is no JSON object."""
    raws = column.tolist()
    if raws and all(type(raw) is str and raw.startswith("{") for raw in raws):
        try:
            parsed = json.loads("[" + ",".join(raws) + "]")
        except ValueError:
            parsed = None
        if parsed is not None and len(parsed) == len(raws) and all(type(item) is dict for item in parsed):
            return parsed
    return [parse_json_object(raw) for raw in raws]


def contains_source(sources: Any, source: str) -> bool:
    return not is_missing(sources) and source in str(sources).split(";")


def include_mask(view: RecordView, rule: Any) -> pd.Series:
    """Which rows a section covers, from its ``include`` rule (validated at load time)."""
    index = view.frame.index
    if rule == "all":
        return pd.Series(True, index=index)
    ((key, value),) = rule.items()
    if key == "source":
        flags = distinct_map(view.values("sources"), lambda sources: contains_source(sources, value))
        return pd.Series(flags, index=index, dtype=bool)
    if key == "age_at_least":
        ages = view.values("age")
        known = ages.notna().to_numpy(dtype=bool)
        old_enough = np.zeros(len(ages), dtype=bool)
        old_enough[known] = ages[known].astype(int).to_numpy() >= value
        return pd.Series(old_enough, index=index)
    if key in ("attribute_present", "field_present"):
        flags = distinct_map(view.values(value), lambda item: plain_text(item) is not None)
        return pd.Series(flags, index=index, dtype=bool)
    if key == "value_in":
        masks = [value_in_mask(view.values(name), {str(item) for item in allowed}) for name, allowed in value.items()]
        return pd.concat(masks, axis=1).all(axis=1) if masks else pd.Series(True, index=index)
    if key == "not":
        return ~include_mask(view, value)
    parts = [include_mask(view, part) for part in value]
    if not parts:
        return pd.Series(key == "all", index=index)
    combined = pd.concat(parts, axis=1)
    return combined.all(axis=1) if key == "all" else combined.any(axis=1)


def value_in_mask(values: pd.Series, allowed: set[str]) -> pd.Series:
    return pd.Series(distinct_map(values, lambda item: plain_text(item) in allowed), index=values.index, dtype=bool)


def describe_rule(rule: Any) -> str:
    """The coverage rule in words for the cover sheet."""
    if rule == "all":
        return "全部"
    ((key, value),) = rule.items()
    labels = load_labels()
    if key == "source":
        return f"{labels.source(value)}系统有记录"
    if key == "age_at_least":
        return f"年满 {value} 周岁"
    if key in ("attribute_present", "field_present"):
        return f"{labels.field(value)}不为空"
    if key == "value_in":
        return " 且 ".join(f"{labels.field(name)}为{'/'.join(map(str, allowed))}" for name, allowed in value.items())
    if key == "not":
        return f"非（{describe_rule(value)}）"
    joiner = " 或 " if key == "any" else " 且 "
    return "（" + joiner.join(describe_rule(part) for part in value) + "）"


def apply_pattern(value: str, pattern: str, layout: re.Pattern[str]) -> str:
    match = layout.match(value)
    if match is None:
        return value
    numbers = [int(part) if part else 0 for part in match.groups()]
    names = ("year", "month", "day", "hour", "minute", "second")
    return pattern.format(**dict(zip(names, numbers, strict=False)))


def real_date(text: str, column: ColumnSpec) -> Any:
    """An ISO date (time) as a date (datetime) an Excel cell holds; the text when it is not one."""
    layout = ISO_DATE if column.date else ISO_DATETIME
    match = layout.match(text)
    if match is None:
        return text
    parts = [int(part) if part else 0 for part in match.groups()]
    try:
        if column.date:
            return date(parts[0], parts[1], parts[2])
        return datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
    except ValueError:
        return text


def source_labels(value: Any) -> str | None:
    """The ;-joined source systems of a record as staff name them: civil;grid -> 民政、网格."""
    text = plain_text(value)
    if text is None:
        return None
    labels = load_labels()
    return "、".join(labels.source(name) for name in text.split(";") if name)


def format_value(value: Any, column: ColumnSpec) -> Any:
    """One golden value in the department's own code, date layout or number. A date column with a
    ``number_format`` becomes a real date (the workbook shows it in that format; pushes and change
    lists in the ``date`` layout)."""
    if column.field == "sources" and column.codes is None:
        return source_labels(value) or column.default
    if column.codes is not None:
        text = plain_text(value)
        value = column.codes.get(text) if text is not None else None
    elif column.date or column.datetime:
        text = plain_text(value)
        if text is not None and column.number_format:
            return real_date(text, column)
        if text is not None:
            value = (
                apply_pattern(text, column.date or "", ISO_DATE)
                if column.date
                else apply_pattern(text, column.datetime or "", ISO_DATETIME)
            )
    if is_missing(value):
        return column.default
    if column.type == "number":
        return as_number(value)
    return plain_text(value)


def masked_text(mask: Mask, value: Any) -> str | None:
    return mask.apply(None if value is None else str(value))


def format_column(values: Iterable[Any], column: ColumnSpec) -> list[Any]:
    """format_value once per distinct value: golden columns repeat (codes, dates, grids, communities).
    A plain text column's text only loses its outer blanks (format_value gives the same), so it is
    done inline."""
    plain = not (column.codes is not None or column.date or column.datetime or column.type == "number")
    if plain and column.field != "sources":
        default = column.default
        return [
            (value.strip() or default) if type(value) is str else format_value(value, column) for value in values
        ]
    return distinct_map(values, lambda value: format_value(value, column))


def as_number(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return plain_text(value)
    return int(number) if number.is_integer() else number


def date_text(value: Any, layout: str) -> Any:
    """A real date (time) in a department's text layout, for HTTP pushes and change lists."""
    if not isinstance(value, date):
        return value
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    names = ("year", "month", "day", "hour", "minute", "second")
    return layout.format(**{name: getattr(moment, name) for name in names})


@dataclass(frozen=True)
class ColumnSource:
    """Where one report column comes from, for the cover sheet."""

    sheet: str
    header: str
    field: str
    origin: str
    treatment: str


@dataclass(frozen=True)
class ReportTable:
    """One sheet of a report: the department's columns, masked as entitled, plus what feeds them."""

    sheet: str
    covers: str
    frame: pd.DataFrame
    column_sources: tuple[ColumnSource, ...] = ()
    number_formats: Mapping[str, str] = field(default_factory=dict)
    text_columns: frozenset[str] = frozenset()
    coverage: str = ""
    keys: tuple[str, ...] = ()
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    districts: tuple[str, ...] = ()  # per row, for splitting a sheet past the row limit
    communities: tuple[str, ...] = ()
    date_layouts: Mapping[str, str] = field(default_factory=dict)  # header -> text layout for pushes
    withheld: tuple[str, ...] = ()  # headers of columns not sent (the department may see none of it)

    def as_sheet(self) -> TableSheet:
        return TableSheet(self.sheet, self.frame, self.number_formats, self.text_columns, self.choices)

    def rows(self, positions: Sequence[int]) -> ReportTable:
        """The same table cut to the rows at ``positions``."""
        return dataclasses.replace(
            self,
            frame=self.frame.iloc[list(positions)].reset_index(drop=True),
            districts=tuple(self.districts[i] for i in positions) if self.districts else (),
            communities=tuple(self.communities[i] for i in positions) if self.communities else (),
        )

    def records(self) -> list[dict[str, Any]]:
        """Rows as JSON-ready objects keyed by the department's column names (for HTTP delivery)."""
        headers = [str(header) for header in self.frame.columns]
        columns = []
        for position, header in enumerate(self.frame.columns):
            cells = native_cells(self.frame.iloc[:, position])
            layout = self.date_layouts.get(header)
            if layout is not None:
                cells = [date_text(value, layout) for value in cells]
            columns.append(cells)
        return [dict(zip(headers, row, strict=True)) for row in zip(*columns, strict=True)]


@dataclass(frozen=True)
class DepartmentReport:
    """A department's tables (written and pushed) and its 核验 sheet (written only, for its answers)."""

    spec: ReportSpec
    tables: tuple[ReportTable, ...]
    as_of: date
    verification: ReportTable | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {table.sheet: len(table.frame) for table in self.tables}

    @property
    def sheets(self) -> tuple[ReportTable, ...]:
        """Every sheet of the workbook: the tables, then the 核验 sheet when there is one."""
        return self.tables + ((self.verification,) if self.verification is not None else ())


def treatment_of(column: ColumnSpec, masked: bool) -> str:
    notes = []
    if column.codes:
        meaning = load_labels().values.get(column.field or "", {})
        pairs = [(meaning.get(key, key), code) for key, code in column.codes.items()]
        if all(shown == code for shown, code in pairs):
            notes.append("按中文填写：" + "、".join(code for _, code in pairs))
        else:
            notes.append("按本单位代码填写：" + "，".join(f"{shown}填{code}" for shown, code in pairs))
    pattern = column.date or column.datetime
    if pattern and column.number_format:
        example = pattern.format(year=2026, month=1, day=5, hour=8, minute=30, second=0)
        notes.append(f"日期单元格（可排序、筛选），显示如 {example}")
    elif pattern:
        notes.append("文本，格式如 " + pattern.format(year=2026, month=1, day=5, hour=8, minute=30, second=0))
    if column.default is not None:
        notes.append(f"缺失填“{column.default}”")
    if masked:
        notes.append(MASKED_NOTE)
    return "；".join(notes)


def origin_of(view: RecordView, column_field: str, covers: str) -> str:
    """Which source systems supplied this field for the rows shown (from the golden provenance)."""
    if column_field in DERIVED_FIELDS:
        return DERIVED_FIELDS[column_field]
    counts = view.origins.get(column_field) or view.origins.get(f"attributes.{column_field}")
    if counts:
        labels = load_labels()
        return "，".join(f"{labels.source(source)} {count} 条" for source, count in counts.most_common())
    if covers == "incidents":
        return "合并后的事件记录"
    if column_field not in view.frame.columns:
        return "各来源的附加属性，按来源优先级合并"
    return "合并后的人员记录"


def sort_view(view: RecordView, sort_by: Sequence[str]) -> RecordView:
    if not sort_by or view.frame.empty:
        return view
    keys = pd.DataFrame(
        {
            f"k{i}": distinct_map(view.values(name), lambda v: plain_text(v) or "\uffff")
            for i, name in enumerate(sort_by)
        },
        index=view.frame.index,
    )
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return RecordView(view.frame.loc[order], view.as_of)


def build_table(spec: ReportSpec, section: Section, frame: pd.DataFrame, as_of: date) -> tuple[ReportTable, RecordView]:
    """Select, sort, format and mask one section's rows; returns the table and the rows behind it."""
    view = RecordView(frame, as_of)
    view = sort_view(view.subset(include_mask(view, section.include)), section.sort_by)
    data: dict[str, list[Any]] = {}
    sources: list[ColumnSource] = []
    number_formats: dict[str, str] = {}
    text_columns: set[str] = set()
    choices = {column.header: column.choices for column in section.columns if column.choices}
    date_layouts: dict[str, str] = {}
    withheld: list[str] = []
    for column in section.columns:
        if column.field is None:
            data[column.header] = [None] * len(view.frame)
            text_columns.add(column.header)
            sources.append(ColumnSource(section.sheet, column.header, "", "留空，由接收方填写", ""))
            continue
        masked = column.field not in spec.entitled
        if masked and spec.mask_for(column.field).hides_all:
            withheld.append(column.header)
            field_label = load_labels().field(column.field)
            sources.append(ColumnSource(section.sheet, column.header, field_label, "", WITHHELD_NOTE))
            continue
        values = format_column(view.values(column.field), column)
        if masked:
            values = distinct_map(values, partial(masked_text, spec.mask_for(column.field)))
        data[column.header] = values
        layout = column.date or column.datetime
        if layout and column.number_format and not masked:
            number_formats[column.header] = column.number_format
            date_layouts[column.header] = layout
        elif column.type == "number" and not masked:
            number_formats[column.header] = column.number_format or "General"
        elif column.type == "text" or masked:
            text_columns.add(column.header)
        sources.append(
            ColumnSource(
                section.sheet,
                column.header,
                load_labels().field(column.field),
                origin_of(view, column.field, section.covers),
                treatment_of(column, masked),
            )
        )
    headers = [column.header for column in section.columns if column.header in data]
    frame = pd.DataFrame(data, columns=headers)
    for header in date_layouts:  # keep dates as date objects (pandas would make them Timestamps)
        frame[header] = pd.Series(data[header], index=frame.index, dtype=object)
    table = ReportTable(
        sheet=section.sheet,
        covers=section.covers,
        frame=frame,
        column_sources=tuple(sources),
        number_formats=number_formats,
        text_columns=frozenset(text_columns),
        coverage=describe_rule(section.include),
        choices=choices,
        keys=tuple(distinct_map(view.values(KEY_FIELDS[section.covers]), lambda value: plain_text(value) or "")),
        districts=area_labels(view, AREA_FIELDS[section.covers][0], UNKNOWN_DISTRICT),
        communities=area_labels(view, AREA_FIELDS[section.covers][1], UNKNOWN_GROUP),
        date_layouts=date_layouts,
        withheld=tuple(withheld),
    )
    return table, view


def area_labels(view: RecordView, name: str, unknown: str) -> tuple[str, ...]:
    return tuple(distinct_map(view.values(name), lambda value: plain_text(value) or unknown))


def sheet_row_limit() -> int:
    """Data rows one worksheet may hold (Excel's limit less the header; HUB_SHEET_ROW_LIMIT lowers it)."""
    raw = os.environ.get(SHEET_ROW_LIMIT_ENV, "").strip()
    limit = int(raw) if raw.isdigit() else EXCEL_MAX_ROWS - 1
    return max(1, min(limit, EXCEL_MAX_ROWS - 1))


@dataclass(frozen=True)
class SheetSplit:
    """A table too long for one worksheet, cut into parts: per district, a district still too long per
    community, a community still too long into numbered parts."""

    table: ReportTable
    parts: tuple[tuple[str, ReportTable], ...]
    limit: int

    @property
    def note(self) -> str:
        if len(self.parts) == 1:
            return ""
        titles = "、".join(f"{title}（{len(part.frame)} 行）" for title, part in self.parts)
        return (
            f"共 {len(self.table.frame)} 行，超过每个工作表 {self.limit} 行的上限，按区拆分"
            f"（区内仍超限的按社区，社区内仍超限的按序号分段）为 {len(self.parts)} 个工作表：{titles}"
        )

    def sheets(self) -> list[TableSheet]:
        return [dataclasses.replace(part, sheet=title).as_sheet() for title, part in self.parts]


def split_table(table: ReportTable, limit: int | None = None) -> SheetSplit:
    """The table as worksheets of at most ``limit`` rows (one when it fits), titles unique in the book."""
    limit = sheet_row_limit() if limit is None else limit
    total = len(table.frame)
    if total <= limit:
        return SheetSplit(table, ((table.sheet, table),), limit)
    districts = table.districts or (UNKNOWN_DISTRICT,) * total
    communities = table.communities or (UNKNOWN_GROUP,) * total
    parts: list[tuple[str, list[int]]] = []
    for district, in_district in grouped(range(total), districts):
        if len(in_district) <= limit:
            parts.append((district, in_district))
            continue
        for community, in_community in grouped(in_district, communities):
            if len(in_community) <= limit:
                parts.append((f"{district}{community}", in_community))
                continue
            for number, start in enumerate(range(0, len(in_community), limit), start=1):
                parts.append((f"{district}{community}{number}", in_community[start : start + limit]))
    titles = unique_titles([f"{table.sheet}_{label}" for label, _ in parts])
    return SheetSplit(table, tuple((t, table.rows(rows)) for t, (_, rows) in zip(titles, parts, strict=True)), limit)


def grouped(positions: Iterable[int], labels: Sequence[str]) -> list[tuple[str, list[int]]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for position in positions:
        groups[labels[position]].append(position)
    return sorted(groups.items())


def unique_titles(titles: Sequence[str]) -> list[str]:
    """Sheet titles as Excel takes them (31 characters, no []:*?/\\), distinct regardless of case."""
    seen: set[str] = set()
    result = []
    for title in titles:
        candidate, number = safe_sheet_title(title), 1
        while candidate.casefold() in seen:
            number += 1
            suffix = f"~{number}"
            candidate = safe_sheet_title(title)[: MAX_SHEET_TITLE - len(suffix)] + suffix
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def require_columns(frame: pd.DataFrame, covers: str, spec: ReportSpec) -> None:
    needed = {"persons": ("person_id", "sources"), "incidents": ("incident_id",)}[covers]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise ConfigError(
            f"report '{spec.name}' needs {covers} with columns {', '.join(missing)}; "
            "check that the golden records / incidents step ran."
        )


AS_OF_VARIABLE = "HUB_AS_OF"


def today_in_china() -> date:
    """The report date: today in China, or ``HUB_AS_OF`` (YYYY-MM-DD) to produce a given day's reports."""
    pinned = os.environ.get(AS_OF_VARIABLE, "").strip()
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            raise ConfigError(f"{AS_OF_VARIABLE}={pinned!r} is not a date (YYYY-MM-DD).") from None
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def build_department_report(
    spec: ReportSpec,
    persons: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    as_of: date | None = None,
    verification: ReportTable | None = None,
) -> DepartmentReport:
    """A department's report: one table per section of its specification, then the 核验 sheet of
    the cross-department alerts on its records when given (pipelines.alerts.verification_table)."""
    as_of = as_of or today_in_china()
    tables = []
    for section in spec.sections:
        frame = persons if section.covers == "persons" else incidents
        require_columns(frame, section.covers, spec)
        tables.append(build_table(spec, section, frame, as_of)[0])
    return DepartmentReport(spec, tuple(tables), as_of, verification)


def build_department_reports(
    specs: Mapping[str, ReportSpec],
    persons: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    as_of: date | None = None,
) -> dict[str, DepartmentReport]:
    """Every department report (rosters excluded: see build_community_rosters)."""
    return {
        name: build_department_report(spec, persons, incidents, as_of=as_of)
        for name, spec in specs.items()
        if spec.kind == "department"
    }


def build_community_rosters(
    persons: pd.DataFrame, spec: ReportSpec, *, as_of: date | None = None
) -> dict[str, ReportTable]:
    """One pre-filled, masked roster per community (``spec.group_by``), for staff to check."""
    if spec.kind != "roster" or spec.group_by is None:
        raise ConfigError(f"report specification '{spec.name}' is not a roster (kind: roster, group_by).")
    as_of = as_of or today_in_china()
    section = spec.sections[0]
    require_columns(persons, "persons", spec)
    table, view = build_table(spec, section, persons, as_of)
    groups = view.values(spec.group_by).map(lambda value: plain_text(value) or UNKNOWN_GROUP).to_numpy()
    rosters: dict[str, ReportTable] = {}
    for group in sorted(set(groups)):
        positions = [int(position) for position in (groups == group).nonzero()[0]]
        rosters[group] = dataclasses.replace(
            table.rows(positions),
            coverage=f"{describe_rule(section.include)}，{load_labels().field(spec.group_by)}为{group}",
        )
    return rosters


def local_time(moment: datetime, timezone: str) -> str:
    """A timestamp in the department's own time zone, as staff read a clock."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def cover_sheet(
    spec: ReportSpec, tables: Sequence[ReportTable], *, run_id: str, generated_at: datetime, as_of: date
) -> CoverSheet:
    facts: list[tuple[str, Any]] = [
        ("报表", spec.title),
        ("接收单位", spec.recipient),
        ("运行编号", run_id),
        ("生成时间", local_time(generated_at, spec.execution_timezone)),
        ("统计日期", as_of.isoformat()),
    ]
    for table in tables:
        facts.append((f"{table.sheet} 行数", len(table.frame)))
        facts.append((f"{table.sheet} 范围", table.coverage))
        split = split_table(table)
        if split.note:
            facts.append((f"{table.sheet} 拆分", split.note))
    masked = [source.header for table in tables for source in table.column_sources if MASKED_NOTE in source.treatment]
    facts.append(("脱敏列", "、".join(masked) if masked else "无"))
    withheld = list(
        dict.fromkeys(
            s.header if s.header == s.field else f"{s.header}（{s.field}）"
            for table in tables
            for s in table.column_sources
            if s.treatment == WITHHELD_NOTE
        )
    )
    facts.append(
        ("未发送的列", f"{'、'.join(withheld)}（{WITHHELD_NOTE.removeprefix('未发送：')}）" if withheld else "无")
    )
    rows = [[s.sheet, s.header, s.field, s.origin, s.treatment] for t in tables for s in t.column_sources]
    return CoverSheet(
        title=spec.title,
        facts=facts,
        table_headers=("工作表", "列名", "来源字段", "数据来源（记录数）", "处理"),
        table_rows=rows,
    )


def save_workbook_atomically(
    path: Path, sheets: Sequence[TableSheet], cover: CoverSheet | None, marker: ReturnMarker | None = None
) -> Path:
    """Write to a temporary name in the same folder, then rename over ``path``: a reader (or a run
    killed while saving) sees the old workbook or the new one, never half of one. Reports are bulk
    exports: XlsxWriter writes them (connectors/bulk_workbook.py, benchmarks/bench_workbooks.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_bulk_workbook(temporary, sheets, cover, marker)
        crash_point("workbook_written")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_report_workbook(report: DepartmentReport, path: Path, *, run_id: str, generated_at: datetime) -> Path:
    """The department's workbook: cover sheet, then one sheet per section."""
    cover = cover_sheet(report.spec, report.sheets, run_id=run_id, generated_at=generated_at, as_of=report.as_of)
    sheets = [sheet for table in report.sheets for sheet in split_table(table).sheets()]
    return save_workbook_atomically(path, sheets, cover)


def safe_file_part(text: str) -> str:
    return FILE_NAME_UNSAFE.sub("_", text).strip("_") or "_"


def output_path(out_dir: Path, folder: str, pattern: str, spec: ReportSpec, as_of: date, group: str = "") -> Path:
    name = pattern.format(department=spec.department, date=as_of.isoformat(), group=safe_file_part(group))
    return Path(out_dir) / folder / name


ROSTER_KIND = "roster"
SEND_FACT = "名册编号"
CHECKER_FACT = "核对人（请填写）"
ROSTER_GUIDE = (
    "信息有误的，直接在单元格中改为正确的值（电话、住址、网格等）；每人在“{header}”中选择"
    "{choices}；填写核对人后，将本文件（文件名可改）放入社区收件箱"
)


def roster_send_id(run_id: str, group: str) -> str:
    """The id of one community's roster of one run: its returned copy names it (hidden marker)."""
    return "MC" + hashlib.sha1(f"{run_id}\x1f{group}".encode()).hexdigest()[:12].upper()


def write_community_rosters(
    rosters: Mapping[str, ReportTable],
    spec: ReportSpec,
    out_dir: Path,
    *,
    run_id: str,
    generated_at: datetime,
    as_of: date,
) -> dict[str, Path]:
    """One workbook per community, where the spec's workbook delivery says. Each carries its send id
    (``roster_send_id``) on the cover and in the hidden return marker, and a cover line for the
    name of whoever checks it, so the returned copy is read against what was sent."""
    delivery = next((item for item in spec.deliveries if item.kind == "workbook"), None)
    folder, pattern = (delivery.folder, delivery.file) if delivery else ("rosters", "{group}_{date}.xlsx")
    choosing = next((c for section in spec.sections for c in section.columns if c.choices), None)
    guide = []
    if choosing is not None:
        guide.append(("填写说明", ROSTER_GUIDE.format(header=choosing.header, choices="/".join(choosing.choices))))
    paths = {}
    for group, table in rosters.items():
        path = output_path(out_dir, folder, pattern, spec, as_of, group)
        send_id = roster_send_id(run_id, group)
        titled = dataclasses.replace(
            spec, title=f"{spec.title}（{group}）", recipient=spec.recipient_for(group, unplaced=group == UNKNOWN_GROUP)
        )
        cover = cover_sheet(titled, [table], run_id=run_id, generated_at=generated_at, as_of=as_of)
        facts = [*cover.facts, *guide, (SEND_FACT, send_id), (CHECKER_FACT, "")]
        cover = dataclasses.replace(cover, facts=facts)
        marker = ReturnMarker(ROSTER_KIND, send_id, {"community": group, "as_of": as_of.isoformat()})
        paths[group] = save_workbook_atomically(path, split_table(table).sheets(), cover, marker)
    return paths


@dataclass
class DeliveryOutcome:
    """What one report's deliveries did: files written, batches pushed, deliveries not attempted."""

    workbooks: list[Path] = field(default_factory=list)
    pushes: list[PushResult] = field(default_factory=list)
    not_attempted: list[str] = field(default_factory=list)


def deliver_report(
    report: DepartmentReport,
    *,
    out_dir: Path,
    run_id: str,
    engine: sa.Engine | DeliveryLog | None = None,
    generated_at: datetime | None = None,
    env: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    attempts: int = 5,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryOutcome:
    """Carry out every delivery in the report's specification.

    Workbooks go under ``out_dir`` (saved atomically). HTTP deliveries push each sheet in batches
    through the delivery log in ``engine``; a URL whose ${VARIABLE} is unset is noted as not attempted. All
    deliveries are tried before a DeliveryError reports the ones that failed.
    """
    generated_at = generated_at or datetime.now(UTC)
    outcome = DeliveryOutcome()
    failures: list[str] = []
    for delivery in report.spec.deliveries:
        if delivery.kind == "workbook":
            path = output_path(out_dir, delivery.folder, delivery.file, report.spec, report.as_of)
            outcome.workbooks.append(write_report_workbook(report, path, run_id=run_id, generated_at=generated_at))
            continue
        url = delivery.resolved_url(env)
        if url is None or engine is None:
            reason = "no warehouse engine given" if url else f"{delivery.url} has an unset variable"
            outcome.not_attempted.append(f"{report.spec.name}: HTTP delivery skipped ({reason})")
            continue
        for table in report.tables:
            try:
                outcome.pushes.append(
                    push_batches(
                        engine,
                        report=f"{report.spec.name}/{table.sheet}",
                        run_id=run_id,
                        url=url,
                        rows=table.records(),
                        batch_size=delivery.batch_size,
                        session=session,
                        attempts=attempts,
                        backoff=backoff,
                        sleep=sleep,
                    )
                )
            except DeliveryError as exc:
                failures.append(str(exc))
    if failures:
        raise DeliveryError(" | ".join(failures))
    return outcome
