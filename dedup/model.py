"""Fellegi-Sunter weights learned without labels: m, u and the match share by EM.

EM runs on the distinct comparison patterns (a few hundred) weighted by their counts, so it costs
nothing next to comparing. Both m and u are learned on the candidate pairs: the non-matches the
blocking lets through (relatives sharing an address and phone, namesakes) are the ones the weights
must tell apart, so u is measured on them rather than on random pairs. Agreement on a value is
adjusted by how common the value is (term frequency), so 张伟 counts for less than a rare name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dedup import kinds as event_kinds
from dedup.arrays import factorize
from dedup.compare import LEVEL_LABELS, MISSING
from dedup.prepare import PreparedField

MAX_ITERATIONS = 200
TOLERANCE = 1e-7


@dataclass
class FieldWeights:
    """Learned probabilities of one field, per level (index 0 = exact)."""

    name: str
    kind: str
    m: np.ndarray
    u: np.ndarray
    tf_adjustment: np.ndarray = field(repr=False)

    @property
    def weights(self) -> np.ndarray:
        """Match weight (log2 Bayes factor) per level."""
        return np.log2(self.m / self.u)

    @property
    def labels(self) -> tuple[str, ...]:
        return LEVEL_LABELS[self.kind]


@dataclass
class Model:
    """The trained model: per-field weights and the prior match share among candidate pairs."""

    fields: list[FieldWeights]
    match_share: float
    iterations: int

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.match_share / (1.0 - self.match_share)))

    def contributions(
        self, prepared: list[PreparedField], levels: np.ndarray, left: np.ndarray
    ) -> np.ndarray:
        """Weight of each field for each pair (0 when a value is missing), tf-adjusted."""
        out = np.zeros(levels.shape, dtype=np.float64)
        for column, (weights, data) in enumerate(zip(self.fields, prepared, strict=True)):
            level = levels[:, column]
            present = level != MISSING
            out[present, column] = weights.weights[level[present]]
            exact = level == 0
            if exact.any():
                out[exact, column] += weights.tf_adjustment[data.codes[left[exact]]]
        return out

    def score(self, prepared: list[PreparedField], levels: np.ndarray, left: np.ndarray) -> np.ndarray:
        """Total match weight per pair: prior plus every field's contribution."""
        return self.prior_weight + self.contributions(prepared, levels, left).sum(axis=1)


def _tf_adjustment(data: PreparedField) -> np.ndarray:
    """log2 of (expected frequency of an agreed value / this value's frequency)."""
    total = data.counts.sum()
    if total == 0:
        return np.zeros(len(data.values))
    share = data.counts / total
    expected = float((share**2).sum())
    return np.log2(expected / np.maximum(share, 1.0 / total))


def _initial_probabilities(levels_count: int, agree_first: bool) -> np.ndarray:
    """Starting point only: matches mostly agree, non-matches mostly disagree."""
    steps = np.arange(1, levels_count + 1) if agree_first else np.arange(levels_count, 0, -1)
    probs = 0.5**steps
    return probs / probs.sum()


def train(prepared: list[PreparedField], levels: np.ndarray) -> Model:
    """EM over the distinct level patterns of the candidate pairs."""
    level_counts = [len(LEVEL_LABELS[f.kind]) for f in prepared]
    base = max(level_counts) + 1
    codes = np.zeros(len(levels), dtype=np.int64)
    for column in range(levels.shape[1]):
        codes = codes * base + (levels[:, column].astype(np.int64) + 1)
    inverse, distinct_codes = factorize(codes)
    counts = np.bincount(inverse, minlength=len(distinct_codes))
    first_index = np.zeros(len(distinct_codes), dtype=np.int64)
    first_index[inverse[::-1]] = np.arange(len(inverse))[::-1]
    patterns = levels[first_index]
    weights = counts.astype(np.float64)
    m = [_initial_probabilities(k, True) for k in level_counts]
    u = [_initial_probabilities(k, False) for k in level_counts]
    pseudo = [event_kinds.prior_pairs(f.kind, k) for f, k in zip(prepared, level_counts, strict=True)]
    share_matched, share_pairs = event_kinds.share_prior(prepared)
    share = 0.1
    iterations = 0
    while iterations < MAX_ITERATIONS and weights.sum() > 0:
        iterations += 1
        log_m = np.zeros(len(patterns))
        log_u = np.zeros(len(patterns))
        for column in range(len(prepared)):
            level = patterns[:, column]
            present = level != MISSING
            log_m[present] += np.log(m[column][level[present]])
            log_u[present] += np.log(u[column][level[present]])
        log_odds = np.log(share) - np.log1p(-share) + log_m - log_u
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        matched, unmatched = weights * posterior, weights * (1.0 - posterior)
        new_share = float(
            np.clip((matched.sum() + share_matched) / (weights.sum() + share_pairs), 1e-9, 1 - 1e-9)
        )
        change = abs(new_share - share)
        for column, k in enumerate(level_counts):
            level = patterns[:, column]
            # pseudo-pairs (one per level, or an event kind's prior) keep a level never seen in one
            # class from weighing infinitely
            new_m = np.bincount(level[level != MISSING], matched[level != MISSING], minlength=k) + pseudo[column][0]
            new_u = np.bincount(level[level != MISSING], unmatched[level != MISSING], minlength=k) + pseudo[column][1]
            new_m, new_u = new_m / new_m.sum(), new_u / new_u.sum()
            moved = max(float(np.abs(new_m - m[column]).max()), float(np.abs(new_u - u[column]).max()))
            change = max(change, moved)
            m[column], u[column] = new_m, new_u
        share = new_share
        if change < TOLERANCE:
            break
    fields = [FieldWeights(f.name, f.kind, m[c], u[c], _tf_adjustment(f)) for c, f in enumerate(prepared)]
    return Model(fields, share, iterations)
