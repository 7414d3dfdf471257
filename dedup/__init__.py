"""Entity resolution: link records of one person across sources, build golden records, explain, evaluate."""

from dedup.decisions import DECISION_COLUMNS, UNHONOURED_COLUMNS
from dedup.engine import LinkResult, PairExplanation, link
from dedup.evaluate import PairwiseScores, pairwise_scores
from dedup.golden import build_golden
from dedup.presets import RESIDENT_FIELDS
from dedup.stable_ids import CHANGE_COLUMNS, StableIds, carry_forward

evaluate = pairwise_scores

__all__ = [
    "CHANGE_COLUMNS",
    "DECISION_COLUMNS",
    "RESIDENT_FIELDS",
    "UNHONOURED_COLUMNS",
    "LinkResult",
    "PairExplanation",
    "PairwiseScores",
    "StableIds",
    "build_golden",
    "carry_forward",
    "evaluate",
    "link",
    "pairwise_scores",
]
