"""The alerts scorer: precision, recall and F1 per kind over (kind, source, record_id)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.score_alerts import main, score


def test_scores_per_kind() -> None:
    truth = {("a", "civil", "C1"), ("a", "civil", "C2"), ("b", "grid", "G1")}
    predicted = {("a", "civil", "C1"), ("a", "grid", "C2"), ("c", "civil", "C9")}
    scores = {s.kind: s for s in score(truth, predicted)}
    assert (scores["a"].precision, scores["a"].recall) == (0.5, 0.5), "the source is part of the key"
    assert scores["b"].recall == 0.0 and scores["c"].precision == 0.0


def test_goal_sets_the_exit_code(tmp_path: Path) -> None:
    truth, predicted = tmp_path / "truth.csv", tmp_path / "alerts.csv"
    truth.write_text("kind,source,record_id\na,civil,C1\na,civil,C2\n", encoding="utf-8")
    predicted.write_text("kind,source,record_id,person_id,detail\na,civil,C1,P1,x\n", encoding="utf-8")
    assert main([str(truth), str(predicted)]) == 0
    assert main([str(truth), str(predicted), "--min-recall", "0.9"]) == 1
