"""Standardize one source's raw rows into the shared schema, quarantining what cannot be used.

Hard checks send a record to quarantine (one reason row per failed check, Chinese reason a steward
can act on); soft problems keep the record and add a code to `quality_flags`. Every normalizer runs
once per distinct raw value (pandas.factorize), which keeps 500k rows well under a minute.

Hard checks, residents: record id empty or repeated; name empty; birth date that cannot exist,
cannot be read, lies in the future or before 1880; and no usable identity — the row must carry, besides
the name, at least one of an ID number (18 characters after cleaning, even with a bad check digit), a
birth date, a phone number, or an address down to a door number, building or room.
Hard checks, events: record id empty or repeated; reported time empty or unreadable; location and
description both empty.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
from schemas.normalize.id_number import normalize_cn_id
from schemas.normalize.names import name_key
from schemas.normalize.phone import normalize_phone
from schemas.quarantine import QUARANTINE_COLUMNS, empty_quarantine, quarantine_rows

EARLIEST_BIRTH = "1880-01-01"
# AddressParts' fields up to (not including) `rest`, in the order of the standardized columns.
_ADDRESS_PARTS = AddressParts._fields[: AddressParts._fields.index("rest")]
_NO_ADDRESS: tuple[None, ...] = (None,) * (len(_ADDRESS_PARTS) + 1)
_SILENT_FLAGS = frozenset({"id_empty", "date_empty"})
_HARD_DATE_FLAGS = {"date_impossible": "birth_impossible", "date_unparsed": "birth_unparsed"}


@dataclass
class StandardizeResult:
    """Accepted rows in the shared schema, and one quarantine row per (record, failed check)."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    received: int
    quarantined_records: int
    records_per_check: dict[str, int]


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


def _text(rows: pd.DataFrame, column: str | None) -> pd.Series:
    """Stripped text of a source column ("" when the source lacks the field or the cell is empty)."""
    if column is None:
        return pd.Series(np.full(len(rows), "", dtype=object), index=rows.index, dtype=object)
    codes, uniques = pd.factorize(rows[column], use_na_sentinel=True)
    # An object array iterates in C; pandas' Arrow-backed strings would box each value in Python.
    distinct = np.asarray(uniques, dtype=object)
    stripped = _take(codes, [str(value).strip() for value in distinct] + [""])
    return pd.Series(stripped, index=rows.index, dtype=object)


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
    duplicate = record_id.duplicated(keep=False) & ~empty
    hard.append(quarantine_rows(source, record_id, empty, "record_id", "record_id_empty", record_id))
    hard.append(quarantine_rows(source, record_id, duplicate, "record_id", "record_id_duplicate", record_id))
    return empty | duplicate


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


def _attributes(rows: pd.DataFrame, mapping: SourceMapping) -> list[str]:
    if not mapping.attributes:
        return ["{}"] * len(rows)
    keys = list(mapping.attributes.values())
    values = [_text(rows, column).tolist() for column in mapping.attributes]
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
                    "value": cases["failure_case"].astype(object).to_numpy(),
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
    quarantine = quarantine.sort_index(kind="stable").reset_index(drop=True)
    return StandardizeResult(
        accepted=accepted.reset_index(drop=True),
        quarantine=quarantine,
        received=len(frame),
        quarantined_records=quarantined_records,
        records_per_check={str(check): int(count) for check, count in sorted(per_check.items())},
    )


def _source_text(
    mapping: SourceMapping, rows: pd.DataFrame, fields: Iterable[str]
) -> tuple[pd.Series, dict[str, pd.Series]]:
    """Record ids and each shared field's text as received ('' where this source lacks the field)."""
    return _text(rows, mapping.record_id), {field: _text(rows, mapping.column_for(field)) for field in fields}


def _standardize_residents(mapping: SourceMapping, rows: pd.DataFrame) -> StandardizeResult:
    source, n = mapping.source, len(rows)
    record_id, raw = _source_text(mapping, rows, RESIDENT_FIELDS)
    hard: list[pd.DataFrame] = []
    flags = _Flags(n)
    hard_mask = _record_id_checks(source, record_id, hard)

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
            "attributes": _attributes(rows, mapping),
        },
        index=rows.index,
        columns=RESIDENT_COLUMNS,
        dtype=object,
    ).astype({"id_valid": bool})
    return _finish("residents", source, frame, record_id, hard, hard_mask)


def _standardize_events(mapping: SourceMapping, rows: pd.DataFrame) -> StandardizeResult:
    source, n = mapping.source, len(rows)
    record_id, raw = _source_text(mapping, rows, EVENT_FIELDS)
    hard: list[pd.DataFrame] = []
    flags = _Flags(n)
    hard_mask = _record_id_checks(source, record_id, hard)

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


def standardize(
    dataset: str, source: str, rows: pd.DataFrame, mapping: SourceMapping | None = None
) -> StandardizeResult:
    """Standardize a source's raw rows (its own column names, text values) per its mapping file.

    Raises MappingError, before producing anything, when a mapped column is missing.
    """
    mapping = mapping or load_mapping(dataset, source)
    _check_columns(mapping, rows)
    rows = rows.reset_index(drop=True)
    if mapping.dataset == "residents":
        return _standardize_residents(mapping, rows)
    return _standardize_events(mapping, rows)


def accounting(result: StandardizeResult) -> dict[str, Any]:
    """Received, accepted and quarantined record counts, and quarantined records per check."""
    return {
        "received": result.received,
        "accepted": len(result.accepted),
        "quarantined": result.quarantined_records,
        "reasons": dict(result.records_per_check),
    }
