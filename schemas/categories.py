"""Map incident categories as residents word them to the grid system's professional categories."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CATEGORIES_FILE = Path(__file__).with_name("mappings") / "categories.yaml"


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    data = yaml.safe_load(CATEGORIES_FILE.read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for professional, synonyms in data["categories"].items():
        table[professional] = professional
        for word in synonyms or []:
            table[word] = professional
    return table


def map_category(raw: str) -> tuple[str | None, bool]:
    """Return (professional category, known). Unknown words give (None, False) for a steward list."""
    text = (raw or "").strip()
    hit = _table().get(text)
    return hit, hit is not None
