"""The steward's review list: uncertain pairs with each field's contribution."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dedup import RESIDENT_FIELDS, link
from pipelines.assets.resolved import REVIEW_BAND, uncertain_pairs
from schemas.standardize import standardize


def standardized(bench: Path) -> pd.DataFrame:
    frames = []
    files = {"grid": "grid_residents.csv", "health": "health_records.csv", "civil": "civil_affairs.csv"}
    for source, name in files.items():
        raw = pd.read_csv(bench / name, dtype=str, keep_default_na=False)
        frames.append(standardize("residents", source, raw).accepted)
    return pd.concat(frames, ignore_index=True)


def test_review_lists_only_uncertain_pairs_with_every_fields_contribution(bench_small: Path) -> None:
    result = link(standardized(bench_small), RESIDENT_FIELDS)
    review = uncertain_pairs(result, limit=50)
    low, high = REVIEW_BAND
    in_band = result.pairs["probability"].between(low, high).sum()
    assert len(review) == min(50, in_band)
    assert review["probability"].between(low, high).all()
    for text in review["contributions"]:
        assert all(field in text for field in RESIDENT_FIELDS)
    clusters = result.clusters.set_index(["source", "record_id"])["cluster_id"]
    for row in review.itertuples():
        same = clusters[(row.left_source, row.left_record_id)] == clusters[(row.right_source, row.right_record_id)]
        assert row.merged == same


def test_model_check_passes_on_the_bench_and_fails_with_error_on_households(bench_small: Path) -> None:
    import copy

    import dagster as dg

    from dedup.presets import RESIDENT_VALIDITY
    from pipelines.assets.resolved import model_check_result

    records = standardized(bench_small)
    result = link(records, RESIDENT_FIELDS, validity=RESIDENT_VALIDITY)
    sound = model_check_result(result)
    assert sound.passed and sound.severity == dg.AssetCheckSeverity.ERROR
    chained = copy.copy(result)
    chained.clusters = result.clusters.assign(cluster_id=records["address_canonical"].fillna("").to_numpy())
    failed = model_check_result(chained)
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert "household_clusters" in str(failed.metadata["warnings"])
