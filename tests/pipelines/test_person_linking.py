"""Person linking per run: full or incremental, with its state kept in the warehouse beside the lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from dedup import RESIDENT_FIELDS, pairwise_scores
from hub_errors import ConfigError
from pipelines import person_linking
from pipelines.person_linking import FINGERPRINT_TABLE, link_persons
from pipelines.warehouse import Warehouse


@pytest.fixture
def residents(bench_small_residents: pd.DataFrame) -> pd.DataFrame:
    return bench_small_residents


def _history(store: Warehouse) -> pd.DataFrame:
    return store.read_table("person_id_history")


def _moved(residents: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
    """The next day: one health record now describes the person of a grid record it did not belong to."""
    day2 = residents.reset_index(drop=True).copy()
    grid = day2.index[day2["source"] == "grid"]
    health = day2.index[day2["source"] == "health"]
    target, mover = grid[0], health[len(health) // 2]
    for column in RESIDENT_FIELDS:
        day2.loc[mover, column] = day2.loc[target, column]
    return day2, str(day2.loc[mover, "record_id"]), str(day2.loc[target, "record_id"])


def _run_days(store: Warehouse, residents: pd.DataFrame) -> None:
    first = link_persons(store, residents, RESIDENT_FIELDS, "run-1", "incremental")
    assert first.mode == "full" and first.retrained, "nothing to build on: the first run links in full"
    assert store.latest_link_model() is not None and store.has_table(FINGERPRINT_TABLE)
    lineage_1 = store.read_table("person_lineage")

    day2, mover, target = _moved(residents)
    second = link_persons(store, day2, RESIDENT_FIELDS, "run-2", "incremental")
    assert second.mode == "incremental" and not second.retrained
    assert second.delta == {"edited": 1}
    assert 0 < second.affected_records < len(residents) / 10
    lineage_2 = store.read_table("person_lineage")
    ids_1 = lineage_1.set_index(["source", "record_id"])["person_id"]
    ids_2 = lineage_2.set_index(["source", "record_id"])["person_id"]
    assert ids_2[("health", mover)] == ids_2[("grid", target)] == ids_1[("grid", target)]
    moved = (ids_1 != ids_2.reindex(ids_1.index)).sum()
    assert 1 <= moved <= 3, "only the moved record (and a person it left behind) may change ids"
    events = _history(store)
    run2 = events[events["run_id"] == "run-2"]
    details = [json.loads(d) for d in run2["detail"]]
    assert any(ids_1[("health", mover)] in str(d.get("from_ids", "")) for d in details), (
        "the move is in the history, naming the person the record left"
    )
    stored = store.latest_link_model()
    assert stored is not None and stored["changed_records"] == 1 and stored["run_id"] == "run-1"

    full = link_persons(store, day2, RESIDENT_FIELDS, "run-3", "full")
    assert full.mode == "full" and full.retrained
    assert pairwise_scores(full.lineage, second.lineage).f1 > 0.99
    assert store.latest_link_model()["run_id"] == "run-3"  # type: ignore[index]


def test_incremental_run_relinks_the_change_and_full_rebuilds_sqlite(residents: pd.DataFrame, tmp_path: Path) -> None:
    _run_days(Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}"), residents)


def test_incremental_run_relinks_the_change_and_full_rebuilds_postgres(
    residents: pd.DataFrame, pg_schema: tuple[str, str]
) -> None:
    store = Warehouse(sa.create_engine(pg_schema[1]))
    try:
        _run_days(store, residents)
    finally:
        store.engine.dispose()


def test_drift_beyond_the_configured_share_retrains(
    residents: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    link_persons(store, residents, RESIDENT_FIELDS, "run-1", "incremental")
    config = tmp_path / "linking.yaml"
    config.write_text("retrain_when_changed_share: 0.001\n", encoding="utf-8")
    monkeypatch.setattr(person_linking, "LINKING_FILE", config)
    day2 = residents.iloc[: len(residents) - 5]
    again = link_persons(store, day2, RESIDENT_FIELDS, "run-2", "incremental")
    assert again.mode == "full" and again.retrained and "changed since the model was trained" in again.reason
    config.write_text("retrain_when_changed_share: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="retrain_when_changed_share"):
        link_persons(store, residents, RESIDENT_FIELDS, "run-3", "incremental")


def test_a_failure_while_saving_leaves_lineage_history_and_state_as_they_were(
    residents: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    link_persons(store, residents, RESIDENT_FIELDS, "run-1", "incremental")
    before = (store.read_table("person_lineage"), store.read_table(FINGERPRINT_TABLE), len(_history(store)))
    day2, _, _ = _moved(residents)

    def broken(conn: sa.Connection, model_id: int, changed: int) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Warehouse, "count_link_changes", staticmethod(broken))
    with pytest.raises(RuntimeError, match="disk full"):
        link_persons(store, day2, RESIDENT_FIELDS, "run-2", "incremental")
    pd.testing.assert_frame_equal(store.read_table("person_lineage"), before[0])
    pd.testing.assert_frame_equal(store.read_table(FINGERPRINT_TABLE), before[1])
    assert len(_history(store)) == before[2]
    assert store.latest_link_model()["changed_records"] == 0  # type: ignore[index]
