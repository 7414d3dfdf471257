"""Kinds for event records: `datetime` (time windows), `category` (with the hub's category
relations) and `place` (a location compared part by part).

The engine's stages (prepare, compare, blocking) take these from here beside their own kinds. A
kind may have a level meaning "never the same" (reports more than the window apart, unrelated
categories): the engine drops such pairs before training and keeps their records apart.
When a table has a `datetime` field, every blocking key is split by time window. A category is no
key of its own: on a city's month of reports, one category within a day still pairs thousands of
reports from unrelated places, and those would drown what EM learns from the places.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dedup.arrays import factorize
from dedup.kinds import category, moment, place

if TYPE_CHECKING:
    from dedup.prepare import PreparedField

EVENT_KINDS = ("datetime", "category", "place")

NORMALIZERS: dict[str, Callable[[str], str | None]] = {
    "datetime": moment.normalize,
    "category": category.normalize,
    "place": place.normalize,
}
LABELS: dict[str, tuple[str, ...]] = {
    "datetime": moment.LABELS,
    "category": category.LABELS,
    "place": place.LABELS,
}
LEVELS: dict[str, Callable[[list[str], list[str]], np.ndarray]] = {
    "datetime": moment.levels,
    "category": category.levels,
    "place": place.levels,
}
NEVER_LEVEL: dict[str, int] = {"datetime": moment.NEVER, "category": category.NEVER}
# Registry entries for dedup.model: prior m per level (what the reports of one event typically
# show) and the prior share of random record pairs holding the same value.
PRIOR_M: dict[str, tuple[float, ...]] = {
    "datetime": moment.PRIOR_M,
    "category": category.PRIOR_M,
    "place": place.PRIOR_M,
}
U_PRIOR_EQUAL: dict[str, float] = {
    "datetime": moment.U_PRIOR_EQUAL,
    "category": category.U_PRIOR_EQUAL,
    "place": place.U_PRIOR_EQUAL,
}
SINGLE_KEY_KINDS = frozenset({"place"})
# Where an event happened: a `place`, or an `address` when a table's locations are written whole.
PLACE_KINDS = ("place", "address")


def event_keys(fields: Sequence[PreparedField]) -> list[tuple[str, np.ndarray]]:
    """Keys the event kinds add: each category and place value, and a place's partial keys."""
    keys: list[tuple[str, np.ndarray]] = []
    for f in fields:
        if f.kind in SINGLE_KEY_KINDS:
            keys.append((f.name, f.codes.astype(np.int64)))
        if f.kind == "place":
            keys.extend((f"{f.name} ({label})", codes) for label, codes in place.part_keys(f.codes, f.values))
    return keys


def _joint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = (a >= 0) & (b >= 0)
    out = np.full(len(a), -1, dtype=np.int64)
    if both.any():
        joint = a[both].astype(np.int64) * (int(b[both].max()) + 1) + b[both]
        out[both] = factorize(joint)[0]
    return out


def within_time_windows(
    fields: Sequence[PreparedField], keys: list[tuple[str, np.ndarray]]
) -> list[tuple[str, np.ndarray]]:
    """With a `datetime` field, each key pairs records only inside a time bucket; a record whose
    time is unknown still pairs with its whole block. Without one, the keys are unchanged."""
    times = [f for f in fields if f.kind == "datetime"]
    if not times:
        return keys
    windowed: list[tuple[str, np.ndarray]] = []
    for when in times:
        buckets = moment.window_buckets(when.codes, when.values)
        untimed = when.codes < 0
        for name, codes in keys:
            for index, bucket in enumerate(buckets):
                windowed.append((f"{name}+{when.name} window {index + 1}", _joint(codes, bucket)))
            if untimed.any():
                with_untimed = np.zeros(int(codes.max()) + 2, dtype=bool)
                with_untimed[codes[untimed & (codes >= 0)]] = True
                windowed.append((f"{name} (time unknown)", np.where(with_untimed[codes], codes, -1)))
    return windowed


def training_blockings(fields: Sequence[PreparedField]) -> list[tuple[str, tuple[int, ...], np.ndarray]]:
    """Training blockings of an event table for dedup.model (label, the columns each holds fixed,
    key per record); none for other tables. The same place or address (as written, or the same flat
    however the rest is written) teaches the time and the category; the same category (in any
    words) on the same day teaches the place."""
    times = [c for c, f in enumerate(fields) if f.kind == "datetime"]
    if not times:
        return []
    out: list[tuple[str, tuple[int, ...], np.ndarray]] = []
    for c, f in enumerate(fields):
        if f.kind in PLACE_KINDS:
            out.append((f.name, (c,), f.codes.astype(np.int64)))
            flat = dict(place.part_keys(f.codes, f.values))["+".join(place.FLAT)]
            out.append((f"{f.name} (flat)", (c,), flat))
        if f.kind == "category":
            same = category.category_codes(f.codes, f.values)
            for t in times:
                day = moment.day_codes(fields[t].codes, fields[t].values)
                out.append((f"{f.name}+{fields[t].name} day", (c, t), _joint(same, day)))
    return out


def has_time_windows(fields: Sequence[PreparedField]) -> bool:
    """Records with a `datetime` field are events: the reports of one event share a place and a
    window, so each is compared with every other, and a pair never compared counts against a merge
    (dedup.cluster, unscored_apart)."""
    return any(f.kind == "datetime" for f in fields)


def ruled_out(fields: Sequence[PreparedField], levels: np.ndarray) -> np.ndarray:
    """Per compared pair: True when some field's level says the two are never the same."""
    out = np.zeros(len(levels), dtype=bool)
    for column, f in enumerate(fields):
        never = NEVER_LEVEL.get(f.kind)
        if never is not None:
            out |= levels[:, column] == never
    return out
