"""Turn raw field values into integer codes over normalized unique values.

Every later stage (blocking, comparison, term frequencies) works on these codes, so a value is
normalized once however many records carry it, and equality is an integer comparison.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hub_errors import ConfigError

KINDS = ("name", "date", "identifier", "cn_id", "phone", "address", "exact", "text")

_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PreparedField:
    """One field after normalization: a code per record (-1 when empty) into `values`."""

    name: str
    kind: str
    codes: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    valid: np.ndarray | None = None

    def value_of(self, record: int) -> str | None:
        code = int(self.codes[record])
        return None if code < 0 else str(self.values[code])


def _identifier_key(raw: str) -> str | None:
    """Identifiers compare on their letters and digits only, case-folded (any country's format)."""
    key = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", raw)).upper()
    return key or None


def _exact_key(raw: str) -> str | None:
    key = unicodedata.normalize("NFKC", raw).strip().casefold()
    return key or None


def _text_key(raw: str) -> str | None:
    key = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip().casefold()
    return key or None


def _name_key(raw: str) -> str | None:
    from schemas.normalize.names import name_key

    return name_key(raw) or None


def _date_key(raw: str) -> str | None:
    from schemas.normalize.dates import normalize_date

    return normalize_date(raw).value


def _phone_key(raw: str) -> str | None:
    from schemas.normalize.phone import normalize_phone

    return normalize_phone(raw)


def _address_key(raw: str) -> str | None:
    from schemas.normalize.address import canonical_address

    return canonical_address(raw) or None


def _cn_id_key(raw: str) -> tuple[str | None, bool]:
    from schemas.normalize.id_number import normalize_cn_id

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
}


def check_kinds(fields: Mapping[str, str]) -> None:
    """Refuse unknown kinds up front, naming the field, so a config typo is not a silent no-op."""
    for field, kind in fields.items():
        if kind not in KINDS:
            raise ConfigError(f"field {field!r} has unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")


def prepare_field(name: str, kind: str, column: pd.Series) -> PreparedField:
    """Normalize each distinct raw value once, then code records by their normalized value."""
    raw = column.astype("string").fillna("")
    raw_codes, raw_uniques = pd.factorize(raw, use_na_sentinel=True)
    raw_list = [str(v) for v in raw_uniques]
    valid_by_norm: dict[str, bool] = {}
    if kind == "cn_id":
        normalized: list[str | None] = []
        for value in raw_list:
            key, is_valid = _cn_id_key(value) if value.strip() else (None, False)
            normalized.append(key)
            if key is not None:
                valid_by_norm[key] = valid_by_norm.get(key, False) or is_valid
    else:
        normalize = _SIMPLE_NORMALIZERS[kind]
        normalized = [normalize(value) if value.strip() else None for value in raw_list]
    norm_series = pd.Series(normalized, dtype="object")
    norm_codes, values = pd.factorize(norm_series, use_na_sentinel=True)
    codes = np.full(len(raw), -1, dtype=np.int32)
    present = raw_codes >= 0
    codes[present] = norm_codes[raw_codes[present]]
    counts = np.bincount(codes[codes >= 0], minlength=len(values)).astype(np.int64)
    value_array = np.asarray(values, dtype=object)
    valid = None
    if kind == "cn_id":
        valid = np.array([valid_by_norm.get(str(v), False) for v in value_array], dtype=bool)
    return PreparedField(name, kind, codes, value_array, counts, valid)


def prepare(records: pd.DataFrame, fields: Mapping[str, str]) -> list[PreparedField]:
    """Prepare every configured field; a field missing from the frame counts as empty everywhere."""
    check_kinds(fields)
    prepared = []
    for field, kind in fields.items():
        column = records[field] if field in records.columns else pd.Series([""] * len(records))
        prepared.append(prepare_field(field, kind, column.reset_index(drop=True)))
    return prepared
