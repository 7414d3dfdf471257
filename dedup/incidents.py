"""One incident, however many times it is reported: merge event reports across sources.

Same engine style as persons: blocking on location keys inside a time window, comparison levels
(location, time apart, category, description, grid, distance when coordinates exist), weights
learned by EM over the comparison vectors (dedup.incident_model), cannot-link for categories that
never describe one incident, and average-linkage clustering so that A~B and B~C does not pull in a C
that looks nothing like A. Then one merged row per incident with a deterministic id.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from dedup.incident_model import MISSING, Comparison, FellegiSunterModel, fit_em
from schemas.categories import LIFECYCLE, categories_related
from schemas.normalize.address import parse_address

INCIDENT_COLUMNS = [
    "incident_id",
    "category",
    "first_reported_at",
    "status",
    "reporter_count",
    "report_count",
    "grid",
    "location",
    "location_canonical",
    "loc_community",
    "description",
    "sources",
    "report_ids",
]
LINEAGE_COLUMNS = ["source", "record_id", "incident_id"]
INCIDENT_SOURCE_COLUMNS = (
    "category",
    "grid",
    "location",
    "location_canonical",
    "loc_community",
    "description",
)
PAIR_COLUMNS = ["source_a", "record_id_a", "source_b", "record_id_b", "probability", "match_weight"]

LOCATION_PARTS = ("district", "street", "community", "road", "door_no", "building", "unit", "room")

# Ordinal comparison levels (best first); the cut points are units of the world, not fitted numbers.
# The priors are what one would say before seeing data (how often matches and non-matches reach
# each level); they decide only when there are a handful of reports, EM replaces them otherwise.
# Free text is weak evidence: two reporters seldom describe one thing alike, so "different" is
# almost neutral while agreement counts.
COMPARISONS = (
    Comparison(
        "location",
        ("same room", "same building", "same door", "same road or community", "elsewhere"),
        prior_m=(0.6, 0.25, 0.1, 0.04, 0.01),
        prior_u=(0.05, 0.1, 0.2, 0.25, 0.4),
    ),
    Comparison(
        "time_apart",
        ("within 2 hours", "within 12 hours", "within 2 days", "within the window"),
        prior_m=(0.5, 0.35, 0.1, 0.05),
        prior_u=(0.05, 0.15, 0.3, 0.5),
    ),
    Comparison(
        "category",
        ("same", "related", "other words"),
        prior_m=(0.8, 0.15, 0.05),
        prior_u=(0.4, 0.4, 0.2),
    ),
    Comparison(
        "description",
        ("near identical", "similar", "some overlap", "different"),
        prior_m=(0.2, 0.2, 0.2, 0.4),
        prior_u=(0.02, 0.08, 0.3, 0.6),
    ),
    Comparison("grid", ("same", "different"), prior_m=(0.95, 0.05), prior_u=(0.6, 0.4)),
    Comparison(
        "distance",
        ("within 30 m", "within 150 m", "within 1 km", "farther"),
        prior_m=(0.6, 0.25, 0.1, 0.05),
        prior_u=(0.05, 0.1, 0.25, 0.6),
    ),
)
TIME_CUTS_HOURS = (2.0, 12.0, 48.0)
DESCRIPTION_CUTS = (90.0, 70.0, 45.0)
DISTANCE_CUTS_M = (30.0, 150.0, 1000.0)
CANONICAL_NEAR = 92.0
RAW_CATEGORY_NEAR = 75.0
MIN_RESIDUAL_CHARS = 4


@dataclass
class IncidentResult:
    """Lineage (every report -> its incident), merged incidents, scored pairs and the learned model."""

    lineage: pd.DataFrame
    incidents: pd.DataFrame
    pairs: pd.DataFrame = field(repr=False)
    model: FellegiSunterModel = field(repr=False)

    def weights(self) -> pd.DataFrame:
        """What each comparison level says for or against one incident (log2 m/u)."""
        return self.model.weights_table()


def _text_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Column as an object array of stripped strings, None where empty or absent."""
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    values = frame[name].to_numpy(dtype=object)
    out = np.full(len(values), None, dtype=object)
    for i, value in enumerate(values):
        if isinstance(value, str):
            text = value.strip()
            out[i] = text or None
        elif value is not None and not (isinstance(value, float) and np.isnan(value)):
            out[i] = str(value)
    return out


