"""The community (社区) each person belongs to, so rosters and reports grouped by community reach it.

An address often leaves the community out (漳州市龙文区水仙大街190号30栋), so the community of the
chosen golden address alone leaves half a city in no community. A person's community is known from,
in this order:

1. ``address``: the community named in the golden address;
2. ``grid``: the community the golden grid belongs to (grid names carry it: 东梅社区10网格);
3. ``records``: the person's other records, their addresses first, then their grids, the records
   taken in the address's order of trust;
4. ``address_book``: the building entrance (district, road, door number) of any of the person's
   addresses, when every record in the data that names that entrance and a community names the same
   one (learned from the run's own records, never from a fixed list).

Only a person none of these place is left without a community.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from schemas.normalize.address import parse_address

ORIGINS = ("address", "grid", "records", "address_book")
DOOR_PARTS = ("addr_district", "addr_road", "addr_door_no")


@lru_cache(maxsize=65536)
def grid_community(grid: str) -> str | None:
    """The community a grid name carries (东梅社区10网格 -> 东梅社区), None when it names none."""
    return parse_address(grid).community if grid else None


def _text(values: pd.Series) -> np.ndarray:
    """Stripped text per row, '' for missing values."""
    return np.array(["" if not isinstance(v, str) else v.strip() for v in values.tolist()], dtype=object)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return _text(frame[name]) if name in frame.columns else np.full(len(frame), "", dtype=object)


@dataclass(frozen=True)
class Placement:
    """Per person (golden row order): the community or None, how it was known, and the record it came
    from (position in the records frame, -1 for none)."""

    community: list[str | None]
    origin: list[str | None]
    row: list[int]


def record_communities(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per record: the community its address names ('' if none), and the one its grid names."""
    address = _column(frame, "addr_community")
    grids = _column(frame, "grid")
    return address, np.array([grid_community(g) or "" for g in grids.tolist()], dtype=object)


def door_keys(frame: pd.DataFrame) -> list[Hashable | None]:
    """Per record: its building entrance (district, road, door number), None without road and door."""
    district, road, door = (_column(frame, name) for name in DOOR_PARTS)
    return [
        (d, r, n) if r and n else None
        for d, r, n in zip(district.tolist(), road.tolist(), door.tolist(), strict=True)
    ]


def address_book(keys: Sequence[Hashable | None], communities: Sequence[str]) -> dict[Hashable, str]:
    """Entrance -> community, for entrances whose records name exactly one community."""
    seen: dict[Hashable, set[str]] = {}
    for key, community in zip(keys, communities, strict=True):
        if key is not None and community:
            seen.setdefault(key, set()).add(community)
    return {key: next(iter(names)) for key, names in seen.items() if len(names) == 1}


def place_persons(
    frame: pd.DataFrame,
    persons: int,
    order: np.ndarray,
    chosen: Mapping[str, Mapping[int, int]],
) -> Placement:
    """The community of every person.

    ``frame`` holds the records with a ``person`` column (0..persons-1); ``order`` the record
    positions in the order of trust for the address; ``chosen[field][person]`` the record position
    whose ``address`` / ``grid`` the golden record took.
    """
    address, grid = record_communities(frame)
    own = np.where(address != "", address, grid)
    keys = door_keys(frame)
    book = address_book(keys, own.tolist())
    person_of = frame["person"].to_numpy()
    order = np.asarray(order, dtype=np.int64)
    by_book = np.array([book.get(key, "") if key is not None else "" for key in keys], dtype=object)
    stages: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []  # (persons, positions, how, names)
    for how, names in (("address", address), ("grid", grid)):
        picked = chosen.get(how, {})
        positions = np.fromiter(picked.values(), dtype=np.int64, count=len(picked))
        stages.append((np.fromiter(picked.keys(), dtype=np.int64, count=len(picked)), positions, how, names))
    for how, names in (("records", address), ("records", grid), ("address_book", by_book)):
        stages.append((person_of[order], order, how, names))
    who = np.concatenate([people for people, _, _, _ in stages])
    where = np.concatenate([positions for _, positions, _, _ in stages])
    named = np.concatenate([names[positions] for _, positions, _, names in stages])
    hows = np.concatenate([np.full(len(positions), how, dtype=object) for _, positions, how, _ in stages])
    found = np.flatnonzero(named.astype(bool))  # the first candidate with a name settles each person
    people, first = np.unique(who[found], return_index=True)
    chosen_at = found[first]
    community: list[str | None] = [None] * persons
    origin: list[str | None] = [None] * persons
    row: list[int] = [-1] * persons
    for person, name, how, position in zip(
        people.tolist(), named[chosen_at].tolist(), hows[chosen_at].tolist(), where[chosen_at].tolist(), strict=True
    ):
        community[person], origin[person], row[person] = name, how, position
    return Placement(community, origin, row)


def provenance_entry(placement: Placement, person: int, sources: np.ndarray, record_ids: np.ndarray) -> dict[str, str]:
    """The provenance of a person's community: the record it came from and how it was known."""
    position = placement.row[person]
    via = str(placement.origin[person])
    return {"source": str(sources[position]), "record_id": str(record_ids[position]), "via": via}
