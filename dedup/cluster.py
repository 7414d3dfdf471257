"""Clustering that resists chaining.

Connected components over "probably the same" pairs chain relatives and namesakes together
through one weak or wrong link. Here a component of the positive-weight graph is accepted as is
only when it is a clique free of conflicts; otherwise its pairs are merged one by one in
descending weight, and a merge is refused when it would put two different identities (different
valid ID numbers, or two records of a source that holds each person once) into one cluster, or when
the average weight over all compared pairs across the two clusters is not positive.

Steward decisions come on top: must-link pairs are joined before anything else, whatever their
weight or IDs (a steward knows better than a mistyped number), and cannot-link pairs are never put
into one cluster, directly or through a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dedup.arrays import distinct, factorize


@dataclass(frozen=True)
class Constraints:
    """Cannot-link facts per record.

    identities: per field a code per record (-1 when unknown); two records whose known codes
    differ are different people. unique_source: per record a source code (-1 when the source may
    hold a person several times); a cluster holds at most one record per such code. must_link and
    cannot_link: (k, 2) arrays of record pairs from steward decisions; must-links win over every
    other constraint, so a cannot-link between records that must-links join is not honoured.
    """

    identities: list[np.ndarray]
    unique_source: np.ndarray | None = None
    must_link: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))
    cannot_link: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))


class _Clusters:
    """Greedy merging for one component, with cluster-to-cluster weight sums.

    A cluster's identity is per field the set of its known codes: one code unless a steward joined
    records with different ones; two clusters may merge only when they share a code in every field
    where both have one.
    """

    def __init__(self, members: np.ndarray, constraints: Constraints) -> None:
        self.parent = {int(r): int(r) for r in members}
        self.identity = {
            int(r): [frozenset({int(codes[r])}) if codes[r] >= 0 else frozenset() for codes in constraints.identities]
            for r in members
        }
        unique = constraints.unique_source
        self.sources = {
            int(r): ({int(unique[r])} if unique is not None and unique[r] >= 0 else set()) for r in members
        }
        self.links: dict[int, dict[int, list[float]]] = {int(r): {} for r in members}
        self.apart: dict[int, set[int]] = {}

    def find(self, record: int) -> int:
        root = record
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[record] != root:
            self.parent[record], record = root, self.parent[record]
        return root

    def add_pair(self, a: int, b: int, weight: float) -> None:
        """Both directions share one [sum, count] list, so a merge updates both at once."""
        entry = self.links[a].get(b)
        if entry is None:
            entry = [0.0, 0]
            self.links[a][b] = entry
            self.links[b][a] = entry
        entry[0] += weight
        entry[1] += 1

    def keep_apart(self, a: int, b: int) -> None:
        """A cannot-link between the clusters of a and b (ignored if they are already one)."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.apart.setdefault(ra, set()).add(rb)
            self.apart.setdefault(rb, set()).add(ra)

    def compatible(self, a: int, b: int) -> bool:
        for x, y in zip(self.identity[a], self.identity[b], strict=True):
            if x and y and not x & y:
                return False
        return not (self.sources[a] & self.sources[b]) and b not in self.apart.get(a, ())

    def force_merge(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._join(ra, rb)

    def try_merge(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or not self.compatible(ra, rb):
            return
        total, count = self.links[ra].get(rb, (0.0, 0))
        if count == 0 or total / count <= 0:
            return
        self._join(ra, rb)

    def _join(self, ra: int, rb: int) -> None:
        if len(self.links[ra]) < len(self.links[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.identity[ra] = [x | y for x, y in zip(self.identity[ra], self.identity[rb], strict=True)]
        self.sources[ra] |= self.sources[rb]
        for other in self.apart.pop(rb, set()):
            self.apart[other].discard(rb)
            self.apart[other].add(ra)
            self.apart.setdefault(ra, set()).add(other)
        self.links[ra].pop(rb, None)
        for other, entry in self.links.pop(rb).items():
            if other == ra:
                continue
            del self.links[other][rb]
            existing = self.links[ra].get(other)
            if existing is None:
                self.links[ra][other] = entry
                self.links[other][ra] = entry
            else:
                existing[0] += entry[0]
                existing[1] += entry[1]


def _conflicting(labels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per component label: True when it holds two different known codes."""
    known = codes >= 0
    first_code = np.full(labels.max() + 1, -1, dtype=np.int64)
    first_code[labels[known]] = codes[known]
    return (
        np.bincount(
            labels[known], weights=codes[known] != first_code[labels[known]], minlength=len(first_code)
        )
        > 0
    )


def cluster(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    constraints: Constraints,
) -> np.ndarray:
    """Cluster label per record (0..k-1)."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    positive = weight > 0
    must, cannot = constraints.must_link, constraints.cannot_link
    graph_left = np.concatenate([left[positive], must[:, 0]])
    graph_right = np.concatenate([right[positive], must[:, 1]])
    graph = coo_matrix((np.ones(len(graph_left)), (graph_left, graph_right)), shape=(n, n))
    component_count, component = connected_components(graph, directed=False)
    sizes = np.bincount(component, minlength=component_count)
    edges = np.bincount(component[left[positive]], minlength=component_count)
    needs_care = edges != sizes * (sizes - 1) // 2
    cannot = cannot[component[cannot[:, 0]] == component[cannot[:, 1]]]
    needs_care[component[must[:, 0]]] = True
    needs_care[component[cannot[:, 0]]] = True
    for codes in constraints.identities:
        needs_care |= _conflicting(component, codes)
    if constraints.unique_source is not None:
        unique = constraints.unique_source
        counted = unique >= 0
        pairs = distinct(component[counted].astype(np.int64) * (int(unique.max()) + 1) + unique[counted])
        records_counted = np.bincount(component[counted], minlength=component_count)
        needs_care |= records_counted > np.bincount(
            pairs // (int(unique.max()) + 1), minlength=component_count
        )
    labels = component.copy()
    careful = needs_care[component]
    if careful.any():
        inside = careful[left] & careful[right] & (component[left] == component[right])
        order = np.argsort(-weight[inside], kind="stable")
        pair_left, pair_right, pair_weight = left[inside][order], right[inside][order], weight[inside][order]
        state = _Clusters(np.flatnonzero(careful), constraints)
        for a, b, w in zip(pair_left.tolist(), pair_right.tolist(), pair_weight.tolist(), strict=True):
            state.add_pair(a, b, w)
        for a, b in must.tolist():
            state.force_merge(a, b)
        for a, b in cannot.tolist():
            state.keep_apart(a, b)
        for a, b, w in zip(pair_left.tolist(), pair_right.tolist(), pair_weight.tolist(), strict=True):
            if w <= 0:
                break
            state.try_merge(a, b)
        careful_records = np.flatnonzero(careful)
        roots = np.array([state.find(int(r)) for r in careful_records])
        labels[careful_records] = component_count + roots
    return factorize(labels)[0]
