"""The current state kept columnar: records encoded column by column as the row-by-row encoder does,
a commit in blocks equal to one in a single block, and the current records read back block by block
in one order on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines import current_state
from pipelines.current_state import PULLED_COLUMNS, PendingPull, record_json, records_json
from pipelines.warehouse import Warehouse


def test_records_are_encoded_as_the_row_by_row_encoder_writes_them() -> None:
    frame = pd.DataFrame(
        {
            "name": ["陈丽婷", 'say "hi"\n', None, "tab\there", "陈丽婷", "\x1a"],
            "id_valid": [True, False, True, True, False, True],
            "mixed": [True, 1, 1.0, "1", None, np.nan],
            "amount": [1.5, np.nan, 2.0, 3.25, 1.5, 0.0],
            "count": [1, 2, 3, 4, 5, 6],
            "empty": [None] * 6,
        }
    )
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert records_json(frame) == [record_json(row) for row in rows]
    assert json.loads(records_json(frame)[0])["mixed"] is True
    assert json.loads(records_json(frame)[1])["mixed"] == 1
    assert records_json(frame.head(0)) == []


def pulled(source: str, records: dict[str, dict[str, str] | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "source": source,
                "record_id": key,
                "raw_hash": f"h-{key}",
                "updated_at": None,
                "record": None if record is None else record_json({"source": source, "record_id": key, **record}),
            }
            for key, record in records.items()
        ],
        columns=PULLED_COLUMNS,
    )


def state_after_two_runs(tmp_path: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Day 1: seven records (one quarantined); day 2: one edited, one unchanged, one deleted, one new."""
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / name}.sqlite")
    state = warehouse.state
    day1 = pulled("grid", {f"G{i}": ({"name": f"n{i}"} if i != 4 else None) for i in range(7)})
    with warehouse.transaction() as conn:
        state.commit(conn, "run-1", "residents", {"grid": PendingPull("grid", True, [], {"page": "1"})}, day1)
        state.complete_run(conn, "run-1", "full")
    day2 = pulled("grid", {"G1": {"name": "edited"}, "G2": {"name": "n2"}, "G9": {"name": "new"}})
    with warehouse.transaction() as conn:
        result = state.commit(
            conn, "run-2", "residents", {"grid": PendingPull("grid", True, ["G3", "G8"], {"page": "2"})}, day2
        )
    assert result.written == 3  # G1 edited, G9 added, G3 removed; G2 unchanged, G8 never known
    delta, removed = state.delta("residents")
    with warehouse.engine.connect() as conn:
        rows = pd.read_sql("select record_id, accepted, record, raw_hash, base from source_records", conn)
    assert state.cursor("residents", "grid") == {"page": "2"}
    assert removed == {"grid": 1}
    return delta.sort_values(["record_id"]).reset_index(drop=True), rows.sort_values("record_id").reset_index(drop=True)


def test_a_commit_in_blocks_equals_one_in_a_single_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole_delta, whole_rows = state_after_two_runs(tmp_path, "whole")
    monkeypatch.setattr(current_state, "COMMIT_BLOCK", 2)
    blocks_delta, blocks_rows = state_after_two_runs(tmp_path, "blocks")
    pd.testing.assert_frame_equal(whole_delta, blocks_delta)
    pd.testing.assert_frame_equal(whole_rows, blocks_rows)
    assert dict(zip(whole_delta["record_id"], whole_delta["change"], strict=True)) == {
        "G1": "edited",
        "G3": "removed",
        "G9": "added",
    }
    assert whole_rows.loc[whole_rows["record_id"] == "G4", "record"].isna().all()  # quarantined: no record


def current_blocks(warehouse: Warehouse) -> list[pd.DataFrame]:
    state = warehouse.state
    keys = ["b", "B", "a10", "a9", "é", "z", "中", "Z"]
    frame = pd.concat(
        [
            pulled("health", {key: {"name": key} for key in keys}),
            pulled("grid", {key: {"name": key} for key in keys[:5]}),
            pulled("civil", {"x": {"name": "x", "extra": "only here"}}),
            pulled("grid", {"q": None}),
        ],
        ignore_index=True,
    )
    with warehouse.transaction() as conn:
        state.commit(conn, "run-1", "residents", {}, frame)
    with warehouse.engine.connect() as conn:
        return list(state.current_chunks(conn, "residents", ["grid", "health"], rows=3))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_current_records_come_in_blocks_in_source_then_code_point_order(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    else:
        _, url = request.getfixturevalue("pg_schema")
    blocks = current_blocks(Warehouse.from_url(url))
    assert max(len(block) for block in blocks) <= 3
    rows = pd.concat(blocks, ignore_index=True)
    expected = [("grid", key) for key in sorted(["b", "B", "a10", "a9", "é"])]
    expected += [("health", key) for key in sorted(["b", "B", "a10", "a9", "é", "z", "中", "Z"])]
    expected += [("civil", "x")]  # a source not in the order comes after the ordered ones
    assert list(zip(rows["source"], rows["record_id"], strict=True)) == expected


def test_a_table_streamed_in_blocks_takes_a_column_a_later_block_brings(tmp_path: Path) -> None:
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    blocks = [
        pd.DataFrame({"record_id": ["1", "2"], "source": ["grid", "grid"], "ok": [True, False]}),
        pd.DataFrame({"record_id": ["3"], "source": ["civil"], "ok": [True], "extra": ["x"]}),
    ]
    with warehouse.transaction() as conn:
        rows, first = warehouse.replace_table_from(conn, "std_test", iter(blocks), "run-1", ["source", "record_id"])
    assert rows == 3
    assert list(first.columns) == ["source", "record_id", "ok"]
    back = warehouse.read_table("std_test")
    assert list(back.columns) == ["source", "record_id", "ok", "extra"]
    assert back["extra"].isna().tolist() == [True, True, False]
    assert warehouse.table_run("std_test")["rows"] == 3  # type: ignore[index]
    with warehouse.transaction() as conn:
        rows, first = warehouse.replace_table_from(conn, "std_test", iter([]), "run-2", ["source", "record_id"])
    assert rows == 0 and warehouse.read_table("std_test").empty
    with warehouse.engine.connect() as conn:
        assert [column["name"] for column in sa.inspect(conn).get_columns("std_test")] == ["source", "record_id"]
