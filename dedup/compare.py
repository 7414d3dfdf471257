"""Comparison levels per field kind, vectorised over candidate pairs.

A level is 0 when the normalized values are equal, -1 when either is empty, and 1.. for growing
disagreement. Fuzzy scores are computed once per distinct pair of differing values with rapidfuzz
`process.cpdist` on all cores, so the cost follows the number of distinct value pairs.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, DamerauLevenshtein, JaroWinkler, Levenshtein

from dedup import kinds as event_kinds
from dedup import name_variants
from dedup.arrays import factorize
from dedup.prepare import PreparedField

MISSING = -1
EXACT = 0
CN_ID_EXACT_CONTRADICTED, CN_ID_NEAR, CN_ID_DIFFERENT_WEAK, CN_ID_DIFFERENT = 1, 2, 4, 5
(
    NAME_SAME_SOUND,
    NAME_NEAR,
    NAME_SAME_CHARACTERS,
    NAME_WITHIN,
    NAME_KNOWN_VARIANT,
    NAME_SIMILAR,
    NAME_DIFFERENT,
) = range(1, 8)

# Levels per kind, best agreement first: a level never weighs more than the one before it (the model
# keeps learned weights monotone in this order). A new kind adds its labels here, its levels function
# to _LEVELS_OF_DIFFERENT, its normalizer to dedup.prepare (KINDS, _SIMPLE_NORMALIZERS) and its priors
# to dedup.model (PRIOR_M, U_PRIOR_EQUAL; PERSON_KINDS / HOUSEHOLD_KINDS say how it is trained).
LEVEL_LABELS: dict[str, tuple[str, ...]] = {
    "name": (
        "exact",
        "same sound, other characters",
        "one edit or reordered",
        "same characters in another order",
        "one name within the other",
        "nickname or known variant",
        "similar",
        "different",
    ),
    "date": ("exact", "one digit or day/month swapped", "same year", "different"),
    "identifier": ("exact", "one edit", "two edits", "different"),
    "cn_id": (
        "exact",
        "exact, contradicts its record",
        "one edit or old/new form",
        "two edits",
        "different, one not valid or contradicts its record",
        "different",
    ),
    "phone": ("exact", "one edit", "different"),
    "address": ("exact", "near or contained", "similar", "different"),
    "exact": ("exact", "different"),
    "text": ("exact", "near", "similar", "different"),
    **event_kinds.LABELS,
}


def _distance(scorer: Callable[..., float], a: list[str], b: list[str]) -> np.ndarray:
    return np.asarray(process.cpdist(a, b, scorer=scorer, workers=-1))


def _damerau_edits(a: list[str], b: list[str], most: int) -> np.ndarray:
    """Damerau-Levenshtein distance up to `most` (at most 2); most + 1 beyond it.

    The unrestricted distance costs ten times the restricted one (OSA), and they agree up to two:
    a single edit is the same edit under both, and a pair OSA puts at two is not at one. Beyond two
    OSA may overstate (CA / ABC), so those pairs are measured, unless the Levenshtein distance, at
    most twice the Damerau one, already puts them beyond `most`."""
    if most > 2:
        raise ValueError("OSA and Damerau-Levenshtein agree only up to two edits")
    edits = np.minimum(_distance(OSA.distance, a, b), most + 1)
    if most < 2:
        return edits
    unsure = np.flatnonzero(edits > most)
    if len(unsure):
        unsure_a, unsure_b = _subset(a, b, unsure)
        unsure = unsure[_distance(Levenshtein.distance, unsure_a, unsure_b) <= 2 * most]
    if len(unsure):
        edits[unsure] = np.minimum(_distance(DamerauLevenshtein.distance, *_subset(a, b, unsure)), most + 1)
    return edits


@lru_cache(maxsize=200_000)
def _sorted_characters(text: str) -> str:
    return "".join(sorted(text))


def _same_characters(a: list[str], b: list[str]) -> np.ndarray:
    """The same characters in another order (曾梓轩 / 曾轩梓, Jonh / John)."""
    if not a:
        return np.zeros(0, dtype=bool)
    first, second, values = name_variants.value_codes(a, b)
    sorted_codes = np.asarray(pd.factorize(np.asarray([_sorted_characters(v) for v in values], dtype=object))[0])
    return sorted_codes[first] == sorted_codes[second]


# One edit is a slip of the pen only in a name long enough to keep most of itself: in a three-character
# Chinese name it replaces a whole character (王子浩 / 王子轩, siblings), which is merely similar.
NEAR_NAME_SHARE_KEPT = 0.75


def _name_levels(a: list[str], b: list[str]) -> np.ndarray:
    """Each score only where the ones before it left the level open: a reordering only beyond one
    edit, Jaro-Winkler and the share kept only for pairs neither near nor reordered."""
    edits = _distance(Levenshtein.distance, a, b)
    near = edits <= 1
    one_edit = np.flatnonzero(near)
    if len(one_edit):
        kept = _distance(Levenshtein.normalized_similarity, *_subset(a, b, one_edit))
        near[one_edit] = kept >= NEAR_NAME_SHARE_KEPT
    farther = np.flatnonzero(~near)
    near[farther] = _distance(fuzz.token_sort_ratio, *_subset(a, b, farther)) >= 100
    rest = np.flatnonzero(~near)
    similar = np.zeros(len(a), dtype=bool)
    if len(rest):
        rest_a, rest_b = _subset(a, b, rest)
        share_kept = _distance(Levenshtein.normalized_similarity, rest_a, rest_b)
        jaro = _distance(JaroWinkler.normalized_similarity, rest_a, rest_b)
        similar[rest] = (share_kept >= 0.6) | (jaro >= 0.85)
    levels = np.select([near, similar], [NAME_NEAR, NAME_SIMILAR], NAME_DIFFERENT)
    _refine(levels, levels > NAME_NEAR, _same_characters, a, b, NAME_SAME_CHARACTERS)
    _refine(levels, np.ones(len(levels), dtype=bool), name_variants.same_sound, a, b, NAME_SAME_SOUND)
    _refine(levels, levels > NAME_WITHIN, name_variants.name_within, a, b, NAME_WITHIN)
    _refine(levels, levels > NAME_KNOWN_VARIANT, name_variants.known_variant, a, b, NAME_KNOWN_VARIANT)
    return levels


def _subset(a: list[str], b: list[str], rows: np.ndarray) -> tuple[list[str], list[str]]:
    return [a[i] for i in rows.tolist()], [b[i] for i in rows.tolist()]


def _refine(
    levels: np.ndarray,
    eligible: np.ndarray,
    test: Callable[[list[str], list[str]], np.ndarray],
    a: list[str],
    b: list[str],
    level: int,
) -> None:
    """Pairs among `eligible` that pass `test` get `level` (the test runs on those pairs only)."""
    candidates = np.flatnonzero(eligible)
    if len(candidates):
        passed = test(*_subset(a, b, candidates))
        levels[candidates[passed]] = level


def _characters(values: list[str], width: int) -> np.ndarray:
    """Fixed-width character matrix, so positional parts compare without a loop over pairs."""
    padded = np.char.ljust(np.asarray(values, dtype=f"U{width}"), width)
    return padded.view("U1").reshape(len(values), width)


def _date_levels(a: list[str], b: list[str]) -> np.ndarray:
    edits = _damerau_edits(a, b, 1)
    first, second = _characters(a, 10), _characters(b, 10)
    same_year = (first[:, :4] == second[:, :4]).all(axis=1)
    swapped = (
        same_year
        & (first[:, 5:7] == second[:, 8:10]).all(axis=1)
        & (first[:, 8:10] == second[:, 5:7]).all(axis=1)
    )
    return np.select([(edits <= 1) | swapped, same_year], [1, 2], 3)


def date_contradicts(a: list[str], b: list[str]) -> np.ndarray:
    """Dates further apart than a slip of the pen (one digit, day and month swapped)."""
    if not a:
        return np.zeros(0, dtype=bool)
    return _date_levels(a, b) >= 2


def _identifier_levels(a: list[str], b: list[str]) -> np.ndarray:
    edits = _damerau_edits(a, b, 2)
    return np.select([edits <= 1, edits <= 2], [1, 2], 3)


def _phone_levels(a: list[str], b: list[str]) -> np.ndarray:
    edits = _damerau_edits(a, b, 1)
    return np.where(edits <= 1, 1, 2)


_DIGIT_RUNS = re.compile(r"\d+")


@lru_cache(maxsize=200_000)
def _house_numbers(address: str) -> Counter[str]:
    return Counter(_DIGIT_RUNS.findall(address))


def _other_numbers(a: list[str], b: list[str]) -> np.ndarray:
    """Door, building or flat numbers that neither address holds all of the other's (Hauptstr. 48 /
    Hauptstr. 49, 3栋2单元501 / 3栋2单元502): another home however alike the text. A number one
    address leaves out (12号 / 12号3栋2单元501, 47 Oak St / 47 Oak St Apt 3) is no conflict."""
    out = np.zeros(len(a), dtype=bool)
    for index, (x, y) in enumerate(zip(a, b, strict=True)):
        first, second = _house_numbers(x), _house_numbers(y)
        out[index] = bool(first) and bool(second) and bool(first - second) and bool(second - first)
    return out
def _contained(a: list[str], b: list[str]) -> np.ndarray:
    """One value within the other: what a partial_ratio of 100 says, at a tenth of its cost."""
    return np.fromiter(
        (bool(x) and bool(y) and (x in y or y in x) for x, y in zip(a, b, strict=True)), dtype=bool, count=len(a)
    )


def _address_levels(a: list[str], b: list[str]) -> np.ndarray:
    """Near or contained only when the numbers fit: a neighbour's flat is at best similar."""
    ratio = _distance(fuzz.ratio, a, b)
    levels = np.select([(ratio >= 90) | _contained(a, b), ratio >= 70], [1, 2], 3)
    _refine(levels, levels == 1, _other_numbers, a, b, 2)
    return levels


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
    if len(text) == 0:
        return text
    return np.char.add(
        np.char.ljust(text, 6).astype("U6"), _characters(list(text), 18)[:, 8:17].view("U9")[:, 0]
    )


