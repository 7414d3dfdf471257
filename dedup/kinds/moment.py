"""The `datetime` kind: when something happened, compared as the time between two records.

Reports of one event come in hours apart, seldom days; records further apart than the window are
never one event. Blocking pairs records only inside time buckets (see `window_buckets`), so the
window also bounds the work. The cut points are units of the world, not fitted numbers; how much
each level counts is learned by EM like every other kind's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.normalize.dates import normalize_datetime

WINDOW_HOURS = 168.0
CUTS_HOURS = (2.0, 12.0, 48.0, WINDOW_HOURS)
LABELS = (
    "exact",
    "within 2 hours",
    "within 12 hours",
    "within 2 days",
    "within a week",
    "more than a week apart",
)
NEVER = len(LABELS) - 1
# share of random record pairs with the same value (dedup.model.U_PRIOR_EQUAL)
U_PRIOR_EQUAL = 1e-4
PRIOR_M = (0.1, 0.45, 0.3, 0.1, 0.049, 0.001)


def normalize(raw: str) -> str | None:
    """ISO `YYYY-MM-DD HH:MM:SS` from any common written date and time (midnight when no time)."""
    return normalize_datetime(raw).value


def seconds(values: np.ndarray | list[str]) -> np.ndarray:
    """Seconds since the epoch of normalized values."""
    moments = np.asarray(list(values), dtype="datetime64[s]")
    return moments.astype(np.int64).astype(np.float64)


def levels(a: list[str], b: list[str]) -> np.ndarray:
    """Level of differing times: the first cut the gap stays within, else NEVER."""
    gap_hours = np.abs(seconds(a) - seconds(b)) / 3600.0
    return 1 + np.searchsorted(np.asarray(CUTS_HOURS), gap_hours, side="left")


def window_buckets(codes: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
    """Two bucket codes per record (-1 when its time is unknown), buckets two windows wide and
    offset by one window: any two records within the window share at least one bucket."""
    width = 2 * WINDOW_HOURS * 3600.0
    at = seconds(values) if len(values) else np.empty(0)
    buckets = []
    for offset in (0.0, width / 2):
        per_value = np.floor((at + offset) / width).astype(np.int64)
        per_value -= int(per_value.min()) if len(per_value) else 0
        out = np.full(len(codes), -1, dtype=np.int64)
        known = codes >= 0
        out[known] = per_value[codes[known]]
        buckets.append(out)
    return buckets


def day_codes(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The calendar day of each record's time as a code (-1 when its time is unknown): reports of
    one event mostly fall on one day, so a day with another field makes a training blocking."""
    days = np.asarray([str(v)[:10] for v in values], dtype=object)
    per_value = pd.factorize(pd.Series(days, dtype=object))[0].astype(np.int64) if len(days) else days
    out = np.full(len(codes), -1, dtype=np.int64)
    known = codes >= 0
    out[known] = per_value[codes[known]]
    return out
