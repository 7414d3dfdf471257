"""EM over comparison vectors recovers what separates matches from non-matches, without labels."""

from __future__ import annotations

import numpy as np

from dedup.incident_model import MISSING, Comparison, fit_em

COMPARISONS = (
    Comparison("place", ("same", "near", "far")),
    Comparison("time", ("close", "apart")),
    Comparison("text", ("alike", "unlike")),
)
TRUE_M = ([0.8, 0.15, 0.05], [0.9, 0.1], [0.7, 0.3])
TRUE_U = ([0.1, 0.3, 0.6], [0.2, 0.8], [0.1, 0.9])


def _sample(rng: np.random.Generator, n: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    is_match = rng.random(n) < share
    columns = []
    for m, u in zip(TRUE_M, TRUE_U, strict=True):
        from_m = rng.choice(len(m), size=n, p=m)
        from_u = rng.choice(len(u), size=n, p=u)
        columns.append(np.where(is_match, from_m, from_u))
    levels = np.stack(columns, axis=1)
    levels[rng.random(levels.shape) < 0.05] = MISSING
    return levels, is_match


def test_em_learns_match_share_and_level_probabilities_from_unlabeled_pairs() -> None:
    levels, is_match = _sample(np.random.default_rng(11), 20_000, 0.3)
    model = fit_em(levels, COMPARISONS)
    assert abs(model.match_share - 0.3) < 0.03
    for learned, true in zip(model.m, TRUE_M, strict=True):
        assert np.allclose(learned, true, atol=0.05)
    predicted = model.predict(levels) >= 0.5
    assert (predicted == is_match).mean() > 0.9


def test_em_on_no_pairs_keeps_the_prior_and_scores_nothing() -> None:
    model = fit_em(np.empty((0, 3), dtype=np.int64), COMPARISONS)
    assert model.iterations == 0
    assert model.predict(np.empty((0, 3), dtype=np.int64)).shape == (0,)
    assert (model.weights_table()["weight"].to_numpy()[[0, 3, 5]] > 0).all()
