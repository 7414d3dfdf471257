"""The `category` kind: what kind of thing a record is about, with the hub's category relations.

Words are mapped to the professional categories of schemas/mappings/categories.yaml. Two known
categories are the same, related (the table says one event may be filed under both) or unrelated,
which never describe one event. A word the table does not know is compared as words.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process

from schemas.categories import categories_related, map_category, normalize_word

LABELS = ("exact", "same category", "related categories", "similar words", "different words", "unrelated categories")
NEVER = len(LABELS) - 1
PRIOR_M = (0.5, 0.3, 0.1, 0.05, 0.04, 0.01)
PRIOR_U = (0.2, 0.2, 0.3, 0.1, 0.1, 0.1)
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
