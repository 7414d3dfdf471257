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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dedup import kinds as event_kinds
from hub_errors import ConfigError

KINDS = ("name", "date", "identifier", "cn_id", "phone", "address", "exact", "text", *event_kinds.EVENT_KINDS)

PARALLEL_MIN_VALUES = 50000
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


def _field_from_normalized(
    name: str, kind: str, raw_codes: np.ndarray, normalized: list[tuple[str | None, bool]]
) -> PreparedField:
    """Code records by normalized value; a value is valid when any raw spelling of it was."""
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


def prepare_field(name: str, kind: str, column: pd.Series) -> PreparedField:
    """Normalize each distinct raw value once, then code records by their normalized value."""
    raw_codes, raw_uniques = pd.factorize(column.astype("string").fillna(""))
    return _field_from_normalized(name, kind, raw_codes, _normalize_chunk(kind, [str(v) for v in raw_uniques]))


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


def prepare(records: pd.DataFrame, fields: Mapping[str, str]) -> list[PreparedField]:
    """Prepare every configured field; a field missing from the frame counts as empty everywhere."""
    check_kinds(fields)
    factorized = []
    for field in fields:
        column = records[field] if field in records.columns else pd.Series([""] * len(records))
        raw_codes, raw_uniques = pd.factorize(column.reset_index(drop=True).astype("string").fillna(""))
        factorized.append((raw_codes, [str(v) for v in raw_uniques]))
    normalized = _normalize_all([(kind, raw) for kind, (_, raw) in zip(fields.values(), factorized, strict=True)])
    return [
        _field_from_normalized(field, kind, raw_codes, values)
        for (field, kind), (raw_codes, _), values in zip(fields.items(), factorized, normalized, strict=True)
    ]
