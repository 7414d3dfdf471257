"""Steward decisions (same person / not the same) turned into must-link and cannot-link pairs.

A steward's "same" outranks everything the engine knows, even two different valid ID numbers (one
of them is mistyped), so must-links are applied first. A "not the same" that a chain of "same"
decisions contradicts cannot be honoured; it is reported back with a reason so the steward can fix
the decisions, and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dedup.ids import member_keys
from hub_errors import ConfigError

DECISION_COLUMNS = ["left_source", "left_record_id", "right_source", "right_record_id", "same"]
UNHONOURED_COLUMNS = [*DECISION_COLUMNS, "reason"]
CONTRADICTED_REASON = "与“同一人”决定矛盾：这两条记录已经由其他“同一人”决定连在一起，请复核这些决定"
SELF_REASON = "同一条记录不能判定为“不是同一人”，请复核该决定"
_TRUE_TEXT = frozenset({"true", "1", "yes", "y", "t"})
_FALSE_TEXT = frozenset({"false", "0", "no", "n", "f"})


@dataclass(frozen=True)
class DecisionPairs:
    """Decisions as record positions. must/cannot: (k, 2) int64 arrays of honourable pairs."""

    must_link: np.ndarray
    cannot_link: np.ndarray
    unhonoured: pd.DataFrame
    ignored: int


def no_decisions() -> DecisionPairs:
    """The empty set of decisions, for runs without any."""
    empty = np.empty((0, 2), dtype=np.int64)
    return DecisionPairs(empty, empty, pd.DataFrame(columns=UNHONOURED_COLUMNS), 0)


def _same_flags(values: pd.Series) -> np.ndarray:
    """The `same` column as booleans; decisions often arrive from CSV or a sheet as text."""
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=bool)
    text = values.astype("string").str.strip().str.lower()
    flags = text.isin(_TRUE_TEXT).to_numpy(dtype=bool)
    unreadable = np.flatnonzero(~flags & ~text.isin(_FALSE_TEXT).to_numpy(dtype=bool))
    if len(unreadable):
        row = int(unreadable[0])
        raise ConfigError(
            f"steward decisions, row {row + 1}: column 'same' holds {values.iloc[row]!r}; "
            "write true (same person) or false (not the same)"
        )
    return flags


def _positions(lookup: pd.Series, sources: pd.Series, record_ids: pd.Series) -> np.ndarray:
    """Position of each (source, record_id) among the records, -1 when absent."""
    wanted = member_keys(sources, record_ids)
    return lookup.reindex(wanted).fillna(-1).to_numpy(dtype=np.int64)


def resolve_decisions(decisions: pd.DataFrame | None, sources: pd.Series, record_ids: pd.Series) -> DecisionPairs:
    """Map decisions onto the records (by source and record_id) and sort out contradictions.

    Decisions naming a record that is not among the records are ignored and counted.
    """
    if decisions is None or decisions.empty:
        return no_decisions()
    missing = [column for column in DECISION_COLUMNS if column not in decisions.columns]
    if missing:
        raise ConfigError(f"steward decisions lack the column(s) {', '.join(missing)}; expected {DECISION_COLUMNS}")
    table = decisions[DECISION_COLUMNS].reset_index(drop=True)
    same = _same_flags(table["same"])
    keys = member_keys(sources, record_ids)
    lookup = pd.Series(np.arange(len(keys)), index=keys)
    lookup = lookup[~lookup.index.duplicated()]
    left = _positions(lookup, table["left_source"], table["left_record_id"])
    right = _positions(lookup, table["right_source"], table["right_record_id"])
    present = (left >= 0) & (right >= 0)
    must = present & same & (left != right)
    n = len(keys)
    graph = coo_matrix((np.ones(int(must.sum())), (left[must], right[must])), shape=(n, n))
    group = connected_components(graph, directed=False)[1]
    cannot = present & ~same
    contradicted = cannot & (left != right) & (group[np.maximum(left, 0)] == group[np.maximum(right, 0)])
    itself = cannot & (left == right)
    unhonoured = table[contradicted | itself].copy()
    unhonoured["same"] = False
    unhonoured["reason"] = np.where(itself[contradicted | itself], SELF_REASON, CONTRADICTED_REASON)
    honoured = cannot & ~contradicted & ~itself
    return DecisionPairs(
        must_link=np.column_stack([left[must], right[must]]).astype(np.int64),
        cannot_link=np.column_stack([left[honoured], right[honoured]]).astype(np.int64),
        unhonoured=unhonoured.reset_index(drop=True)[UNHONOURED_COLUMNS],
        ignored=int((~present).sum()),
    )
