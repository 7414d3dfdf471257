"""Fellegi-Sunter weights learned by EM over comparison vectors (no labels, no hand-set weights).

Each candidate pair carries one ordinal level per comparison (0 = strongest agreement, -1 = a value
is missing, which counts neither way). EM fits the match share and the per-level probabilities among
matches (m) and non-matches (u). A weak Dirichlet prior (agreement likelier among matches) keeps the
fit sane when there are only a handful of pairs; with real volumes the data outweighs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING = -1


@dataclass(frozen=True)
class Comparison:
    """One compared aspect of a pair, its ordinal levels (best first) and the belief before data.

    prior_m / prior_u: level probabilities among matches / non-matches that a reviewer would state
    before seeing any data; EM starts there and the data outweighs them as soon as it is plentiful.
    Left empty, matches lean to the first levels and non-matches to the last ones.
    """

    name: str
    levels: tuple[str, ...]
    prior_m: tuple[float, ...] = ()
    prior_u: tuple[float, ...] = ()

    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        if self.prior_m and self.prior_u:
            m, u = np.asarray(self.prior_m, dtype=float), np.asarray(self.prior_u, dtype=float)
            if len(m) != len(self.levels) or len(u) != len(self.levels):
                raise ValueError(f"comparison {self.name}: one prior probability per level")
            return m / m.sum(), u / u.sum()
        return _ordinal_prior(len(self.levels))


@dataclass
class FellegiSunterModel:
    """Learned match share and m/u probabilities; scores pairs as match probabilities."""

    comparisons: tuple[Comparison, ...]
    match_share: float
    m: list[np.ndarray]
    u: list[np.ndarray]
    iterations: int

    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per level: what agreeing (or not) at that level says about a match."""
        return [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]

    def match_weight(self, levels: np.ndarray) -> np.ndarray:
        """Total log2 odds of a match for each row of levels (prior odds included)."""
        total = np.full(levels.shape[0], np.log2(self.match_share / (1.0 - self.match_share)))
        for k, weights in enumerate(self.level_weights()):
            column = levels[:, k]
            seen = column != MISSING
            total[seen] += weights[column[seen]]
        return total

    def predict(self, levels: np.ndarray) -> np.ndarray:
        """Posterior match probability of each pair."""
        return 1.0 / (1.0 + np.exp2(-self.match_weight(levels)))

    def weights_table(self) -> pd.DataFrame:
        """Readable table of what was learned, for stewards and explanations."""
        rows = []
        for comp, m, u, w in zip(self.comparisons, self.m, self.u, self.level_weights(), strict=True):
            for name, m_l, u_l, w_l in zip(comp.levels, m, u, w, strict=True):
                rows.append({"comparison": comp.name, "level": name, "m": m_l, "u": u_l, "weight": w_l})
        return pd.DataFrame(rows, columns=["comparison", "level", "m", "u", "weight"])


def _ordinal_prior(n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal prior: matches lean to the first levels, non-matches to the last ones."""
    rank = np.arange(n_levels, dtype=float)
    m_shape = (n_levels - rank) ** 2
    u_shape = (rank + 1.0) ** 2
    return m_shape / m_shape.sum(), u_shape / u_shape.sum()


def _level_counts(column: np.ndarray, weight: np.ndarray, n_levels: int) -> np.ndarray:
    seen = column != MISSING
    return np.bincount(column[seen], weights=weight[seen], minlength=n_levels)


def fit_em(
    levels: np.ndarray,
    comparisons: tuple[Comparison, ...],
    *,
    prior_strength: float = 10.0,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> FellegiSunterModel:
    """Fit match share, m and u on unlabeled comparison levels (rows = pairs, columns = comparisons)."""
    if levels.ndim != 2 or levels.shape[1] != len(comparisons):
        raise ValueError("levels must have one column per comparison")
    priors = [c.prior() for c in comparisons]
    m = [p[0].copy() for p in priors]
    u = [p[1].copy() for p in priors]
    share = 0.5
    model = FellegiSunterModel(comparisons, share, m, u, 0)
    if levels.shape[0] == 0:
        return model
    # EM sees each distinct level pattern once, weighted by how many pairs show it.
    levels, counts = np.unique(levels, axis=0, return_counts=True)
    counts = counts.astype(float)
    for iteration in range(1, max_iterations + 1):
        prob = model.predict(levels)
        matched, unmatched = counts * prob, counts * (1.0 - prob)
        new_share = float(np.clip((matched.sum() + 1.0) / (counts.sum() + 2.0), 1e-4, 1.0 - 1e-4))
        new_m, new_u = [], []
        for k, comp in enumerate(comparisons):
            n = len(comp.levels)
            m_counts = _level_counts(levels[:, k], matched, n) + prior_strength * priors[k][0]
            u_counts = _level_counts(levels[:, k], unmatched, n) + prior_strength * priors[k][1]
            new_m.append(m_counts / m_counts.sum())
            new_u.append(u_counts / u_counts.sum())
        change = max(
            abs(new_share - model.match_share),
            *(float(np.abs(a - b).max()) for a, b in zip(new_m + new_u, model.m + model.u, strict=True)),
        )
        model = FellegiSunterModel(comparisons, new_share, new_m, new_u, iteration)
        if change < tolerance:
            break
    return model
