"""Is the learned model about persons? Plausibility checks on the weights and on the clusters.

Unsupervised training can settle on the wrong notion of "same": on census-style data EM has
learned "same household", giving agreement on the given name a negative weight and a different
social security number almost none, and chaining whole families into one cluster. These checks
read only the model and the clusters (no labels) and return warnings a steward can act on; the
pipeline fails its asset check on them and `hub link` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedup.arrays import factorize
from dedup.compare import LEVEL_LABELS, MISSING, compare_field
from dedup.model import FAMILY_FIELD_SHARE, Model
from dedup.prepare import PreparedField

# A different value of an identifier must count clearly against a match (log2 Bayes factor).
IDENTIFIER_DISAGREEMENT_MAX = -3.0
IDENTIFIER_KINDS = ("identifier", "cn_id")
# A cluster looks like a household when a name or birth date field holds, besides its most common
# value, at least two other values that contradict it (not a typo of it).
HOUSEHOLD_CONTRADICTING_VALUES = 2
HOUSEHOLD_CLUSTERS_MIN = 2
HOUSEHOLD_CLUSTERS_SHARE = 0.01
CLUSTER_CHECK_KINDS = ("name", "date")
# Contested matches: more than CONTESTED_SHARE of the candidate pairs' summed match probability
# lies between clusters (checked once the model expects at least CONTESTED_MIN_MATCHES matches).
CONTESTED_SHARE = 0.15
CONTESTED_MIN_MATCHES = 20.0
# From which level on a value contradicts another (dates: a different day beyond a slip of the pen;
# other kinds: the last level, "different").
CONTRADICTING_LEVEL = {"date": 2}


@dataclass(frozen=True)
class ModelWarning:
    """One implausibility: a code for tools, the field concerned, a message for stewards (Chinese)."""

    code: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return self.message


def check_weights(model: Model, prepared: list[PreparedField]) -> list[ModelWarning]:
    """Agreement that weighs against a match, identifiers whose disagreement barely counts, and
    weights that rise as agreement gets worse. Fields without any value are skipped."""
    warnings = []
    for weights, data in zip(model.fields, prepared, strict=True):
        if not (data.codes >= 0).any():
            continue
        levels = weights.weights
        if levels[0] <= 0:
            warnings.append(
                ModelWarning(
                    "agreement_against",
                    data.name,
                    f"字段 {data.name} 完全一致时权重为 {levels[0]:+.2f}（应为正）："
                    "模型可能学到的是“同一户”而不是“同一人”",
                )
            )
        if data.kind in IDENTIFIER_KINDS and levels[-1] > IDENTIFIER_DISAGREEMENT_MAX:
            warnings.append(
                ModelWarning(
                    "identifier_disagreement_weak",
                    data.name,
                    f"标识字段 {data.name} 不一致时权重仅 {levels[-1]:+.2f}（应明显为负）：号码不同几乎不构成反证，"
                    "家庭成员可能被并成一人",
                )
            )
        rises = np.flatnonzero(np.diff(levels) > 1e-9)
        if len(rises):
            better, worse = weights.labels[rises[0]], weights.labels[rises[0] + 1]
            warnings.append(
                ModelWarning(
                    "not_monotone",
                    data.name,
                    f"字段 {data.name} 的权重不单调：“{worse}” {levels[rises[0] + 1]:+.2f} 高于更一致的“{better}” "
                    f"{levels[rises[0]]:+.2f}",
                )
            )
    return warnings


def _contradicting_values(data: PreparedField, labels: np.ndarray, multi: np.ndarray) -> np.ndarray:
    """Per cluster label: how many distinct values of the field contradict the cluster's most common one."""
    records = np.flatnonzero(multi & (data.codes >= 0))
    found = np.zeros(int(labels.max()) + 1 if len(labels) else 0, dtype=np.int64)
    if len(records) == 0:
        return found
    cluster, code = labels[records], data.codes[records].astype(np.int64)
    width = int(code.max()) + 1
    pair_codes, pairs = factorize(cluster * width + code)
    sizes = np.bincount(pair_codes, minlength=len(pairs))
    pair_cluster, pair_value = pairs // width, pairs % width
    order = np.lexsort((-sizes, pair_cluster))
    first = order[np.r_[True, pair_cluster[order][1:] != pair_cluster[order][:-1]]]
    mode_value = np.full(len(found), -1, dtype=np.int64)
    mode_value[pair_cluster[first]] = pair_value[first]
    representative = np.full(int(code.max()) + 1, -1, dtype=np.int64)
    representative[code] = records
    others = np.flatnonzero(pair_value != mode_value[pair_cluster])
    if len(others) == 0:
        return found
    left = representative[pair_value[others]]
    right = representative[mode_value[pair_cluster[others]]]
    level = compare_field(data, left, right)
    contradicting = (level != MISSING) & (level >= CONTRADICTING_LEVEL.get(data.kind, len(LEVEL_LABELS[data.kind]) - 1))
    np.add.at(found, pair_cluster[others][contradicting], 1)
    return found


