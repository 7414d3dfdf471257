"""Entity resolution: link records of one person across sources, build golden records, explain, evaluate."""

from dedup.decisions import DECISION_COLUMNS, UNHONOURED_COLUMNS
from dedup.engine import LinkResult, PairExplanation, link
from dedup.evaluate import PairwiseScores, pairwise_scores
from dedup.golden import build_golden
from dedup.presets import RESIDENT_FIELDS

evaluate = pairwise_scores

__all__ = [
    "DECISION_COLUMNS",
    "RESIDENT_FIELDS",
    "UNHONOURED_COLUMNS",
    "LinkResult",
    "PairExplanation",
    "PairwiseScores",
    "build_golden",
    "evaluate",
    "link",
    "pairwise_scores",
]
