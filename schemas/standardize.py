"""Standardize one source's raw rows into the shared schema, quarantining what cannot be used.

Hard checks send a record to quarantine (one reason row per failed check, Chinese reason a steward
can act on); soft problems keep the record and add a code to `quality_flags`. Every normalizer runs
once per distinct raw value (pandas.factorize), which keeps 500k rows well under a minute.

Before any check, a record id that arrives more than once keeps its latest copy (the one updated last
when the mapping names an `updated_at` column, else the one received last); the earlier copies are
counted as superseded, so `received` counts distinct records and received = accepted + quarantined.
Every value has control characters removed (soft flag `<field>_control_chars`) and a length limit
(limits.yaml, a mapping's `limits:`); a longer value quarantines the record (check `too_long`).

Hard checks, residents: record id empty; any value too long; name empty; birth date that cannot exist,
cannot be read, lies in the future or before 1880; and no usable identity — the row must carry, besides
the name, at least one of an ID number (18 characters after cleaning, even with a bad check digit), a
birth date, a phone number, or an address down to a door number, building or room. For the fields a
mapping lists under `send_back` (the intake workbook: id_no, phone), a value that cannot be used as
typed quarantines the record with a reason per cell (check `id_invalid`: wrong length or check digit,
an impossible date, or a date or sex the row contradicts; `phone_invalid`: unreadable, or no area code),
so staff get it back instead of the value being dropped.
Hard checks, events: record id empty; any value too long; reported time empty or unreadable; location and
description both empty.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from hub_errors import MappingError
from schemas.categories import map_category
from schemas.mapping import EVENT_FIELDS, RESIDENT_FIELDS, SourceMapping, load_mapping
from schemas.models import EVENT_COLUMNS, EVENT_STATUSES, RESIDENT_COLUMNS, IncidentReport, ResidentRecord
from schemas.normalize.address import AddressParts, canonical_address, parse_address
from schemas.normalize.dates import normalize_date, normalize_datetime
from schemas.normalize.id_number import REASONS as ID_REASONS
from schemas.normalize.id_number import IdResult, birth_from_id, gender_from_id, normalize_cn_id
from schemas.normalize.names import name_key
from schemas.normalize.phone import normalize_phone
from schemas.quarantine import QUARANTINE_COLUMNS, empty_quarantine, excerpt, quarantine_rows, reason_for

EARLIEST_BIRTH = "1880-01-01"
# AddressParts' fields up to (not including) `rest`, in the order of the standardized columns.
_ADDRESS_PARTS = AddressParts._fields[: AddressParts._fields.index("rest")]
_NO_ADDRESS: tuple[None, ...] = (None,) * (len(_ADDRESS_PARTS) + 1)
_SILENT_FLAGS = frozenset({"id_empty", "date_empty"})
FIELD_LABELS = {
    "record_id": "记录编号",
    "name": "姓名",
    "id_no": "身份证号",
    "gender": "性别",
    "birth": "出生日期",
    "phone": "联系电话",
    "address": "住址",
    "grid": "所属网格",
    "category": "事件类型",
    "reported_at": "上报时间",
    "location": "事发地点",
    "description": "事件描述",
    "status": "处置状态",
    "contact": "联系方式",
}
_HARD_DATE_FLAGS = {"date_impossible": "birth_impossible", "date_unparsed": "birth_unparsed"}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR are text


@dataclass
class StandardizeResult:
    """Accepted rows in the shared schema, and one quarantine row per (record, failed check).

    ``received`` counts distinct records; ``superseded`` the earlier copies of repeated record ids.
    ``quarantine_positions`` gives, per quarantine row, the position of its row in the input.
    """

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    received: int
    quarantined_records: int
    records_per_check: dict[str, int]
    superseded: int = 0
    quarantine_positions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


@dataclass(frozen=True)
class FieldText:
    """One field's text as received: stripped, control characters removed, cut to its limit; which
    rows had control characters; which were too long, with an excerpt of their value."""

    text: pd.Series
    control: np.ndarray
    too_long: np.ndarray
    excerpt: pd.Series


@dataclass(frozen=True)
class SourceText:
    """The record ids and every mapped field's and attribute's text of one source's rows."""

    record_id: FieldText
    fields: dict[str, FieldText]
    attributes: dict[str, FieldText]


