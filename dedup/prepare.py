"""Turn raw field values into integer codes over normalized unique values.

Every later stage (blocking, comparison, term frequencies) works on these codes, so a value is
normalized once however many records carry it, and equality is an integer comparison.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dedup import kinds as event_kinds
from hub_errors import ConfigError
from schemas.normalize.address import canonical_address
from schemas.normalize.dates import normalize_date
from schemas.normalize.id_number import normalize_cn_id
from schemas.normalize.names import name_key
from schemas.normalize.phone import normalize_phone

KINDS = ("name", "date", "identifier", "cn_id", "phone", "address", "exact", "text", *event_kinds.EVENT_KINDS)

PARALLEL_MIN_VALUES = 50000
PLACEHOLDER_NAMES = Path(__file__).with_name("placeholder_names.yaml")
_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"\D+")
# A number a spreadsheet turned into a float: E-notation, or many digits followed by a decimal point.
_EXCEL_NUMBER = re.compile(r"^(?:\d(?:\.\d+)?[eE][+]?\d+|\d{9,}\.\d*)$")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15
MAX_COUNTRY_CODE = 3
MAX_FLOAT_DIGITS = 15


@dataclass(frozen=True)
class PreparedField:
    """One field after normalization: a code per record (-1 when empty) into `values`.

    valid: per value, for cn_id, whether the number passes its checks. suspect: per record, for cn_id,
    whether the number contradicts the record's own birth date or sex; for identifier, whether the
    number's other records say it is another person's (dedup.identity).
    """

    name: str
    kind: str
    codes: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    valid: np.ndarray | None = None
    suspect: np.ndarray | None = None

    def value_of(self, record: int) -> str | None:
        code = int(self.codes[record])
        return None if code < 0 else str(self.values[code])


def _identifier_key(raw: str) -> str | None:
    """Identifiers compare on their letters and digits only, case-folded (any country's format).

    A number a spreadsheet stored as a float keeps its digits only up to 15 of them: beyond that
    (or in E-notation) the value is no longer the identifier and counts as missing.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if _EXCEL_NUMBER.match(text):
        whole, _, fraction = text.partition(".")
        if "e" in text.lower() or fraction.strip("0") or len(whole) > MAX_FLOAT_DIGITS:
            return None
        text = whole
    key = _NOT_ALNUM.sub("", text).upper()
    return key or None


def _exact_key(raw: str) -> str | None:
    key = unicodedata.normalize("NFKC", raw).strip().casefold()
    return key or None


def _text_key(raw: str) -> str | None:
    key = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip().casefold()
    return key or None


@lru_cache(maxsize=1)
def _placeholder_names() -> tuple[frozenset[str], re.Pattern[str] | None]:
    """Names that mean "not known yet" (dedup/placeholder_names.yaml), as whole keys and one pattern."""
    spec = yaml.safe_load(PLACEHOLDER_NAMES.read_text(encoding="utf-8")) or {}
    patterns = [str(p) for p in spec.get("patterns") or []]
    return frozenset(str(n) for n in spec.get("exact") or []), re.compile("|".join(patterns)) if patterns else None


def is_placeholder_name(key: str) -> bool:
    """True for 某某之子, 新生儿, 无名氏, "Baby Boy", "Unknown": names that identify nobody."""
    whole, pattern = _placeholder_names()
    return key in whole or (pattern is not None and pattern.search(key) is not None)


def _name_key(raw: str) -> str | None:
    """A placeholder name is no evidence of identity, so it counts as missing."""
    key = name_key(raw)
    return None if not key or is_placeholder_name(key) else key


def _date_key(raw: str) -> str | None:
    return normalize_date(raw).value


def _phone_key(raw: str) -> str | None:
    """The hub's phone normalizer; a number it does not know (another country's local format)
    compares on its digits, unless it looks like a spreadsheet float."""
    value = normalize_phone(raw)
    if value is None and not _EXCEL_NUMBER.match(raw.strip()):
        digits = _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", raw))
        value = digits if MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS else None
    return value


def _address_key(raw: str) -> str | None:
    return canonical_address(raw) or None


def _cn_id_key(raw: str) -> tuple[str | None, bool]:
    """An 18-digit number that went through a spreadsheet float lost its last digits: it is no
    identity even when what is left happens to pass the check digit, so it counts as missing."""
    if _EXCEL_NUMBER.match(unicodedata.normalize("NFKC", raw).strip()):
        return None, False
    result = normalize_cn_id(raw)
    return result.value, bool(result.valid)


_SIMPLE_NORMALIZERS: dict[str, Callable[[str], str | None]] = {
    "name": _name_key,
    "date": _date_key,
    "identifier": _identifier_key,
    "phone": _phone_key,
    "address": _address_key,
    "exact": _exact_key,
    "text": _text_key,
    **event_kinds.NORMALIZERS,
}


def check_kinds(fields: Mapping[str, str]) -> None:
    """Refuse unknown kinds up front, naming the field, so a config typo is not a silent no-op."""
    for field, kind in fields.items():
        if kind not in KINDS:
            raise ConfigError(f"field {field!r} has unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")


def _normalize_chunk(kind: str, raw_values: list[str]) -> list[tuple[str | None, bool]]:
    """Normalized value and validity of each raw value (validity only means something for cn_id)."""
    if kind == "cn_id":
        return [_cn_id_key(value) if value.strip() else (None, False) for value in raw_values]
    normalize = _SIMPLE_NORMALIZERS[kind]
    return [(normalize(value) if value.strip() else None, False) for value in raw_values]


def phone_forms_together(keys: list[str | None]) -> list[str | None]:
    """A national number (0781-5076555, 217 555 0199) and the same number with its country code
    (+497815076555, +12175550199) in one column are one number: the column's international numbers
    say which country its national ones are in. A national number is taken as an international one
    when, without its trunk 0, its digits are that number's after a country code of 1 to 3 digits,
    and no other international number of the column fits it."""
    international: dict[str, set[str]] = {}
    for key in {k for k in keys if k and k.startswith("+")}:
        for code_length in range(1, MAX_COUNTRY_CODE + 1):
            international.setdefault(key[1 + code_length :], set()).add(key)
    if not international:
        return keys
    mapping: dict[str, str] = {}
    for key in {k for k in keys if k and not k.startswith("+")}:
        digits = _NOT_DIGIT.sub("", key)
        for national in (digits[1:] if digits.startswith("0") else "", digits):
            owners = international.get(national, set()) if len(national) >= MIN_PHONE_DIGITS - 1 else set()
            if len(owners) == 1:
                mapping[key] = next(iter(owners))
                break
    return [mapping.get(k, k) if k else k for k in keys]


def _field_from_normalized(
    name: str, kind: str, raw_codes: np.ndarray, normalized: list[tuple[str | None, bool]]
) -> PreparedField:
    """Code records by normalized value; a value is valid when any raw spelling of it was."""
    if kind == "phone":
        keys = phone_forms_together([key for key, _ in normalized])
        normalized = [(key, is_valid) for key, (_, is_valid) in zip(keys, normalized, strict=True)]
    norm_codes, values = pd.factorize(pd.Series([key for key, _ in normalized], dtype="object"))
    codes = np.full(len(raw_codes), -1, dtype=np.int32)
    present = raw_codes >= 0
    codes[present] = norm_codes[raw_codes[present]]
    counts = np.bincount(codes[codes >= 0], minlength=len(values)).astype(np.int64)
    valid = None
    if kind == "cn_id":
        valid = np.zeros(len(values), dtype=bool)
        flags = np.array([is_valid for _, is_valid in normalized], dtype=bool)
        known = norm_codes >= 0
        np.logical_or.at(valid, norm_codes[known], flags[known])
    return PreparedField(name, kind, codes, np.asarray(values, dtype=object), counts, valid)


def _as_text(uniques: pd.Index) -> list[str]:
    """Distinct raw values as Python strings (one array conversion, not an element-wise iteration)."""
    return list(map(str, uniques.to_numpy(dtype=object)))


def prepare_field(name: str, kind: str, column: pd.Series) -> PreparedField:
    """Normalize each distinct raw value once, then code records by their normalized value."""
    raw_codes, raw_uniques = pd.factorize(column.astype("string").fillna(""))
    return _field_from_normalized(name, kind, raw_codes, _normalize_chunk(kind, _as_text(raw_uniques)))


def _normalize_all(tasks: list[tuple[str, list[str]]]) -> list[list[tuple[str | None, bool]]]:
    """Normalizers are pure Python: spread large inputs over the machine's cores in forked workers."""
    workers = os.cpu_count() or 1
    total = sum(len(values) for _, values in tasks)
    if workers < 2 or total < PARALLEL_MIN_VALUES or "fork" not in mp.get_all_start_methods():
        return [_normalize_chunk(kind, values) for kind, values in tasks]
    chunk = max(1, total // (workers * 4))
    pieces = [
        (index, kind, values[start : start + chunk])
        for index, (kind, values) in enumerate(tasks)
        for start in range(0, len(values), chunk)
    ]
    results: list[list[tuple[str | None, bool]]] = [[] for _ in tasks]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        normalized = pool.map(_normalize_chunk, [kind for _, kind, _ in pieces], [v for _, _, v in pieces])
        for (index, _, _), part in zip(pieces, normalized, strict=True):
            results[index].extend(part)
    return results


_FALSE_TEXT = frozenset({"false", "0", "no", "n", "f"})


def _not_valid(column: pd.Series) -> np.ndarray:
    """Records a validity column marks as not valid (False, or text like "false"/"0"); empty = unknown."""
    if pd.api.types.is_bool_dtype(column):
        return ~column.to_numpy(dtype=bool)
    return column.astype("string").str.strip().str.lower().isin(_FALSE_TEXT).fillna(False).to_numpy(dtype=bool)


def _drop_flagged(field: PreparedField, flagged: np.ndarray) -> PreparedField:
    """A number the upstream checks flag as not valid (a spreadsheet-damaged ID) is no identity even when
    it passes the check digit: such a record's number counts as missing."""
    if not len(field.values):  # no record has a value: nothing to drop
        return field
    valid = field.valid if field.valid is not None else np.ones(len(field.values), dtype=bool)
    drop = flagged & (field.codes >= 0) & valid[np.maximum(field.codes, 0)]
    if not drop.any():
        return field
    codes = np.where(drop, -1, field.codes).astype(np.int32)
    counts = np.bincount(codes[codes >= 0], minlength=len(field.values)).astype(np.int64)
    return replace(field, codes=codes, counts=counts)


def prepare(
    records: pd.DataFrame, fields: Mapping[str, str], validity: Mapping[str, str] | None = None
) -> list[PreparedField]:
    """Prepare every configured field; a field missing from the frame counts as empty everywhere.

    validity maps a field to a column of upstream verdicts on it (the standardized `id_valid`): a
    record whose verdict is False has its value treated as missing when the value would otherwise
    pass as valid.
    """
    check_kinds(fields)
    factorized = []
    for field in fields:
        column = records[field] if field in records.columns else pd.Series([""] * len(records))
        raw_codes, raw_uniques = pd.factorize(column.reset_index(drop=True).astype("string").fillna(""))
        factorized.append((raw_codes, _as_text(raw_uniques)))
    normalized = _normalize_all([(kind, raw) for kind, (_, raw) in zip(fields.values(), factorized, strict=True)])
    prepared = [
        _field_from_normalized(field, kind, raw_codes, values)
        for (field, kind), (raw_codes, _), values in zip(fields.items(), factorized, normalized, strict=True)
    ]
    for position, data in enumerate(prepared):
        column_name = (validity or {}).get(data.name)
        if column_name is not None and column_name in records.columns:
            flagged = _not_valid(records[column_name].reset_index(drop=True))
            prepared[position] = _drop_flagged(data, flagged)
    return prepared
