"""The `category` kind: what kind of thing a record is about, with the hub's category relations.

Words are mapped to the professional categories of schemas/mappings/categories.yaml. Two known
categories are the same, related (the table says one event may be filed under both) or unrelated,
which never describe one event. A word the table does not know is compared as words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from schemas.categories import categories_related, map_category, normalize_word

LABELS = ("exact", "same category", "related categories", "similar words", "different words", "unrelated categories")
NEVER = len(LABELS) - 1
# share of random record pairs with the same value (dedup.model.U_PRIOR_EQUAL)
U_PRIOR_EQUAL = 0.05
PRIOR_M = (0.5, 0.3, 0.1, 0.05, 0.04, 0.01)
SIMILAR_WORDS = 75.0


def normalize(raw: str) -> str | None:
    """The category table's own key of a word: width, script, spaces and punctuation folded."""
    return normalize_word(raw) or None


def levels(a: list[str], b: list[str]) -> np.ndarray:
    """Known categories by their relation; otherwise by how alike the words are."""
    words = np.asarray(process.cpdist(a, b, scorer=fuzz.partial_ratio, workers=-1)) >= SIMILAR_WORDS
    out = np.where(words, 3, 4)
    for k, (first, second) in enumerate(zip(a, b, strict=True)):
        related = categories_related(map_category(first)[0], map_category(second)[0])
        if related is not None:
            out[k] = (1 if map_category(first)[0] == map_category(second)[0] else 2) if related else NEVER
    return out


def category_codes(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A code per record for its category in the table (the word itself when the table does not
    know it), -1 when missing: reports of one event in different words share it."""
    mapped = [map_category(str(v))[0] or str(v) for v in values]
    per_value = pd.factorize(pd.Series(mapped, dtype=object))[0].astype(np.int64)
    out = np.full(len(codes), -1, dtype=np.int64)
    known = codes >= 0
    out[known] = per_value[codes[known]]
    return out