class _Flags:
    """Soft-problem codes per row, joined with ';' at the end."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._columns: list[np.ndarray] = []

    def add(self, mask: pd.Series | np.ndarray, code: str) -> None:
        column = np.full(self._n, "", dtype=object)
        column[np.asarray(mask, dtype=bool)] = code
        self._columns.append(column)

    def add_joined(self, per_row: np.ndarray) -> None:
        self._columns.append(per_row)

    def joined(self) -> np.ndarray:
        """Codes joined column by column on the rows that carry one (no per-row Python loop)."""
        out = np.full(self._n, "", dtype=object)
        for column in self._columns:
            has_code = column != ""
            if not has_code.any():
                continue
            before, codes = out[has_code], column[has_code]
            out[has_code] = np.where(before == "", codes, before + ";" + codes)
        return out


def _per_unique(values: pd.Series, func: Callable[[str], Any]) -> tuple[np.ndarray, list[Any]]:
    """Apply func once per distinct value: (row -> distinct index codes, results per distinct value)."""
    codes, uniques = pd.factorize(values, sort=False)
    return codes, [func(value) for value in uniques]


def _take(codes: np.ndarray, per_unique: Sequence[Any]) -> np.ndarray:
    table = np.empty(len(per_unique), dtype=object)
    table[:] = list(per_unique)
    return table[codes] if len(codes) else np.empty(0, dtype=object)


def _clean(value: object) -> tuple[str, bool]:
    text = str(value)
    if text.isprintable() or not _CONTROL.search(text):
        return text.strip(), False
    return _CONTROL.sub("", text).strip(), True


def _field_text(rows: pd.DataFrame, column: str | None, limit: int) -> FieldText:
    """A source column's text per row, cleaned once per distinct value ("" where the source lacks it)."""
    n = len(rows)
    if column is None:
        empty = pd.Series(np.full(n, "", dtype=object), index=rows.index, dtype=object)
        no = np.zeros(n, dtype=bool)
        return FieldText(empty, no, no, empty)
    codes, uniques = pd.factorize(rows[column], use_na_sentinel=True)
    # An object array iterates in C; pandas' Arrow-backed strings would box each value in Python.
    distinct = np.asarray(uniques, dtype=object)
    raw = [value if isinstance(value, str) else str(value) for value in distinct]
    texts = [value.strip() for value in raw]
    control = np.zeros(len(texts) + 1, dtype=bool)
    if not "".join(raw).isprintable():  # one C call for the usual column without odd characters
        for index, value in enumerate(raw):
            if not value.isprintable():
                texts[index], control[index] = _clean(value)
    too_long = np.zeros(len(texts) + 1, dtype=bool)
    excerpts: list[object] = []
    if texts and max(map(len, texts)) > limit:
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        long_codes = np.flatnonzero(lengths > limit)
        too_long[long_codes] = True
        excerpts = [""] * (len(texts) + 1)
        for index in long_codes.tolist():
            excerpts[index] = excerpt(texts[index])
            texts[index] = texts[index][:limit]
    text = pd.Series(_take(codes, [*texts, ""]), index=rows.index, dtype=object)
    shown = pd.Series(_take(codes, excerpts), index=rows.index, dtype=object) if excerpts else text
    return FieldText(text, control[codes], too_long[codes], shown)


def _text(rows: pd.DataFrame, column: str | None) -> pd.Series:
    """Stripped, cleaned text of a source column ("" when the source lacks the field or the cell is empty)."""
    return _field_text(rows, column, np.iinfo(np.int64).max).text


def _none_if_empty(values: pd.Series) -> np.ndarray:
    out = values.to_numpy(dtype=object).copy()
    out[values.to_numpy(dtype=object) == ""] = None
    return out


def _check_columns(mapping: SourceMapping, rows: pd.DataFrame) -> None:
    present = set(rows.columns)
    for column in mapping.required_columns:
        if column not in present:
            file_name = mapping.path.name if mapping.path else f"{mapping.dataset}_{mapping.source}.yaml"
            raise MappingError(
                f"数据源 {mapping.source} 缺少映射文件 {file_name} 要求的列“{column}”"
                f"（收到的列：{'、'.join(map(str, rows.columns)) or '无'}）。"
                "请核对源系统导出的列名，或更新映射文件后重新运行。"
            )