def check_clusters(
    prepared: list[PreparedField], labels: np.ndarray, family_columns: frozenset[int] = frozenset()
) -> list[ModelWarning]:
    """Clusters that hold several people: many mutually contradicting names or birth dates.

    family_columns are fields a household shares (a family name, which also changes at marriage):
    their contradictions say nothing about households and are not counted."""
    labels = factorize(np.asarray(labels))[0] if len(labels) else np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return []
    sizes = np.bincount(labels)
    multi = sizes[labels] > 1
    multi_clusters = int((sizes > 1).sum())
    warnings = []
    for column, data in enumerate(prepared):
        if data.kind not in CLUSTER_CHECK_KINDS or column in family_columns:
            continue
        households = int((_contradicting_values(data, labels, multi) >= HOUSEHOLD_CONTRADICTING_VALUES).sum())
        if households >= HOUSEHOLD_CLUSTERS_MIN and households >= HOUSEHOLD_CLUSTERS_SHARE * multi_clusters:
            warnings.append(
                ModelWarning(
                    "household_clusters",
                    data.name,
                    f"{households} 个合并结果（占多记录结果的 {households / max(multi_clusters, 1):.1%}）含三个以上"
                    f"相互矛盾的 {data.name}：像是把一户人家并成了一个人",
                )
            )
    return warnings


def family_columns(model: Model) -> frozenset[int]:
    """Name fields that many members of a household share (by the model's household u): family names."""
    return frozenset(
        column
        for column, weights in enumerate(model.fields)
        if weights.kind == "name" and weights.u_household is not None and weights.u_household[0] >= FAMILY_FIELD_SHARE
    )


def contested_matches(
    labels: np.ndarray, left: np.ndarray, right: np.ndarray, weight: np.ndarray
) -> list[ModelWarning]:
    """Matches the model expects but the clusters cannot hold: when records chain across relatives
    (A like B, B like C, A unlike C), much of the pairs' match probability falls between clusters."""
    if len(left) == 0:
        return []
    labels = factorize(np.asarray(labels))[0]
    probability = 1.0 / (1.0 + np.exp2(-np.asarray(weight, dtype=np.float64)))
    total = float(probability.sum())
    between = float(probability[labels[left] != labels[right]].sum())
    if total < CONTESTED_MIN_MATCHES or between <= CONTESTED_SHARE * total:
        return []
    return [
        ModelWarning(
            "contested_matches",
            None,
            f"模型预期的同一人记录对中有 {between / total:.0%} 被分在不同结果里（链式关联相互矛盾）："
            "记录在亲属之间成链，现有字段分不清同户成员",
        )
    ]


def check_model(
    model: Model,
    prepared: list[PreparedField],
    labels: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[ModelWarning]:
    """Every check: the weights, then the clusters (pairs: left, right, weight of the scored pairs)."""
    warnings = check_weights(model, prepared) + check_clusters(prepared, labels, family_columns(model))
    if pairs is not None:
        warnings += contested_matches(labels, *pairs)
    return warnings


def weight_table(model: Model, prepared: list[PreparedField]) -> list[str]:
    """The learned weights, one line per field: each level's log2 Bayes factor."""
    lines = [f"prior (match share among all pairs) {model.prior_weight:+.2f}"]
    for weights, data in zip(model.fields, prepared, strict=True):
        if not (data.codes >= 0).any():
            lines.append(f"{data.name} ({data.kind}): no values")
            continue
        levels = ", ".join(f"{label} {w:+.2f}" for label, w in zip(weights.labels, weights.weights, strict=True))
        lines.append(f"{data.name} ({data.kind}): {levels}")
    if model.household_columns:
        shared = "/".join(prepared[c].name for c in model.household_columns)
        lines.append(f"sharing {shared} (counted once) {model.household_weight:+.2f}; then, within the household:")
        for weights, data in zip(model.fields, prepared, strict=True):
            if (data.codes >= 0).any():
                within = ", ".join(
                    f"{label} {w:+.2f}" for label, w in zip(weights.labels, weights.household_weights, strict=True)
                )
                lines.append(f"  {data.name}: {within}")
    return lines
