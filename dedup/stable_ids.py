"""Person ids that stay stable across runs: this run's clusters take over the last run's ids.

Each current cluster claims the previous person ids its records held. Claims are granted greedily,
the claim backed by most records first, one id per cluster and one cluster per id; ties go to the
larger cluster, then the smaller id, then the cluster with the smaller member (so the result never
depends on row order). A cluster whose claims all lost gets a fresh id: that is a split. A previous
id that no cluster was granted but whose records live on was merged into the cluster holding most of
them. The changes table keeps that history for stewards and for the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dedup.ids import fresh_id, member_keys
from hub_errors import HubError

LINEAGE_COLUMNS = ["source", "record_id", "person_id"]
CHANGE_COLUMNS = ["person_id", "change", "from_ids", "into_id", "record_count", "previous_record_count"]
CHANGE_KINDS = ("new", "kept", "merged", "split", "gone")


@dataclass(frozen=True)
class StableIds:
    """lineage: source, record_id, person_id for every current record.

    changes (CHANGE_COLUMNS), one row per person id this run touches:
    - new: a cluster of records no previous person held;
    - kept: a cluster that took over a previous id; from_ids names other previous ids whose records
      it now holds (";"-joined);
    - split: a cluster with previous records whose ids went to larger claims; fresh id, from_ids the
      previous ids its records held;
    - merged: a previous id retired, its records now in person into_id (record_count of them);
    - gone: a previous id none of whose records is in this run.
    record_count counts current records, previous_record_count the records the id held before.
    """

    lineage: pd.DataFrame
    changes: pd.DataFrame


def _keyed(frame: pd.DataFrame | None, what: str, value_column: str) -> pd.DataFrame:
    """key, value per record; a record listed twice is an error the caller must fix."""
    if frame is None:
        frame = pd.DataFrame(columns=["source", "record_id", value_column])
    table = frame.iloc[:, :3].astype(str).set_axis(["source", "record_id", value_column], axis=1)
    table["key"] = member_keys(table["source"], table["record_id"])
    repeated = table["key"].duplicated()
    if repeated.any():
        first = table[repeated].iloc[0]
        raise HubError(f"{what}: record {first['record_id']!r} of source {first['source']!r} is listed twice")
    return table


def _grant_claims(claims: pd.DataFrame) -> dict[str, str]:
    """cluster -> previous id, granting the strongest claims first (see the module docstring)."""
    ordered = claims.sort_values(
        ["records", "cluster_size", "previous", "cluster_key"], ascending=[False, False, True, True], kind="stable"
    )
    granted: dict[str, str] = {}
    taken: set[str] = set()
    for cluster, previous in zip(ordered["cluster"].tolist(), ordered["previous"].tolist(), strict=True):
        if cluster not in granted and previous not in taken:
            granted[cluster] = previous
            taken.add(previous)
    return granted


def carry_forward(
    previous: pd.DataFrame | None, current: pd.DataFrame, *, prefix: str = "P", reserved: Iterable[str] = ()
) -> StableIds:
    """Person ids for this run's clusters that keep the last run's ids wherever the records agree.

    previous: source, record_id, person_id (the last run's lineage; None or empty on the first run). current: source,
    record_id, cluster_id (this run's clusters, e.g. LinkResult.clusters). Fresh ids follow
    dedup.ids (prefix + hash of the cluster's smallest member) and never equal a previous id or one
    in `reserved` (ids retired earlier that must not come back).
    """
    before = _keyed(previous, "previous person lineage", "previous")
    now = _keyed(current, "current clusters", "cluster")
    now["previous"] = now["key"].map(before.set_index("key")["previous"])
    clusters = now.groupby("cluster").agg(cluster_key=("key", "min"), cluster_size=("key", "size"))
    claims = now.dropna(subset=["previous"]).groupby(["cluster", "previous"]).size().rename("records").reset_index()
    claims = claims.join(clusters, on="cluster")
    granted = _grant_claims(claims)

    taken = set(before["previous"]) | set(reserved)
    person_of: dict[str, str] = dict(granted)
    by_key = clusters.sort_values("cluster_key")
    for cluster, key in zip(by_key.index.tolist(), by_key["cluster_key"].tolist(), strict=True):
        if cluster not in person_of:
            person_of[cluster] = fresh_id(key, taken, prefix)
            taken.add(person_of[cluster])

    now["person_id"] = now["cluster"].map(person_of)
    lineage = now.sort_values(["source", "record_id"], kind="stable")[LINEAGE_COLUMNS].reset_index(drop=True)
    return StableIds(lineage, _changes(before, claims, clusters, granted, person_of))


def _changes(
    before: pd.DataFrame,
    claims: pd.DataFrame,
    clusters: pd.DataFrame,
    granted: dict[str, str],
    person_of: dict[str, str],
) -> pd.DataFrame:
    """The history rows of one carry-forward (see StableIds)."""
    previous_counts = {str(p): int(n) for p, n in before["previous"].value_counts().items()}
    held: dict[str, list[str]] = {}
    for cluster, previous in zip(claims["cluster"].tolist(), claims["previous"].tolist(), strict=True):
        held.setdefault(cluster, []).append(previous)
    rows: list[tuple[str, str, str, str | None, int, int]] = []
    for cluster, size in zip(clusters.index.tolist(), clusters["cluster_size"].tolist(), strict=True):
        own = granted.get(cluster)
        others = sorted(p for p in held.get(cluster, []) if p != own)
        change = "kept" if own is not None else ("split" if others else "new")
        own_before = previous_counts.get(own, 0) if own is not None else 0
        rows.append((person_of[cluster], change, ";".join(others), None, int(size), own_before))
    kept = set(granted.values())
    retired = np.array([previous not in kept for previous in claims["previous"].tolist()], dtype=bool)
    absorbed = claims[retired].sort_values(
        ["previous", "records", "cluster_key"], ascending=[True, False, True], kind="stable"
    )
    absorbed = absorbed.drop_duplicates("previous")
    for previous, cluster, records in zip(
        absorbed["previous"].tolist(), absorbed["cluster"].tolist(), absorbed["records"].tolist(), strict=True
    ):
        rows.append((previous, "merged", "", person_of[cluster], int(records), previous_counts[previous]))
    for gone in sorted(set(previous_counts) - kept - set(absorbed["previous"].tolist())):
        rows.append((gone, "gone", "", None, 0, previous_counts[gone]))
    changes = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    return changes.sort_values(["person_id", "change"], kind="stable").reset_index(drop=True)