def _record_id_checks(source: str, record_id: pd.Series, hard: list[pd.DataFrame]) -> pd.Series:
    empty = record_id == ""
    hard.append(quarantine_rows(source, record_id, empty, "record_id", "record_id_empty", record_id))
    return empty


def _input_checks(
    mapping: SourceMapping, texts: SourceText, hard: list[pd.DataFrame], flags: _Flags
) -> pd.Series:
    """Too-long values quarantine their record; removed control characters flag it."""
    record_id = texts.record_id.text
    hard_mask: pd.Series = pd.Series(False, index=record_id.index, dtype=bool)
    named = [("record_id", texts.record_id), *sorted(texts.fields.items()), *texts.attributes.items()]
    for name, text in named:
        if text.too_long.any():
            mask = pd.Series(text.too_long, index=record_id.index)
            reason = reason_for("too_long", field=FIELD_LABELS.get(name, name), limit=mapping.limit(name))
            hard.append(quarantine_rows(mapping.source, record_id, mask, name, "too_long", text.excerpt, reason))
            hard_mask |= mask
        if text.control.any():
            flags.add(text.control, f"{name}_control_chars")
    return hard_mask


def _address_parts(text: str) -> tuple[str | None, ...]:
    """The address parts in _ADDRESS_PARTS order, then the canonical form; all None for no text."""
    if not text:
        return _NO_ADDRESS
    parts = parse_address(text)
    return (*parts[: len(_ADDRESS_PARTS)], canonical_address(text) or None)


def _address_columns(raw: pd.Series, prefix: str) -> dict[str, np.ndarray]:
    codes, parsed = _per_unique(raw, _address_parts)
    table = np.empty((len(parsed), len(_ADDRESS_PARTS) + 1), dtype=object)
    if parsed:
        table[:] = parsed
    rows = table[codes] if len(codes) else table[:0]
    columns = {f"{prefix}_{part}": rows[:, i] for i, part in enumerate(_ADDRESS_PARTS)}
    columns["canonical"] = rows[:, len(_ADDRESS_PARTS)]
    return columns


def _attributes(attributes: dict[str, FieldText], n: int) -> list[str]:
    if not attributes:
        return ["{}"] * n
    keys = list(attributes)
    values = [text.text.tolist() for text in attributes.values()]
    encoded: dict[tuple[str, ...], str] = {}
    out: list[str] = []
    for row in zip(*values, strict=True):
        text = encoded.get(row)
        if text is None:
            text = json.dumps({k: v for k, v in zip(keys, row, strict=True) if v}, ensure_ascii=False)
            encoded[row] = text
        out.append(text)
    return out


