"""`link`: the whole matching run over any table of records and a field spec."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dedup import kinds as event_kinds
from dedup.blocking import candidate_pairs
from dedup.check import ModelWarning, check_model, weight_table
from dedup.cluster import Constraints, cluster
from dedup.compare import LEVEL_LABELS, MISSING, compare, compare_started
from dedup.decisions import UNHONOURED_COLUMNS, resolve_decisions
from dedup.identity import identity_codes, mark_contradicting_ids
from dedup.ids import stable_ids
from dedup.model import Model, fit_match_share, record_order, train
from dedup.prepare import PreparedField, prepare

DEFAULT_MAX_BLOCK = 50


@dataclass(frozen=True)
class PairExplanation:
    """Why a pair scores as it does: each field's level and weight, the prior, the total."""

    fields: pd.DataFrame
    prior: float
    total: float
    probability: float
    same_cluster: bool


@dataclass
class LinkResult:
    """Clusters plus everything needed to explain them (model, prepared values, scored pairs).

    unhonoured_decisions: the steward's "not the same" decisions that "same" decisions contradict
    (columns of dedup.decisions.UNHONOURED_COLUMNS, reason in Chinese); ignored_decisions: how many
    decisions named a record that is not in the input.
    """

    clusters: pd.DataFrame
    pairs: pd.DataFrame
    model: Model
    prepared: list[PreparedField] = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    unhonoured_decisions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNHONOURED_COLUMNS))
    ignored_decisions: int = 0

    def check(self) -> list[ModelWarning]:
        """Warnings when the weights or the clusters look implausible (dedup.check)."""
        pairs = (self.pairs["left"].to_numpy(), self.pairs["right"].to_numpy(), self.pairs["weight"].to_numpy())
        return check_model(self.model, self.prepared, self.clusters["cluster_id"].to_numpy(), pairs)

    def weight_lines(self) -> list[str]:
        """The learned weights per field and level, for printing."""
        return weight_table(self.model, self.prepared)

    def _position(self, record: tuple[str, str] | int) -> int:
        if isinstance(record, int | np.integer):
            return int(record)
        source, record_id = record
        hits = np.flatnonzero(
            (self.clusters["source"].astype(str).to_numpy() == str(source))
            & (self.clusters["record_id"].astype(str).to_numpy() == str(record_id))
        )
        if len(hits) == 0:
            raise KeyError(f"no record {record_id!r} from source {source!r}")
        return int(hits[0])

    def field_contributions(self, left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
        """Many pairs at once: one row per pair, per field its level and weight (``<field>_level``,
        ``<field>_weight``), plus ``total`` and ``probability``. Same figures as :meth:`explain`."""
        left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
        levels = compare(self.prepared, left, right)
        contributions = self.model.contributions(self.prepared, levels, left)
        columns: dict[str, object] = {}
        for column, data in enumerate(self.prepared):
            labels = np.asarray(LEVEL_LABELS[data.kind], dtype=object)
            level = levels[:, column]
            columns[f"{data.name}_level"] = np.where(level == MISSING, "missing", labels[np.maximum(level, 0)])
            columns[f"{data.name}_weight"] = contributions[:, column]
        total = self.model.prior_weight + contributions.sum(axis=1)
        return pd.DataFrame({**columns, "total": total, "probability": 1.0 / (1.0 + 2.0 ** (-total))})

    def explain(self, a: tuple[str, str] | int, b: tuple[str, str] | int) -> PairExplanation:
        """Each field's contribution to the match weight of records a and b (any two records)."""
        i, j = self._position(a), self._position(b)
        left, right = np.array([i]), np.array([j])
        levels = compare(self.prepared, left, right)
        contributions = self.model.contributions(self.prepared, levels, left)[0]
        rows = []
        for column, data in enumerate(self.prepared):
            level = int(levels[0, column])
            rows.append(
                {
                    "field": data.name,
                    "kind": data.kind,
                    "left": data.value_of(i),
                    "right": data.value_of(j),
                    "level": "missing" if level == MISSING else LEVEL_LABELS[data.kind][level],
                    "weight": float(contributions[column]),
                }
            )
        prior = self.model.prior_weight
        total = prior + float(contributions.sum())
        cluster_ids = self.clusters["cluster_id"].to_numpy()
        return PairExplanation(
            fields=pd.DataFrame(rows),
            prior=prior,
            total=total,
            probability=float(1.0 / (1.0 + 2.0 ** (-total))),
            same_cluster=bool(cluster_ids[i] == cluster_ids[j]),
        )


def link(
    records: pd.DataFrame,
    fields: Mapping[str, str],
    *,
    source_col: str = "source",
    id_col: str = "record_id",
    unique_sources: Iterable[str] = (),
    max_block: int = DEFAULT_MAX_BLOCK,
    decisions: pd.DataFrame | None = None,
    validity: Mapping[str, str] | None = None,
) -> LinkResult:
    """Find the records of one entity across and within sources, without labels.

    fields maps column -> kind (see dedup.prepare.KINDS). unique_sources names sources that hold
    each entity at most once (two of their records never merge). decisions are a steward's verdicts
    on pairs (dedup.decisions.DECISION_COLUMNS): "same" always joins the two records, "not the
    same" keeps them apart unless "same" decisions join them; the model is trained without them.
    validity maps a field to a column of upstream verdicts on its value (dedup.prepare.prepare).
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    frame = records.reset_index(drop=True)
    prepared = mark_contradicting_ids(prepare(frame, fields, validity))
    timings["prepare"] = time.perf_counter() - started

    mark = time.perf_counter()
    left, right = candidate_pairs(prepared, max_block)
    timings["blocking"] = time.perf_counter() - mark

    # Training needs no candidate levels: it runs while the candidates are compared (in workers when
    # they are many), so the two stages' timings overlap.
    mark = time.perf_counter()
    compared = compare_started(prepared, left, right)
    train_mark = time.perf_counter()
    sources = frame[source_col].astype(str)
    identity = pd.util.hash_pandas_object(pd.DataFrame({"s": sources, "r": frame[id_col].astype(str)}), index=False)
    model = train(prepared, record_order(identity.to_numpy()))
    trained = time.perf_counter() - train_mark
    levels = compared()
    ruled_out = event_kinds.ruled_out(prepared, levels)
    never = np.column_stack([left[ruled_out], right[ruled_out]])
    left, right, levels = left[~ruled_out], right[~ruled_out], levels[~ruled_out]
    timings["compare"] = time.perf_counter() - mark

    mark = time.perf_counter()
    weight = fit_match_share(model, prepared, levels, left)
    timings["train"] = trained + time.perf_counter() - mark

    mark = time.perf_counter()
    verdicts = resolve_decisions(decisions, sources, frame[id_col])
    unique = sorted(set(unique_sources))
    unique_codes = None
    if unique:
        unique_codes = np.where(sources.isin(unique), pd.factorize(sources)[0], -1)
    cannot_link = np.concatenate([verdicts.cannot_link, never]).astype(np.int64)
    constraints = Constraints(identity_codes(prepared), unique_codes, verdicts.must_link, cannot_link)
    labels = cluster(
        len(frame), left, right, weight, constraints, unscored_apart=event_kinds.has_time_windows(prepared)
    )
    clusters = pd.DataFrame(
        {
            "source": sources.to_numpy(),
            "record_id": frame[id_col].astype(str).to_numpy(),
            "cluster_id": stable_ids(sources, frame[id_col], labels) if len(frame) else np.empty(0, dtype=object),
        }
    )
    timings["cluster"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    pairs = pd.DataFrame(
        {"left": left, "right": right, "weight": weight, "probability": 1.0 / (1.0 + np.exp2(-weight))}
    )
    return LinkResult(clusters, pairs, model, prepared, timings, verdicts.unhonoured, verdicts.ignored)
