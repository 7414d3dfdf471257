"""Comparison levels per field kind, vectorised over candidate pairs.

A level is 0 when the normalized values are equal, -1 when either is empty, and 1.. for growing
disagreement. Fuzzy scores are computed once per distinct pair of differing values with rapidfuzz
`process.cpdist` on all cores, so the cost follows the number of distinct value pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from dedup import kinds as event_kinds
from dedup.arrays import factorize
from dedup.prepare import PreparedField

MISSING = -1
EXACT = 0

LEVEL_LABELS: dict[str, tuple[str, ...]] = {
    "name": ("exact", "one edit or reordered", "similar", "different"),
    "date": ("exact", "one digit or day/month swapped", "same year", "different"),
    "identifier": ("exact", "one edit", "two edits", "different"),
    "cn_id": ("exact", "one edit or old/new form", "two edits", "different, one not valid", "different"),
    "phone": ("exact", "one edit", "different"),
    "address": ("exact", "near or contained", "similar", "different"),
    "exact": ("exact", "different"),
    "text": ("exact", "near", "similar", "different"),
    **event_kinds.LABELS,
}


def _distance(scorer: Callable[..., float], a: list[str], b: list[str]) -> np.ndarray:
    return np.asarray(process.cpdist(a, b, scorer=scorer, workers=-1))


def _name_levels(a: list[str], b: list[str]) -> np.ndarray:
    edits = _distance(Levenshtein.distance, a, b)
    reordered = _distance(fuzz.token_sort_ratio, a, b) >= 100
    jaro = _distance(JaroWinkler.normalized_similarity, a, b)
    share_kept = _distance(Levenshtein.normalized_similarity, a, b)
    return np.select([(edits <= 1) | reordered, (share_kept >= 0.6) | (jaro >= 0.85)], [1, 2], 3)


def _characters(values: list[str], width: int) -> np.ndarray:
    """Fixed-width character matrix, so positional parts compare without a loop over pairs."""
    padded = np.char.ljust(np.asarray(values, dtype=f"U{width}"), width)
    return padded.view("U1").reshape(len(values), width)


def _date_levels(a: list[str], b: list[str]) -> np.ndarray:
    edits = _distance(DamerauLevenshtein.distance, a, b)
    first, second = _characters(a, 10), _characters(b, 10)
    same_year = (first[:, :4] == second[:, :4]).all(axis=1)
    swapped = (
        same_year
        & (first[:, 5:7] == second[:, 8:10]).all(axis=1)
        & (first[:, 8:10] == second[:, 5:7]).all(axis=1)
    )
    return np.select([(edits <= 1) | swapped, same_year], [1, 2], 3)


def _identifier_levels(a: list[str], b: list[str]) -> np.ndarray:
    edits = _distance(DamerauLevenshtein.distance, a, b)
    return np.select([edits <= 1, edits <= 2], [1, 2], 3)


def _phone_levels(a: list[str], b: list[str]) -> np.ndarray:
    edits = _distance(DamerauLevenshtein.distance, a, b)
    return np.where(edits <= 1, 1, 2)


def _address_levels(a: list[str], b: list[str]) -> np.ndarray:
    ratio = _distance(fuzz.ratio, a, b)
    contained = _distance(fuzz.partial_ratio, a, b) >= 100
    return np.select([(ratio >= 90) | contained, ratio >= 70], [1, 2], 3)


def _exact_levels(a: list[str], b: list[str]) -> np.ndarray:
    return np.ones(len(a), dtype=np.int8)


def _text_levels(a: list[str], b: list[str]) -> np.ndarray:
    score = _distance(fuzz.token_set_ratio, a, b)
    return np.select([score >= 90, score >= 70], [1, 2], 3)


_LEVELS_OF_DIFFERENT: dict[str, Callable[[list[str], list[str]], np.ndarray]] = {
    "name": _name_levels,
    "date": _date_levels,
    "identifier": _identifier_levels,
    "cn_id": _identifier_levels,
    "phone": _phone_levels,
    "address": _address_levels,
    "exact": _exact_levels,
    "text": _text_levels,
    **event_kinds.LEVELS,
}


def cn_id_cores(values: np.ndarray) -> np.ndarray:
    """The 15-digit core (region, yymmdd, sequence) of 18-character numbers.

    An old 15-digit number upgraded to 18 characters gets its century guessed; the core is what
    both forms certainly share, so the two forms of one person's number compare equal on it.
    """
    text = np.asarray(values, dtype="U18")
    return np.char.add(
        np.char.ljust(text, 6).astype("U6"), _characters(list(text), 18)[:, 8:17].view("U9")[:, 0]
    )


def _cn_id_levels(
    field: PreparedField, first: np.ndarray, second: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """Same core -> old/new form; a difference where one number fails its check counts less."""
    cores = cn_id_cores(field.values)
    valid = field.valid if field.valid is not None else np.zeros(len(field.values), dtype=bool)
    same_core = cores[first] == cores[second]
    both_valid = valid[first] & valid[second]
    levels = np.where(levels >= 3, np.where(both_valid, 4, 3), levels)
    return np.where(same_core, 1, levels).astype(np.int8)


def compare_field(field: PreparedField, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Level per pair for one field (int8)."""
    a, b = field.codes[left], field.codes[right]
    levels = np.full(len(left), EXACT, dtype=np.int8)
    missing = (a < 0) | (b < 0)
    levels[missing] = MISSING
    differ = ~missing & (a != b)
    if differ.any():
        low = np.minimum(a[differ], b[differ]).astype(np.int64)
        high = np.maximum(a[differ], b[differ]).astype(np.int64)
        inverse, distinct = factorize(low * len(field.values) + high)
        first = field.values[distinct // len(field.values)].tolist()
        second = field.values[distinct % len(field.values)].tolist()
        distinct_levels = _LEVELS_OF_DIFFERENT[field.kind](first, second).astype(np.int8)
        if field.kind == "cn_id":
            distinct_levels = _cn_id_levels(
                field, distinct // len(field.values), distinct % len(field.values), distinct_levels
            )
        levels[differ] = distinct_levels[inverse]
    return levels


def compare(fields: list[PreparedField], left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Level matrix: one row per pair, one column per field."""
    if not fields:
        return np.empty((len(left), 0), dtype=np.int8)
    return np.column_stack([compare_field(f, left, right) for f in fields])