def _coded(
    raw: pd.Series, table: dict[str, str | None] | None, allowed: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(code or None, raw value unknown to the table) through a mapping's code table."""
    lookup: dict[str, str | None] = {value: value for value in allowed}
    lookup.update(table or {})
    codes, uniques = pd.factorize(raw, sort=False)
    mapped = [lookup.get(value) for value in uniques]
    unknown = [value != "" and value not in lookup for value in uniques]
    return _take(codes, mapped), _take(codes, unknown).astype(bool)


def _finish(
    dataset: str,
    source: str,
    frame: pd.DataFrame,
    record_id: pd.Series,
    hard: list[pd.DataFrame],
    hard_mask: pd.Series,
) -> StandardizeResult:
    """Split off hard failures, let the pandera model catch anything left, and count records."""
    model = ResidentRecord if dataset == "residents" else IncidentReport
    accepted = frame.loc[~hard_mask.to_numpy()] if hard_mask.any() else frame
    # pandas' own string dtype makes pandera's type check O(1) instead of one isinstance per cell;
    # the accepted frame itself keeps None for missing values, as the contract says.
    as_strings = accepted.astype({column: "str" for column in accepted.columns if accepted[column].dtype == object})
    try:
        model.validate(as_strings, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        bad_index = pd.Index(cases["index"].astype(int).unique())
        hard.append(
            pd.DataFrame(
                {
                    "source": source,
                    "record_id": record_id.loc[cases["index"].astype(int)].to_numpy(),
                    "field": cases["column"].to_numpy(),
                    "check": "schema:" + cases["check"].astype(str).to_numpy(),
                    "value": cases["failure_case"].astype(object).map(excerpt).to_numpy(),
                    "reason": "不符合共享数据标准：请核对该字段的取值后重新提交",
                },
                index=cases["index"].astype(int).to_numpy(),
                columns=QUARANTINE_COLUMNS,
            )
        )
        accepted = accepted.drop(index=bad_index)
    pieces = [piece for piece in hard if len(piece)]
    quarantine = pd.concat(pieces) if pieces else empty_quarantine()
    quarantined_records = int(quarantine.index.nunique())
    per_check = quarantine.reset_index().drop_duplicates(["index", "check"]).groupby("check").size()
    quarantine = quarantine.sort_index(kind="stable")
    positions = quarantine.index.to_numpy(dtype=np.int64)
    return StandardizeResult(
        accepted=accepted.reset_index(drop=True),
        quarantine=quarantine.reset_index(drop=True),
        received=len(frame),
        quarantined_records=quarantined_records,
        records_per_check={str(check): int(count) for check, count in sorted(per_check.items())},
        quarantine_positions=positions,
    )


def _source_text(mapping: SourceMapping, rows: pd.DataFrame, fields: Iterable[str], record_id: FieldText) -> SourceText:
    """Each shared field's and attribute's text as received ('' where this source lacks the field)."""
    return SourceText(
        record_id=record_id,
        fields={field: _field_text(rows, mapping.column_for(field), mapping.limit(field)) for field in fields},
        attributes={
            key: _field_text(rows, column if column in rows.columns else None, mapping.limit(key))
            for column, key in mapping.attributes.items()
        },
    )


GENDER_WORDS = {"1": "男", "2": "女"}
LOCAL_PHONE = re.compile(r"^\d{7,8}$")
PHONE_HINT = "手机填11位数字，座机填区号加号码（如0596-1234567）"


def _id_problems(
    result: IdResult, raw: str, birth: str | None, gender: str | None
) -> tuple[str, list[tuple[str, str]]]:
    """What is wrong with one ID number as typed: the reason for its cell and (field, reason) for the
    cells of the row it contradicts; ('', []) when nothing is."""
    if result.value is None:
        for flag in ("id_from_number", "id_excel_truncated"):
            if flag in result.flags:
                return ID_REASONS[flag], []
        length = len(re.sub(r"\s", "", raw))
        return f"身份证号应为18位（末位可为X），这里是{length}位或含其他字符：请核对证件后更正", []
    problems: list[str] = []
    others: list[tuple[str, str]] = []
    if "id_checksum" in result.flags:
        problems.append("校验位不符，号码中至少有一位录错")
    id_birth, id_gender = birth_from_id(result.value), gender_from_id(result.value)
    if id_birth is None:
        problems.append("号码中的出生日期不存在")
    elif birth and birth != id_birth:
        problems.append(f"号码中的出生日期为{id_birth}，与本行出生日期{birth}不符")
        others.append(("birth", f"出生日期{birth}与身份证号中的{id_birth}不符：请核对"))
    if gender and id_gender and gender != id_gender:
        problems.append(f"号码表示{GENDER_WORDS[id_gender]}性，与本行性别“{GENDER_WORDS[gender]}”不符")
        others.append(("gender", f"性别与身份证号（{GENDER_WORDS[id_gender]}性）不符：请核对"))
    if not problems:
        return "", []
    return "身份证号有误：" + "；".join(problems) + "。请核对证件后更正", others


def _phone_problem(raw: str, value: str | None) -> str:
    if not raw:
        return ""
    if value is None:
        return f"联系电话无法识别：{PHONE_HINT}"
    if LOCAL_PHONE.match(value):
        return f"联系电话只有{len(value)}位，缺少区号：{PHONE_HINT}"
    return ""


def _send_back_checks(
    mapping: SourceMapping,
    record_id: pd.Series,
    raw: dict[str, pd.Series],
    id_results: np.ndarray,
    birth: pd.Series,
    gender: pd.Series,
    phone: pd.Series,
    hard: list[pd.DataFrame],
) -> pd.Series:
    """Quarantine, cell by cell with the reason, the records whose ID number or phone (the fields in
    the mapping's ``send_back``) cannot be used as typed, so they go back to the sender."""
    rows: list[tuple[Any, str, str, object, str]] = []
    typed = {name: raw[name].tolist() for name in ("id_no", "phone", "birth", "gender")}
    births, genders, phones = birth.tolist(), gender.tolist(), phone.tolist()
    for position, index in enumerate(raw["name"].index):
        if "id_no" in mapping.send_back and typed["id_no"][position]:
            reason, others = _id_problems(
                id_results[position], typed["id_no"][position], births[position], genders[position]
            )
            if reason:
                rows.append((index, "id_no", "id_invalid", typed["id_no"][position], reason))
                rows += [(index, name, "id_invalid", typed[name][position], text) for name, text in others]
        if "phone" in mapping.send_back:
            reason = _phone_problem(typed["phone"][position], phones[position])
            if reason:
                rows.append((index, "phone", "phone_invalid", typed["phone"][position], reason))
    bad = pd.Series(False, index=raw["name"].index, dtype=bool)
    if rows:
        index = [row[0] for row in rows]
        hard.append(
            pd.DataFrame(
                {
                    "source": mapping.source,
                    "record_id": record_id.loc[index].to_numpy(),
                    "field": [row[1] for row in rows],
                    "check": [row[2] for row in rows],
                    "value": [excerpt(row[3]) for row in rows],
                    "reason": [row[4] for row in rows],
                },
                index=index,
                columns=QUARANTINE_COLUMNS,
            )
        )
        bad.loc[sorted(set(index))] = True
    return bad


def _standardize_residents(mapping: SourceMapping, rows: pd.DataFrame, record_ids: FieldText) -> StandardizeResult:
    source, n = mapping.source, len(rows)
    texts = _source_text(mapping, rows, RESIDENT_FIELDS, record_ids)
    record_id, raw = record_ids.text, {field: text.text for field, text in texts.fields.items()}
    hard: list[pd.DataFrame] = []
    flags = _Flags(n)
    hard_mask = _record_id_checks(source, record_id, hard) | _input_checks(mapping, texts, hard, flags)

    name_empty = raw["name"] == ""
    hard.append(quarantine_rows(source, record_id, name_empty, "name", "name_empty", raw["name"]))
    hard_mask |= name_empty
    key_codes, keys = _per_unique(raw["name"], name_key)

    date_codes, dates = _per_unique(raw["birth"], normalize_date)
    birth = _take(date_codes, [d.value for d in dates])
    date_flags = _take(date_codes, [d.flags for d in dates])
    for date_flag, check in _HARD_DATE_FLAGS.items():
        mask = pd.Series([date_flag in f for f in date_flags], index=rows.index, dtype=bool)
        hard.append(quarantine_rows(source, record_id, mask, "birth", check, raw["birth"]))
        hard_mask |= mask
    birth_series = pd.Series(birth, index=rows.index, dtype=object)
    today = dt.date.today().isoformat()
    out_of_range = birth_series.notna() & ((birth_series > today) | (birth_series < EARLIEST_BIRTH))
    hard.append(quarantine_rows(source, record_id, out_of_range, "birth", "birth_out_of_range", raw["birth"]))
    hard_mask |= out_of_range
    birth[out_of_range.to_numpy()] = None
    birth_series[out_of_range] = None
    flags.add_joined(
        _take(
            date_codes,
            [
                ";".join(
                    "birth_" + f.removeprefix("date_")
                    for f in d.flags
                    if f not in _SILENT_FLAGS and f not in _HARD_DATE_FLAGS
                )
                for d in dates
            ],
        )
    )
    expected = mapping.formats.get("birth")
    if expected:
        flags.add(
            _take(date_codes, [d.value is not None and d.format not in expected for d in dates]).astype(bool),
            "birth_format",
        )

    id_codes, ids = _per_unique(raw["id_no"], normalize_cn_id)
    id_no = _take(id_codes, [r.value for r in ids])
    id_series = pd.Series(id_no, index=rows.index, dtype=object)
    id_valid = _take(id_codes, [r.valid for r in ids]).astype(bool)
    flags.add_joined(_take(id_codes, [";".join(f for f in r.flags if f not in _SILENT_FLAGS) for r in ids]))
    id_text = id_series.fillna("").astype(str)
    id_birth = id_text.str.slice(6, 10) + "-" + id_text.str.slice(10, 12) + "-" + id_text.str.slice(12, 14)
    birth_mismatch = (id_series.notna() & birth_series.notna() & (id_birth != birth_series)).to_numpy()
    flags.add(birth_mismatch, "id_birth_mismatch")
    id_valid &= ~birth_mismatch

    gender, gender_code_unknown = _coded(raw["gender"], mapping.codes.get("gender"), ("1", "2"))
    gender_series = pd.Series(gender, index=rows.index, dtype=object)
    flags.add(gender_series.isna().to_numpy(), "gender_unknown")
    flags.add(gender_code_unknown, "gender_code_unknown")
    id_gender = np.where(id_text.str.slice(16, 17).isin(list("13579")), "1", "2")
    flags.add(
        id_valid & gender_series.notna().to_numpy() & (gender_series.to_numpy() != id_gender),
        "gender_id_mismatch",
    )

    phone_codes, phones = _per_unique(raw["phone"], normalize_phone)
    phone = _take(phone_codes, phones)
    phone_series = pd.Series(phone, index=rows.index, dtype=object)
    flags.add((phone_series.isna() & (raw["phone"] != "")).to_numpy(), "phone_invalid")

    if mapping.send_back:
        per_row_ids = _take(id_codes, ids)
        hard_mask |= _send_back_checks(
            mapping, record_id, raw, per_row_ids, birth_series, gender_series, phone_series, hard
        )

    address = _address_columns(raw["address"], "addr")
    located = np.zeros(n, dtype=bool)
    for part in ("addr_door_no", "addr_building", "addr_room"):
        located |= pd.notna(address[part])
    no_identity = ~(id_series.notna() | birth_series.notna() | phone_series.notna()).to_numpy() & ~located
    no_identity_mask = pd.Series(no_identity, index=rows.index)
    hard.append(quarantine_rows(source, record_id, no_identity_mask, "identity", "identity_insufficient", raw["id_no"]))
    hard_mask |= no_identity_mask

    frame = pd.DataFrame(
        {
            "source": source,
            "record_id": record_id.to_numpy(dtype=object),
            "name": raw["name"].to_numpy(dtype=object),
            "name_key": _take(key_codes, keys),
            "id_no": id_no,
            "id_valid": id_valid,
            "gender": gender,
            "birth": birth,
            "phone": phone,
            "address": _none_if_empty(raw["address"]),
            "address_canonical": address.pop("canonical"),
            **address,
            "grid": _none_if_empty(raw["grid"]),
            "quality_flags": flags.joined(),
            "attributes": _attributes(texts.attributes, n),
        },
        index=rows.index,
        columns=RESIDENT_COLUMNS,
        dtype=object,
    ).astype({"id_valid": bool})
    return _finish("residents", source, frame, record_id, hard, hard_mask)


def _standardize_events(mapping: SourceMapping, rows: pd.DataFrame, record_ids: FieldText) -> StandardizeResult:
    source, n = mapping.source, len(rows)
    texts = _source_text(mapping, rows, EVENT_FIELDS, record_ids)
    record_id, raw = record_ids.text, {field: text.text for field, text in texts.fields.items()}
    hard: list[pd.DataFrame] = []
    flags = _Flags(n)
    hard_mask = _record_id_checks(source, record_id, hard) | _input_checks(mapping, texts, hard, flags)

    category_codes, categories = _per_unique(raw["category"], map_category)
    known = _take(category_codes, [c[1] for c in categories]).astype(bool)
    flags.add(~known & (raw["category"] != "").to_numpy(), "category_unknown")

    time_codes, times = _per_unique(raw["reported_at"], normalize_datetime)
    reported_at = _take(time_codes, [t.value for t in times])
    missing = raw["reported_at"] == ""
    invalid = pd.Series(pd.isna(reported_at), index=rows.index) & ~missing
    hard.append(quarantine_rows(source, record_id, missing, "reported_at", "reported_at_missing", raw["reported_at"]))
    hard.append(quarantine_rows(source, record_id, invalid, "reported_at", "reported_at_invalid", raw["reported_at"]))
    hard_mask |= missing | invalid
    expected = mapping.formats.get("reported_at")
    if expected:
        flags.add(
            _take(time_codes, [t.value is not None and t.format not in expected for t in times]).astype(bool),
            "reported_at_format",
        )

    empty = (raw["location"] == "") & (raw["description"] == "")
    hard.append(quarantine_rows(source, record_id, empty, "location", "event_empty", raw["location"]))
    hard_mask |= empty

    status, status_unknown = _coded(raw["status"], mapping.codes.get("status"), EVENT_STATUSES)
    flags.add(status_unknown, "status_unknown")
    contact_codes, contacts = _per_unique(raw["contact"], lambda text: normalize_phone(text) or text or None)
    location = _address_columns(raw["location"], "loc")

    frame = pd.DataFrame(
        {
            "source": source,
            "record_id": record_id.to_numpy(dtype=object),
            "category": _take(category_codes, [c[0] for c in categories]),
            "category_raw": _none_if_empty(raw["category"]),
            "category_known": known,
            "reported_at": reported_at,
            "location": _none_if_empty(raw["location"]),
            "location_canonical": location.pop("canonical"),
            **location,
            "grid": _none_if_empty(raw["grid"]),
            "description": _none_if_empty(raw["description"]),
            "channel": mapping.channel,
            "status": status,
            "contact": _take(contact_codes, contacts),
            "quality_flags": flags.joined(),
        },
        index=rows.index,
        columns=EVENT_COLUMNS,
        dtype=object,
    ).astype({"category_known": bool})
    return _finish("events", source, frame, record_id, hard, hard_mask)


def latest_copies(record_id: pd.Series, updated_at: pd.Series | None = None) -> np.ndarray:
    """Which rows to keep when a record id repeats: the copy updated last (ties and unreadable update
    times: the copy received last); rows without a record id are all kept for their own check."""
    if updated_at is None:
        superseded = record_id.duplicated(keep="last").to_numpy()
    else:
        codes, stamps = _per_unique(updated_at, lambda text: normalize_datetime(text).value or "")
        order = pd.DataFrame(
            {"id": record_id.to_numpy(), "stamp": _take(codes, stamps), "position": np.arange(len(record_id))}
        ).sort_values(["stamp", "position"], kind="stable")
        superseded = np.zeros(len(record_id), dtype=bool)
        superseded[order["position"].to_numpy()[order["id"].duplicated(keep="last").to_numpy()]] = True
    return ~(superseded & (record_id != "").to_numpy())


def standardize(
    dataset: str, source: str, rows: pd.DataFrame, mapping: SourceMapping | None = None
) -> StandardizeResult:
    """Standardize a source's raw rows (its own column names, text values) per its mapping file.

    Raises MappingError, before producing anything, when a mapped column is missing.
    """
    mapping = mapping or load_mapping(dataset, source)
    _check_columns(mapping, rows)
    rows = rows.reset_index(drop=True)
    ids = _field_text(rows, mapping.record_id, mapping.limit("record_id"))
    updated = _text(rows, mapping.updated_at) if mapping.updated_at else None
    keep = latest_copies(ids.text, updated)
    positions = np.arange(len(rows))
    if not keep.all():
        positions = positions[keep]
        rows = rows.loc[keep].reset_index(drop=True)
        ids = _field_text(rows, mapping.record_id, mapping.limit("record_id"))
    if mapping.dataset == "residents":
        result = _standardize_residents(mapping, rows, ids)
    else:
        result = _standardize_events(mapping, rows, ids)
    result.superseded = int((~keep).sum())
    result.quarantine_positions = positions[result.quarantine_positions]
    return result


def accounting(result: StandardizeResult) -> dict[str, Any]:
    """Received (distinct records), accepted and quarantined record counts, superseded copies, and
    quarantined records per check: received = accepted + quarantined."""
    return {
        "received": result.received,
        "accepted": len(result.accepted),
        "quarantined": result.quarantined_records,
        "superseded": result.superseded,
        "reasons": dict(result.records_per_check),
    }
