"""City-wide reconciliation of records linked district by district.

When linking runs per district (a partition each), a person registered in two districts ends up as two
clusters. Reconciliation finds them without comparing every record with every other: only records
whose identifier value (an ID number, a phone, a name with its birth date) also occurs in another
district are looked at, pairs are formed within each shared value across districts (a hash join,
never a cross join), scored with a trained model, and the clusters of a positive pair are joined,
unless that would put two different valid ID numbers into one person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dedup.compare import compare
from dedup.engine import DEFAULT_MAX_BLOCK
from dedup.identity import identity_codes, mark_contradicting_ids
from dedup.incremental import fit_frequencies
from dedup.model import Model
from dedup.prepare import PreparedField, prepare


@dataclass
class Reconciliation:
    """The city's clusters (one label per record, in record order) and what reconciliation looked at."""

    clusters: np.ndarray
    boundary_records: int
    candidate_pairs: int
    joined: int


def cross_partition_pairs(
    codes: np.ndarray, partitions: np.ndarray, scope: np.ndarray, max_block: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of records in ``scope`` sharing a code (>= 0) in different partitions; values held by more
    than ``max_block`` records (a switchboard number) are skipped, as blocking skips them."""
    frame = pd.DataFrame({"code": codes[scope], "partition": partitions[scope], "record": scope})
    frame = frame[frame["code"] >= 0]
    spread = frame.groupby("code")["partition"].transform("nunique")
    size = frame.groupby("code")["code"].transform("size")
    frame = frame[(spread > 1) & (size <= max_block)]
    if frame.empty:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    pairs = frame.merge(frame, on="code", suffixes=("_l", "_r"))
    pairs = pairs[(pairs["record_l"] < pairs["record_r"]) & (pairs["partition_l"] != pairs["partition_r"])]
    return pairs["record_l"].to_numpy(np.int64), pairs["record_r"].to_numpy(np.int64)


def key_codes(prepared: Sequence[PreparedField], keys: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """One code per record for each key (a field, or several fields together: all must be present)."""
    by_name = {data.name: data.codes for data in prepared}
    result = []
    for key in keys:
        parts = np.column_stack([by_name[name] for name in key])
        present = (parts >= 0).all(axis=1)
        codes = np.full(len(parts), -1, dtype=np.int64)
        if present.any():
            codes[present] = pd.MultiIndex.from_arrays(list(parts[present].T)).factorize()[0]
        result.append(codes)
    return result


def reconcile(
    records: pd.DataFrame,
    fields: Mapping[str, str],
    partitions: Sequence[str] | np.ndarray,
    clusters: Sequence[str] | np.ndarray,
    model: Model,
    *,
    identifiers: Sequence[str | Sequence[str]],
    validity: Mapping[str, str] | None = None,
    max_block: int = DEFAULT_MAX_BLOCK,
) -> Reconciliation:
    """Join the per-partition ``clusters`` of one entity across ``partitions`` (both one label per
    record of ``records``), comparing only records that share an ``identifiers`` value across them (an
    identifier is a field, or a list of fields that together identify, such as name and birth date)."""
    frame = records.reset_index(drop=True)
    part = pd.factorize(pd.Series(partitions, dtype=object))[0]
    cluster_codes, cluster_labels = pd.factorize(pd.Series(clusters, dtype=object))
    keys = [[key] if isinstance(key, str) else list(key) for key in identifiers]
    keys = [key for key in keys if all(name in fields for name in key)]
    used = {name: fields[name] for key in keys for name in key}
    keyed = prepare(frame, used, {k: v for k, v in (validity or {}).items() if k in used})
    everyone = np.arange(len(frame))
    seeds = np.zeros(len(frame), dtype=bool)
    for codes in key_codes(keyed, keys):
        left, right = cross_partition_pairs(codes, part, everyone, max_block)
        seeds[left] = True
        seeds[right] = True
    scope = np.flatnonzero(np.isin(cluster_codes, np.unique(cluster_codes[seeds])))
    labels = cluster_codes.copy()
    if not len(scope):
        return Reconciliation(cluster_labels.to_numpy()[labels], 0, 0, 0)

    sub = frame.iloc[scope].reset_index(drop=True)
    prepared = mark_contradicting_ids(prepare(sub, fields, validity))
    scoring = fit_frequencies(model, prepared)
    local = np.arange(len(scope))
    sub_part = part[scope]
    lefts, rights = [], []
    for codes in key_codes(prepared, keys):
        left, right = cross_partition_pairs(codes, sub_part, local, max_block)
        lefts.append(left)
        rights.append(right)
    pairs = pd.DataFrame({"l": np.concatenate(lefts), "r": np.concatenate(rights)}).drop_duplicates()
    left, right = pairs["l"].to_numpy(np.int64), pairs["r"].to_numpy(np.int64)
    weight = scoring.score(prepared, compare(prepared, left, right), left) if len(left) else np.empty(0)

    ids = identity_codes(prepared)
    identity = ids[0] if ids else np.full(len(scope), -1, dtype=np.int64)
    parent = {int(c): int(c) for c in np.unique(cluster_codes[scope])}
    person_ids: dict[int, set[int]] = {}
    for position, code in enumerate(cluster_codes[scope].tolist()):
        if identity[position] >= 0:
            person_ids.setdefault(code, set()).add(int(identity[position]))

    def root(code: int) -> int:
        while parent[code] != code:
            parent[code] = parent[parent[code]]
            code = parent[code]
        return code

    joined = 0
    for position in np.argsort(-weight, kind="stable"):
        if weight[position] <= 0:
            break
        a, b = root(int(cluster_codes[scope[left[position]]])), root(int(cluster_codes[scope[right[position]]]))
        if a == b:
            continue
        together = person_ids.get(a, set()) | person_ids.get(b, set())
        if len(together) > 1:  # two different valid ID numbers are two persons
            continue
        parent[b] = a
        person_ids[a] = together
        joined += 1
    for code in parent:
        parent[code] = root(code)
    in_scope = cluster_codes[scope]
    labels[scope] = [parent[int(code)] for code in in_scope.tolist()]
    return Reconciliation(cluster_labels.to_numpy()[labels], len(scope), len(left), joined)


__all__ = ["Reconciliation", "cross_partition_pairs", "reconcile"]