def _cn_id_levels(
    field: PreparedField, first: np.ndarray, second: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """Same core, or the same first 15 digits beside a number a spreadsheet truncated to them (…000)
    -> old/new form; a difference where one number fails its check counts less.

    levels are those of _identifier_levels (1 one edit, 2 two edits, 3 different) for distinct values.
    """
    cores = cn_id_cores(field.values)
    valid = field.valid if field.valid is not None else np.zeros(len(field.values), dtype=bool)
    same_core = cores[first] == cores[second]
    kept = np.asarray(field.values, dtype="U18")
    truncated = np.char.endswith(kept, "000") & (np.char.str_len(kept) == 18)
    prefix = kept.astype("U15")
    same_core |= (prefix[first] == prefix[second]) & (truncated[first] | truncated[second])
    both_valid = valid[first] & valid[second]
    levels = np.where(levels >= 3, np.where(both_valid, CN_ID_DIFFERENT, CN_ID_DIFFERENT_WEAK), levels + 1)
    return np.where(same_core, CN_ID_NEAR, levels).astype(np.int8)


def _contradicted_ids(field: PreparedField, left: np.ndarray, right: np.ndarray, levels: np.ndarray) -> None:
    """An ID that contradicts its own record (birth date or sex) may be a relative's: agreement on it
    counts less, and so does disagreement (it is no identity)."""
    if field.suspect is None:
        return
    either = field.suspect[left] | field.suspect[right]
    levels[either & (levels == EXACT)] = CN_ID_EXACT_CONTRADICTED
    levels[either & (levels == CN_ID_DIFFERENT)] = CN_ID_DIFFERENT_WEAK


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
    if field.kind == "cn_id":
        _contradicted_ids(field, left, right, levels)
    elif field.kind == "identifier" and field.suspect is not None:
        # A number its other records give to another person says nothing about this record's.
        levels[field.suspect[left] | field.suspect[right]] = MISSING
    return levels


# Fields are compared in forked workers (one field per task) from this many pairs on; below it the
# fork costs more than it saves.
PARALLEL_MIN_PAIRS = 500_000
_FORKED: tuple[list[PreparedField], np.ndarray, np.ndarray] | None = None


def _compare_forked_field(column: int) -> np.ndarray:
    """compare_field in a forked worker, on the fields and pairs it inherited (nothing is pickled in)."""
    if _FORKED is None:
        raise RuntimeError("no inherited fields: the pool was not forked from compare()")
    fields, left, right = _FORKED
    return compare_field(fields[column], left, right)


def compare_started(fields: list[PreparedField], left: np.ndarray, right: np.ndarray) -> Callable[[], np.ndarray]:
    """compare(), begun: on many pairs the fields are compared at once in forked workers (one field
    per task; the levels are per field, so the result is the same), and the caller may do other work
    (train the model) until it calls the returned function for the level matrix."""
    global _FORKED
    workers = min(os.cpu_count() or 1, len(fields))
    if not fields or workers < 2 or len(left) < PARALLEL_MIN_PAIRS or "fork" not in mp.get_all_start_methods():
        levels = _compare_here(fields, left, right)
        return lambda: levels
    _FORKED = (fields, left, right)
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
    try:
        pending = [pool.submit(_compare_forked_field, column) for column in range(len(fields))]
    except BaseException:
        pool.shutdown(cancel_futures=True)
        _FORKED = None
        raise

    def finish() -> np.ndarray:
        global _FORKED
        try:
            levels = np.column_stack([future.result() for future in pending])
        finally:
            pool.shutdown(cancel_futures=True)
            _FORKED = None
        _swapped_names(fields, left, right, levels)
        return levels

    return finish


def _compare_here(fields: list[PreparedField], left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if not fields:
        return np.empty((len(left), 0), dtype=np.int8)
    levels = np.column_stack([compare_field(f, left, right) for f in fields])
    _swapped_names(fields, left, right, levels)
    return levels


def compare(fields: list[PreparedField], left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Level matrix: one row per pair, one column per field."""
    return compare_started(fields, left, right)()


def _swapped_names(fields: list[PreparedField], left: np.ndarray, right: np.ndarray, levels: np.ndarray) -> None:
    """Given and family name entered in each other's field (Jacob Butler / Butler Jacob, Anna Hill /
    Hill Anna Catherine): where both fields compare well crosswise, each counts as its crosswise
    level, at best "one edit or reordered"."""
    names = [c for c, f in enumerate(fields) if f.kind == "name"]
    for position, first in enumerate(names):
        for second in names[position + 1 :]:
            a, b = fields[first], fields[second]
            candidates = np.flatnonzero((levels[:, first] > NAME_NEAR) & (levels[:, second] > NAME_NEAR))
            i, j = left[candidates], right[candidates]
            present = (a.codes[i] >= 0) & (b.codes[j] >= 0) & (b.codes[i] >= 0) & (a.codes[j] >= 0)
            candidates, i, j = candidates[present], i[present], j[present]
            if len(candidates) == 0:
                continue
            across = levels_of_values(a, a.codes[i], b, b.codes[j])
            back = levels_of_values(b, b.codes[i], a, a.codes[j])
            swapped = (across <= NAME_KNOWN_VARIANT) & (back <= NAME_KNOWN_VARIANT)
            rows = candidates[swapped]
            levels[rows, first] = np.minimum(levels[rows, first], np.maximum(across[swapped], NAME_NEAR))
            levels[rows, second] = np.minimum(levels[rows, second], np.maximum(back[swapped], NAME_NEAR))


def levels_of_values(a: PreparedField, a_codes: np.ndarray, b: PreparedField, b_codes: np.ndarray) -> np.ndarray:
    """Name levels between values of two fields, computed once per distinct pair of values."""
    first, second = a.values[a_codes], b.values[b_codes]
    levels = np.full(len(a_codes), EXACT, dtype=np.int8)
    differ = np.flatnonzero(first != second)
    if len(differ):
        inverse, distinct = factorize(a_codes[differ].astype(np.int64) * len(b.values) + b_codes[differ])
        pairs_a = a.values[distinct // len(b.values)].tolist()
        pairs_b = b.values[distinct % len(b.values)].tolist()
        levels[differ] = _name_levels(pairs_a, pairs_b).astype(np.int8)[inverse]
    return levels
