"""The `place` kind: where something happened, compared part by part (room, building, door, road).

Reports of one event name its place unevenly: one gives the road and door, another only the
community and the building. The address parser splits each place once per distinct value; levels
and blocking keys use the parts, so an omitted part is not a disagreement. Text the parser cannot
split (other scripts) is compared as a whole string.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from schemas.normalize.address import parse_address

LABELS = ("exact", "same room", "same building", "same door", "same road or community", "elsewhere")
# share of random record pairs with the same value (dedup.model.U_PRIOR_EQUAL)
U_PRIOR_EQUAL = 1e-3
PRIOR_M = (0.35, 0.3, 0.2, 0.1, 0.04, 0.01)
NEAR_TEXT = 92.0
AREA = ("district", "street", "community")
AREA_CONFLICT = ("district", "street", "community", "road", "door_no")
FLAT = ("building", "unit", "room")
KEY_PARTS = (
    FLAT,
    ("road", "door_no", "building"),
    ("road", "door_no"),
    ("community", "building"),
)


def normalize(raw: str) -> str | None:
    """Every part the text names, area first, in the address parser's own spelling; parsing the
    result gives the same parts again, so comparison re-parses values instead of storing parts."""
    parts = parse_address(raw)
    area = "".join(getattr(parts, name) or "" for name in AREA)
    door = f"{parts.door_no}号" if parts.door_no else ""
    return area + (parts.road or "") + (parts.rest or "") + door + parts._locator() or None


def _parts(value: str) -> dict[str, str | None]:
    parts = parse_address(value)
    return {**parts._asdict(), "canonical": parts.canonical}


def _level(a: dict[str, str | None], b: dict[str, str | None]) -> int:
    def same(name: str) -> bool:
        return a[name] is not None and a[name] == b[name]

    def conflict(*names: str) -> bool:
        return any(a[n] is not None and b[n] is not None and a[n] != b[n] for n in names)

    same_building = same("building") and not conflict(*AREA_CONFLICT)
    if (same_building and same("unit") and same("room")) or same("canonical"):
        return 1
    if same_building and not conflict("unit"):
        return 2
    near_text = fuzz.ratio(a["canonical"] or "", b["canonical"] or "") >= NEAR_TEXT
    if same_building or (same("road") and same("door_no")) or near_text:
        return 3
    if same("road") or (same("community") and not conflict("road")):
        return 4
    return 5


def levels(a: list[str], b: list[str]) -> np.ndarray:
    return np.array([_level(_parts(x), _parts(y)) for x, y in zip(a, b, strict=True)], dtype=np.int8)


def part_keys(codes: np.ndarray, values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Keys one event's reports share despite omitted parts: flat, building at a door, door,
    building in a community, and the canonical place."""
    parsed = [_parts(str(v)) for v in values]
    keys = []
    for names in (*KEY_PARTS, ("canonical",)):
        joined = ["\x1f".join(str(p[n]) for n in names) if all(p[n] for n in names) else None for p in parsed]
        per_value = pd.factorize(pd.Series(joined, dtype=object))[0].astype(np.int64)
        out = np.full(len(codes), -1, dtype=np.int64)
        known = codes >= 0
        out[known] = per_value[codes[known]]
        keys.append(("+".join(names), out))
    return keys
