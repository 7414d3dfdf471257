"""A daily run's std table: only the delta is written, and the database tells where the table and the
current state disagree (a record the table lost, one it holds that the sources deleted)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipelines.assets.standardized import write_current_table
from pipelines.current_state import ACCEPTED, DELTA_COLUMNS, source_records
from pipelines.warehouse import Warehouse


def record(source: str, record_id: str, name: str) -> dict[str, str]:
    return {"source": source, "record_id": record_id, "name": name}


def hold_current(store: Warehouse, records: list[dict[str, str]]) -> None:
    """The current state holds ``records`` as accepted (as a committed pull leaves them)."""
    with store.engine.begin() as conn:
        conn.execute(
            source_records.insert(),
            [
                {
                    "dataset": "residents",
                    "source": item["source"],
                    "record_id": item["record_id"],
                    "accepted": True,
                    "record": json.dumps(item, ensure_ascii=False),
                    "raw_hash": "h",
                    "updated_at": None,
                    "change_seq": 1,
                    "base": ACCEPTED,
                }
                for item in records
            ],
        )


def test_a_daily_write_repairs_what_the_table_lost_or_kept_and_tells_the_current_count(tmp_path: Path) -> None:
    store = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    current = [record("grid", "G1", "张伟"), record("grid", "G2", "李娜"), record("health", "7", "王芳")]
    hold_current(store, current)
    # the table lacks G2 and still holds G9, which no source holds any more
    held = pd.DataFrame([current[0], current[2], record("grid", "G9", "赵六")])
    store.write_table("std_residents", held, "run-1")
    assert store.state.drift("residents", "std_residents")[2] == 3

    no_changes = pd.DataFrame(columns=DELTA_COLUMNS)
    rows_now, rows_written, written = write_current_table(
        store, "residents", ["grid", "health"], ["source", "record_id", "name"], no_changes, "run-2", rebuild=False
    )

    table = store.read_table("std_residents").sort_values(["source", "record_id"]).reset_index(drop=True)
    expected = pd.DataFrame(current).sort_values(["source", "record_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(table[expected.columns], expected)
    assert rows_now == 3 and rows_written == 1
    assert written["record_id"].tolist() == ["G2"], "only the record the table lacked is written"
    only_held, only_now, _ = store.state.drift("residents", "std_residents")
    assert only_held.empty and only_now.empty
