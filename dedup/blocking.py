"""Candidate pairs: records that share at least one blocking key, with oversized blocks skipped.

Keys come from the field kinds: every discriminating field alone, and every pair of blockable
fields together (so a common name is still blocked by name and birth date). A block larger than
`max_block` holds a value too common to say anything alone and is skipped; a combined key covers it.
The number of pairs is therefore at most n * max_block / 2 per key: linear in the records.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from dedup.arrays import distinct, factorize
from dedup.prepare import PreparedField

SINGLE_KEY_KINDS = frozenset({"name", "identifier", "cn_id", "phone", "address", "exact"})
COMBINED_KEY_KINDS = frozenset({"name", "date", "identifier", "cn_id", "phone", "address"})


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One code per distinct (a, b), -1 where either is missing."""
    both = (a >= 0) & (b >= 0)
    joint = np.full(len(a), -1, dtype=np.int64)
    joint[both] = a[both].astype(np.int64) * (int(b.max()) + 1) + b[both]
    out = np.full(len(a), -1, dtype=np.int64)
    if both.any():
        out[both] = factorize(joint[both])[0]
    return out


def _loose_codes(field: PreparedField) -> np.ndarray | None:
    """A looser spelling-insensitive key: name words in any order, addresses without punctuation."""
    values = pd.Series(field.values, dtype="string")
    if field.kind == "name":
        words = values.str.replace(r"[^\w\s]+", " ", regex=True).str.split()
        loose = words.map(lambda parts: " ".join(sorted(parts)), na_action="ignore")
    elif field.kind == "address":
        loose = values.str.replace(r"[\W_]+", "", regex=True)
    else:
        return None
    value_codes = pd.factorize(loose)[0]
    codes = np.full(len(field.codes), -1, dtype=np.int64)
    present = field.codes >= 0
    codes[present] = value_codes[field.codes[present]]
    return codes


def blocking_keys(fields: list[PreparedField]) -> list[tuple[str, np.ndarray]]:
    """The keys derived from the kinds: (description, code per record)."""
    keys: list[tuple[str, np.ndarray]] = [
        (f.name, f.codes.astype(np.int64)) for f in fields if f.kind in SINGLE_KEY_KINDS
    ]
    for f in fields:
        loose = _loose_codes(f)
        if loose is not None:
            keys.append((f"{f.name} (loose)", loose))
    combinable = [f for f in fields if f.kind in COMBINED_KEY_KINDS]
    for first, second in combinations(combinable, 2):
        keys.append((f"{first.name}+{second.name}", _combine(first.codes, second.codes)))
    return keys


def pairs_within_blocks(codes: np.ndarray, max_block: int) -> np.ndarray:
    """Encoded pairs i * n + j (i < j) of records sharing a code, for blocks of 2..max_block."""
    n = len(codes)
    members = np.flatnonzero(codes >= 0)
    order = np.argsort(codes[members], kind="stable")
    members = members[order]
    sorted_codes = codes[members]
    if len(members) < 2:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(members)])
    kept = (sizes >= 2) & (sizes <= max_block)
    if not kept.any():
        return np.empty(0, dtype=np.int64)
    starts, sizes = starts[kept], sizes[kept]
    rank = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    group_size = np.repeat(sizes, sizes)
    position = np.repeat(starts, sizes) + rank
    partners = group_size - 1 - rank
    total = int(partners.sum())
    left = np.repeat(position, partners)
    offset = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    right = left + 1 + offset
    a, b = members[left], members[right]
    low, high = np.minimum(a, b), np.maximum(a, b)
    return low.astype(np.int64) * n + high


def candidate_pairs(fields: list[PreparedField], max_block: int) -> tuple[np.ndarray, np.ndarray]:
    """Union of the pairs of every key, as two index arrays (left < right)."""
    if not fields or len(fields[0].codes) < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    n = len(fields[0].codes)
    encoded = [pairs_within_blocks(codes, max_block) for _, codes in blocking_keys(fields)]
    union = distinct(np.concatenate(encoded)) if encoded else np.empty(0, dtype=np.int64)
    return union // max(n, 1), union % max(n, 1)