_DESCRIPTION_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def _description_key(text: str | None) -> str | None:
    if text is None:
        return None
    key = _DESCRIPTION_NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()
    return key or None


def _residual_description(text: str | None, *explained: str | None) -> str | None:
    """What a description says beyond its own category, place and grid, or None if next to nothing.

    Descriptions often restate the category and the address; compared as they are, they would count
    the location and category evidence a second time (and templates would look alike everywhere).
    """
    key = _description_key(text)
    if key is None:
        return None
    known = set("".join(_description_key(e) or "" for e in explained))
    residual = "".join(ch for ch in key if ch not in known and not ch.isdigit())
    return residual if len(residual) >= MIN_RESIDUAL_CHARS else None


@dataclass
class _Reports:
    """Columns the matcher needs, as arrays aligned with the input rows."""

    source: np.ndarray
    record_id: np.ndarray
    seconds: np.ndarray  # float, NaN when the time is unknown
    category: np.ndarray
    category_raw: np.ndarray
    parts: dict[str, np.ndarray]
    canonical: np.ndarray
    description: np.ndarray
    grid: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> _Reports:
        times = pd.to_datetime(
            pd.Series(_text_column(frame, "reported_at"), dtype=object), errors="coerce", format="mixed"
        )
        seconds = np.asarray((times - pd.Timestamp("1970-01-01")).dt.total_seconds(), dtype=float)
        raw = _text_column(frame, "category_raw")
        category = _text_column(frame, "category")
        location = _text_column(frame, "location")
        canonical = _text_column(frame, "location_canonical")
        grid = _text_column(frame, "grid")
        description = [
            _residual_description(*texts)
            for texts in zip(
                _text_column(frame, "description"), raw, category, location, canonical, grid, strict=True
            )
        ]
        return cls(
            source=_text_column(frame, "source"),
            record_id=_text_column(frame, "record_id"),
            seconds=seconds,
            category=category,
            category_raw=np.array([_description_key(v) for v in raw], dtype=object),
            parts={p: _text_column(frame, f"loc_{p}") for p in LOCATION_PARTS},
            canonical=canonical,
            description=np.array(description, dtype=object),
            grid=grid,
            lat=pd.to_numeric(
                frame.get("lat", pd.Series(np.nan, index=frame.index)), errors="coerce"
            ).to_numpy(dtype=float),
            lon=pd.to_numeric(
                frame.get("lon", pd.Series(np.nan, index=frame.index)), errors="coerce"
            ).to_numpy(dtype=float),
        )


# --- blocking ---------------------------------------------------------------------------------


def _blocking_keys(reports: _Reports) -> list[np.ndarray]:
    """Location keys that one incident's reports share despite omitted or reworded parts."""
    p = reports.parts
    n = len(reports.source)

    def key(*columns: np.ndarray) -> np.ndarray:
        out = np.full(n, None, dtype=object)
        for i in range(n):
            values = [c[i] for c in columns]
            if all(v is not None for v in values):
                out[i] = "\x1f".join(values)
        return out

    keys = [
        key(p["building"], p["unit"], p["room"]),
        key(p["road"], p["door_no"], p["building"]),
        key(p["road"], p["door_no"]),
        key(p["community"], p["building"]),
        reports.canonical,
        key(reports.grid, reports.category),
    ]
    if np.isfinite(reports.lat).any():
        cell = np.array(
            [
                f"{round(la * 500)}:{round(lo * 500)}" if np.isfinite(la) and np.isfinite(lo) else None
                for la, lo in zip(reports.lat, reports.lon, strict=True)
            ],
            dtype=object,
        )
        keys.append(cell)
    return keys


