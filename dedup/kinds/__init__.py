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
# What one would say before seeing data: level probabilities among matches (m) and non-matches (u).
# EM counts them as PRIOR_PAIRS pairs, so they decide only for a handful of records.
PRIORS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "datetime": (moment.PRIOR_M, moment.PRIOR_U),
    "category": (category.PRIOR_M, category.PRIOR_U),
    "place": (place.PRIOR_M, place.PRIOR_U),
}
PRIOR_PAIRS = 10.0
SINGLE_KEY_KINDS = frozenset({"place"})


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


def prior_pairs(kind: str, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-pairs per level that EM adds to matches and non-matches: an event kind's prior,
    one pair per level for the others."""
    if kind not in PRIORS:
        return np.ones(levels), np.ones(levels)
    m, u = (np.asarray(p, dtype=np.float64) for p in PRIORS[kind])
    return PRIOR_PAIRS * m / m.sum(), PRIOR_PAIRS * u / u.sum()


def share_prior(fields: Sequence[PreparedField]) -> tuple[float, float]:
    """Pseudo-pairs (matched, all) EM adds when it re-estimates the match share: one match in two
    pairs for event tables, so a handful of reports cannot drive the share to nothing; none else."""
    return (1.0, 2.0) if any(f.kind in PRIORS for f in fields) else (0.0, 0.0)


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
