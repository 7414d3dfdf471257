"""One incident, however many times it is reported: merge event reports across sources.

The reports go through the matching engine (dedup.engine.link) like any table of records: the
report time as a `datetime` (time-window blocking and levels; more than a week apart is never one
incident), the category as a `category` (unrelated categories never describe one incident) and the
location as a `place`. The grid is no field: it follows from the place and would count it twice;
neither is the description: written by each reporter in their own words, it restates the category
and the place, and what it says beyond them agrees between reports of one incident no more often
than between any two. This module prepares those columns and merges each cluster into one row with
a deterministic id.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dedup.engine import LinkResult, link
from dedup.presets import INCIDENT_FIELDS
from schemas.categories import LIFECYCLE
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
LOCATION_PARTS = ("district", "street", "community", "road", "door_no", "building", "unit", "room")


@dataclass
class IncidentResult:
    """Lineage (every report -> its incident), merged incidents, and the engine's run over the
    reports in (source, record_id) order: its scored pairs, learned weights, `explain` for any two."""

    lineage: pd.DataFrame
    incidents: pd.DataFrame
    link: LinkResult = field(repr=False)


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


def _matching_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns INCIDENT_FIELDS names, from the standardized event columns: the reporter's own
    category word (the professional one when there is none)."""
    raw, category = _text_column(frame, "category_raw"), _text_column(frame, "category")
    columns = {
        "reported_at": _text_column(frame, "reported_at"),
        "category": np.where(pd.isna(raw), category, raw),
        "location": _text_column(frame, "location"),
    }
    return pd.DataFrame(
        {"source": _text_column(frame, "source"), "record_id": _text_column(frame, "record_id")}
        | {name: columns[name] for name in INCIDENT_FIELDS}
    )


@dataclass
class _Reports:
    """What merging needs, as arrays aligned with the input rows."""

    source: np.ndarray
    record_id: np.ndarray
    seconds: np.ndarray  # float, NaN when the time is unknown
    parts: dict[str, np.ndarray]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> _Reports:
        times = pd.to_datetime(
            pd.Series(_text_column(frame, "reported_at"), dtype=object), errors="coerce", format="mixed"
        )
        seconds = np.asarray((times - pd.Timestamp("1970-01-01")).dt.total_seconds(), dtype=float)
        return cls(
            source=_text_column(frame, "source"),
            record_id=_text_column(frame, "record_id"),
            seconds=seconds,
            parts={p: _text_column(frame, f"loc_{p}") for p in LOCATION_PARTS},
        )


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


def _reporter_count(contacts: list[str | None], sources: list[str], grids: list[str | None]) -> int:
    """Distinct reporters: one per contact; a report without one is its source's worker for its grid
    (the grid app's reports name no reporter, and one grid worker covers one grid); a report with
    neither is someone of its own."""
    reporters: set[tuple[str, str]] = set()
    unknown = 0
    for contact, source, grid in zip(contacts, sources, grids, strict=True):
        if contact is not None:
            reporters.add(("contact", contact))
        elif grid is not None:
            reporters.add((source, grid))
        else:
            unknown += 1
    return len(reporters) + unknown


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
                "reporter_count": _reporter_count(
                    values("contact"), [str(data.source[i]) for i in members], values("grid")
                ),
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
    incidents = incidents.sort_values(["first_reported_at", "incident_id"], ignore_index=True, na_position="last")
    lineage = pd.DataFrame(
        {"source": data.source, "record_id": data.record_id, "incident_id": incident_of},
        columns=LINEAGE_COLUMNS,
    )
    return incidents, lineage


def resolve_incidents(reports: pd.DataFrame) -> IncidentResult:
    """Group standardized event reports into incidents and merge each into one row.

    `reports` has the standardized event columns (docs/ARCHITECTURE.md); absent columns count as
    empty. The engine sees the reports in (source, record_id) order, so the incidents never depend
    on the order reports arrive in; the lineage keeps the input's order.
    """
    frame = reports.drop_duplicates(subset=["source", "record_id"], keep="first").reset_index(drop=True)
    order = np.lexsort((frame["record_id"].astype(str).to_numpy(), frame["source"].astype(str).to_numpy()))
    result = link(_matching_columns(frame.iloc[order].reset_index(drop=True)), INCIDENT_FIELDS)
    label = np.empty(len(frame), dtype=np.int64)
    label[order] = pd.factorize(result.clusters["cluster_id"])[0]
    incidents, lineage = _merge(frame, _Reports.from_frame(frame), label)
    return IncidentResult(lineage=lineage, incidents=incidents, link=result)


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
