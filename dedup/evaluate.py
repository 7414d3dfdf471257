"""Pairwise precision, recall and F1 of predicted clusters against a truth mapping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PairwiseScores:
    """Counts of record pairs put together by truth, by prediction and by both."""

    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def _pairs_within(labels: np.ndarray) -> int:
    sizes = np.bincount(pd.factorize(labels)[0]).astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(truth: pd.DataFrame, predicted: pd.DataFrame) -> PairwiseScores:
    """Both frames: source, record id, cluster/entity id as their first three columns.

    Records absent from `predicted` count as singletons; records absent from `truth` are ignored.
    Counting works on cluster sizes, never on enumerated pairs, so it scales to millions of records.
    """
    truth = truth.iloc[:, :3].astype(str).set_axis(["source", "record_id", "entity"], axis=1)
    predicted = predicted.iloc[:, :3].astype(str).set_axis(["source", "record_id", "cluster"], axis=1)
    merged = truth.merge(predicted, on=["source", "record_id"], how="left")
    missing = merged["cluster"].isna()
    alone = merged.loc[missing]
    merged.loc[missing, "cluster"] = "\x00singleton:" + alone["source"] + "\x1f" + alone["record_id"]
    entity = pd.factorize(merged["entity"])[0]
    cluster = pd.factorize(merged["cluster"])[0]
    true_pairs = _pairs_within(entity)
    predicted_pairs = _pairs_within(cluster)
    correct = _pairs_within(entity.astype(np.int64) * (cluster.max() + 1) + cluster)
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(precision, recall, f1, true_pairs, predicted_pairs, correct)
