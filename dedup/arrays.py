"""Fast distinct-value helpers for large integer arrays.

numpy 2's `np.unique` is an order of magnitude slower than a plain sort on tens of millions of
int64 values, and blocking and comparison call it on every candidate pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per value into the sorted distinct values, sorted distinct values)."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def pair_codes(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One code per distinct (first, second) of non-negative integers."""
    joint = first.astype(np.int64) * (int(second.max()) + 1 if len(second) else 1) + second
    return factorize(joint)[0]