def _window_pairs(codes: np.ndarray, seconds: np.ndarray, window_s: float) -> set[tuple[int, int]]:
    """Pairs sharing a key and reported within the window; an unknown time pairs with the whole block."""
    groups: dict[Any, list[int]] = {}
    for i, code in enumerate(codes):
        if code is not None:
            groups.setdefault(code, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        timed = sorted((m for m in members if np.isfinite(seconds[m])), key=lambda m: seconds[m])
        untimed = [m for m in members if not np.isfinite(seconds[m])]
        start = 0
        for end, j in enumerate(timed):
            while seconds[j] - seconds[timed[start]] > window_s:
                start += 1
            for i in timed[start:end]:
                pairs.add((min(i, j), max(i, j)))
        for u in untimed:
            for other in members:
                if other != u:
                    pairs.add((min(u, other), max(u, other)))
    return pairs


# --- comparison -------------------------------------------------------------------------------


def _conflict(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a != b


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and a == b


def _location_level(reports: _Reports, i: int, j: int) -> int:
    p = reports.parts

    def conflict(*names: str) -> bool:
        return any(_conflict(p[name][i], p[name][j]) for name in names)

    if all(p[name][i] is None for name in LOCATION_PARTS) and reports.canonical[i] is None:
        return MISSING
    if all(p[name][j] is None for name in LOCATION_PARTS) and reports.canonical[j] is None:
        return MISSING
    area_conflict = conflict("district", "street", "community", "road", "door_no")
    same_building = _same(p["building"][i], p["building"][j]) and not area_conflict
    if same_building and _same(p["unit"][i], p["unit"][j]) and _same(p["room"][i], p["room"][j]):
        return 0
    if _same(reports.canonical[i], reports.canonical[j]):
        return 0
    if same_building and not conflict("unit"):
        return 1
    same_door = _same(p["road"][i], p["road"][j]) and _same(p["door_no"][i], p["door_no"][j])
    near_text = (
        reports.canonical[i] is not None
        and reports.canonical[j] is not None
        and fuzz.ratio(reports.canonical[i], reports.canonical[j]) >= CANONICAL_NEAR
    )
    if same_building or same_door or near_text:
        return 2
    if _same(p["road"][i], p["road"][j]) or (
        _same(p["community"][i], p["community"][j]) and not conflict("road")
    ):
        return 3
    return 4


def _cut_level(value: float, cuts: tuple[float, ...], descending: bool = False) -> int:
    if not np.isfinite(value):
        return MISSING
    for level, cut in enumerate(cuts):
        if (value >= cut) if descending else (value <= cut):
            return level
    return len(cuts)


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = phi2 - phi1, np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return float(2 * 6_371_000 * np.arcsin(np.sqrt(h)))


def _category_level(reports: _Reports, i: int, j: int) -> int | None:
    """0 same, 1 related, 2 other words (a category the table does not know, worded unlike the
    other's), MISSING no category, None = cannot-link (never one incident). How much "other words"
    counts against a match is learned by EM: lay wording differs from professional terms, too."""
    related = categories_related(reports.category[i], reports.category[j])
    if related is None:
        a, b = reports.category_raw[i], reports.category_raw[j]
        if a is None or b is None:
            return MISSING
        if a == b:
            return 0
        return 1 if fuzz.partial_ratio(a, b) >= RAW_CATEGORY_NEAR else 2
    if not related:
        return None
    return 0 if reports.category[i] == reports.category[j] else 1


def _compare(reports: _Reports, pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Comparison levels per kept pair; pairs whose categories cannot co-occur are dropped."""
    kept: list[tuple[int, int]] = []
    rows: list[list[int]] = []
    desc_a, desc_b, desc_rows = [], [], []
    for i, j in pairs:
        category = _category_level(reports, i, j)
        if category is None:
            continue
        gap_h = abs(reports.seconds[i] - reports.seconds[j]) / 3600.0
        grid = (
            MISSING
            if reports.grid[i] is None or reports.grid[j] is None
            else int(reports.grid[i] != reports.grid[j])
        )
        distance = (
            _haversine_m(reports.lat[i], reports.lon[i], reports.lat[j], reports.lon[j])
            if np.isfinite([reports.lat[i], reports.lon[i], reports.lat[j], reports.lon[j]]).all()
            else float("nan")
        )
        if reports.description[i] is not None and reports.description[j] is not None:
            desc_a.append(reports.description[i])
            desc_b.append(reports.description[j])
            desc_rows.append(len(rows))
        rows.append(
            [
                _location_level(reports, i, j),
                _cut_level(gap_h, TIME_CUTS_HOURS),
                category,
                MISSING,
                grid,
                _cut_level(distance, DISTANCE_CUTS_M),
            ]
        )
        kept.append((i, j))
    levels = np.array(rows, dtype=np.int64).reshape(len(rows), len(COMPARISONS))
    if desc_rows:
        scores = np.asarray(process.cpdist(desc_a, desc_b, scorer=fuzz.ratio, workers=-1))
        levels[desc_rows, 3] = [_cut_level(s, DESCRIPTION_CUTS, descending=True) for s in scores]
    return np.array(kept, dtype=np.int64).reshape(len(kept), 2), levels


# --- clustering -------------------------------------------------------------------------------


def _cluster(n: int, pair_index: np.ndarray, probability: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Average-linkage merging, strongest pairs first; pairs never scored count as non-matches."""
    label = np.arange(n)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    score = {(int(i), int(j)): float(p) for (i, j), p in zip(pair_index, probability, strict=True)}
    order = np.argsort(-probability, kind="stable")
    for k in order:
        if probability[k] < 0.5:
            break
        a, b = label[pair_index[k, 0]], label[pair_index[k, 1]]
        if a == b:
            continue
        left, right = members[a], members[b]
        cats = {c for c in categories[left + right] if c is not None}
        if any(categories_related(x, y) is False for x in cats for y in cats):
            continue
        total = sum(score.get((min(x, y), max(x, y)), 0.0) for x in left for y in right)
        if total / (len(left) * len(right)) < 0.5:
            continue
        keep, gone = (a, b) if len(left) >= len(right) else (b, a)
        members[keep].extend(members.pop(gone))
        label[members[keep]] = keep
    return label


# --- merged incidents -------------------------------------------------------------------------


def incident_id_for(source: str, record_id: str) -> str:
    """Deterministic incident id from the earliest report's own identity."""
    digest = hashlib.sha1(f"{source}\x1f{record_id}".encode()).hexdigest()[:12]
    return f"INC-{digest}"


def _most_advanced(statuses: list[str | None]) -> str:
    """The furthest lifecycle stage any report reached; a report nobody has acted on yet is 上报."""
    ranks = [LIFECYCLE.index(s) for s in statuses if s in LIFECYCLE]
    return LIFECYCLE[max(ranks)] if ranks else LIFECYCLE[0]


def _first_present(values: list[str | None]) -> str | None:
    return next((v for v in values if v is not None), None)


def _majority(values: list[str | None]) -> str | None:
    """Most frequent non-empty value; ties go to the earliest report's value."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    counts = Counter(present)
    best = max(counts.values())
    return next(v for v in present if counts[v] == best)


def _iso_time(seconds: float) -> str | None:
    if not np.isfinite(seconds):
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _reporter_count(contacts: list[str | None]) -> int:
    """Distinct contacts, plus every report that names no contact (each is someone)."""
    return len({c for c in contacts if c is not None}) + sum(c is None for c in contacts)


def _merge(frame: pd.DataFrame, data: _Reports, label: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per incident (its reports in time order) and the incident of every report."""
    column = {name: _text_column(frame, name) for name in (*INCIDENT_SOURCE_COLUMNS, "status", "contact")}
    completeness = sum((data.parts[p] != None).astype(int) for p in LOCATION_PARTS)  # noqa: E711
    order = sorted(
        range(len(frame)),
        key=lambda i: (
            label[i],
            data.seconds[i] if np.isfinite(data.seconds[i]) else np.inf,
            data.source[i] or "",
            data.record_id[i] or "",
        ),
    )
    groups: dict[int, list[int]] = {}
    for i in order:
        groups.setdefault(int(label[i]), []).append(i)
    incident_of = np.empty(len(frame), dtype=object)
    rows = []
    for members in groups.values():
        first = members[0]
        incident_id = incident_id_for(str(data.source[first]), str(data.record_id[first]))
        incident_of[members] = incident_id
        fullest = max(members, key=lambda i: completeness[i])

        def values(name: str, members: list[int] = members) -> list[str | None]:
            return [column[name][i] for i in members]

        rows.append(
            {
                "incident_id": incident_id,
                "category": _majority(values("category")),
                "first_reported_at": _iso_time(data.seconds[first]),
                "status": _most_advanced(values("status")),
                "reporter_count": _reporter_count(values("contact")),
                "report_count": len(members),
                "grid": _majority(values("grid")),
                "location": column["location"][fullest],
                "location_canonical": column["location_canonical"][fullest],
                "loc_community": _majority(values("loc_community")),
                "description": _first_present(values("description")),
                "sources": ";".join(sorted({str(data.source[i]) for i in members})),
                "report_ids": ";".join(f"{data.source[i]}:{data.record_id[i]}" for i in members),
            }
        )
    incidents = pd.DataFrame(rows, columns=INCIDENT_COLUMNS)
    incidents = incidents.sort_values(
        ["first_reported_at", "incident_id"], ignore_index=True, na_position="last"
    )
    lineage = pd.DataFrame(
        {"source": data.source, "record_id": data.record_id, "incident_id": incident_of},
        columns=LINEAGE_COLUMNS,
    )
    return incidents, lineage


def resolve_incidents(reports: pd.DataFrame, *, window_hours: float = 168.0) -> IncidentResult:
    """Group standardized event reports into incidents and merge each into one row.

    `reports` has the standardized event columns (docs/ARCHITECTURE.md); absent columns count as
    empty, and `lat`/`lon` are used when present. Reports further apart than `window_hours` are
    never compared.
    """
    frame = reports.reset_index(drop=True).drop_duplicates(subset=["source", "record_id"], keep="first")
    frame = frame.reset_index(drop=True)
    data = _Reports.from_frame(frame)
    n = len(frame)
    candidate: set[tuple[int, int]] = set()
    for codes in _blocking_keys(data):
        candidate |= _window_pairs(codes, data.seconds, window_hours * 3600.0)
    pair_index, levels = _compare(data, sorted(candidate))
    model = fit_em(levels, COMPARISONS)
    probability = model.predict(levels) if len(levels) else np.empty(0)
    label = _cluster(n, pair_index, probability, data.category)

    incidents, lineage = _merge(frame, data, label)
    pairs = pd.DataFrame(
        {
            "source_a": data.source[pair_index[:, 0]] if len(pair_index) else [],
            "record_id_a": data.record_id[pair_index[:, 0]] if len(pair_index) else [],
            "source_b": data.source[pair_index[:, 1]] if len(pair_index) else [],
            "record_id_b": data.record_id[pair_index[:, 1]] if len(pair_index) else [],
            "probability": probability,
            "match_weight": model.match_weight(levels) if len(levels) else np.empty(0),
        },
        columns=PAIR_COLUMNS,
    )
    return IncidentResult(lineage=lineage, incidents=incidents, pairs=pairs, model=model)


BUILDING_PARTS = ("road", "door_no", "building")
DOOR_PARTS = ("road", "door_no")


def _place_key(parts: tuple[str | None, ...]) -> str | None:
    return "\x1f".join(str(part) for part in parts) if all(parts) else None


def _grids_by_place(residents: pd.DataFrame, parts: tuple[str, ...]) -> dict[str, str]:
    """The grid most residents at each place (building, or door) are registered in."""
    columns = [f"addr_{part}" for part in parts]
    if "grid" not in residents.columns or not set(columns) <= set(residents.columns):
        return {}
    votes: dict[str, Counter[str]] = {}
    for grid, *place in residents[["grid", *columns]].itertuples(index=False, name=None):
        key = _place_key(tuple(None if pd.isna(p) else p for p in place))
        if key is not None and isinstance(grid, str) and grid:
            votes.setdefault(key, Counter())[grid] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in votes.items()}


def fill_missing_grids(incidents: pd.DataFrame, residents: pd.DataFrame) -> pd.DataFrame:
    """Give an incident no reporter placed in a grid (residents' own reports carry none) the grid
    its building's residents are registered in, else its door's; `grid_origin` says which."""
    by_building = _grids_by_place(residents, BUILDING_PARTS)
    by_door = _grids_by_place(residents, DOOR_PARTS)
    filled = incidents.copy()
    origins: list[str] = []
    grids: list[str | None] = []
    for grid, location in filled[["grid", "location_canonical"]].itertuples(index=False, name=None):
        if isinstance(grid, str) and grid:
            grids.append(grid)
            origins.append("reported")
            continue
        parts = parse_address(location) if isinstance(location, str) else None
        building = _place_key(tuple(getattr(parts, p) for p in BUILDING_PARTS)) if parts else None
        door = _place_key(tuple(getattr(parts, p) for p in DOOR_PARTS)) if parts else None
        if building is not None and building in by_building:
            grids.append(by_building[building])
            origins.append("building residents")
        elif door is not None and door in by_door:
            grids.append(by_door[door])
            origins.append("door residents")
        else:
            grids.append(None)
            origins.append("unknown")
    filled["grid"] = grids
    filled["grid_origin"] = origins
    return filled
