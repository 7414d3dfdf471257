"""The warehouse on both databases it supports: an embedded SQLite file and the real PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines import warehouse as warehouse_module
from pipelines.warehouse import Warehouse, WarehouseError, frame_bytes


def exercise(warehouse: Warehouse, table: str) -> None:
    batch = f"run-{uuid.uuid4().hex[:8]}"
    landed = warehouse.land_raw(
        batch_id=batch,
        dataset="residents",
        source="grid",
        rows=[("G1", "page 1 #1", {"姓名": "陈丽婷", "公民身份号码": "350603199001011234"}),
              ("G2", "page 1 #2", {"姓名": "李 庆", "公民身份号码": ""})],
    )
    assert landed == 2
    assert warehouse.raw_counts(batch, "residents") == {"grid": 2}
    assert warehouse.raw_counts(batch, "events") == {}

    frame = pd.DataFrame({"source": ["grid", "health"], "record_id": ["G1", "H1"], "name": ["陈丽婷", None]})
    warehouse.write_table(table, frame, run_id=batch)
    back = warehouse.read_table(table)
    assert back["record_id"].tolist() == ["G1", "H1"]
    assert back["name"].iloc[0] == "陈丽婷"
    assert pd.isna(back["name"].iloc[1])
    run = warehouse.table_run(table)
    assert run is not None and run["run_id"] == batch and run["rows"] == 2

    warehouse.write_table(table, frame.head(1), run_id=batch + "-2")
    assert len(warehouse.read_table(table)) == 1

    typed = pd.DataFrame(
        {
            "text": ["a'b", None, "名"],
            "whole": [1, 2, 3],
            "ratio": [0.5, float("nan"), 2.0],
            "flag": [True, False, True],
            "maybe": pd.array(["x", pd.NA, "z"], dtype="string"),
            "seen_at": pd.to_datetime(["2026-11-28 10:44:32", None, "2026-11-29 00:00:00"]),
            "seen_utc": pd.to_datetime(["2026-11-28 10:44:32", "2026-11-28 00:00:00", None], utc=True),
        }
    )
    warehouse.write_table(table, typed, run_id=batch + "-3")
    back = warehouse.read_table(table)
    assert back["text"].iloc[0] == "a'b" and pd.isna(back["text"].iloc[1])
    assert back["whole"].tolist() == [1, 2, 3]
    assert back["ratio"].iloc[0] == 0.5 and pd.isna(back["ratio"].iloc[1])
    assert [bool(flag) for flag in back["flag"]] == [True, False, True]
    assert pd.isna(back["maybe"].iloc[1]) and back["maybe"].iloc[2] == "z"
    assert pd.Timestamp(back["seen_at"].iloc[0]) == pd.Timestamp("2026-11-28 10:44:32")
    assert pd.isna(back["seen_at"].iloc[1]) and pd.isna(back["seen_utc"].iloc[2])
    assert pd.Timestamp(back["seen_utc"].iloc[1]).tz_localize(None) == pd.Timestamp("2026-11-28")
    narrow = warehouse.read_table(table, columns=["whole", "flag", "not_there"])
    assert list(narrow.columns) == ["whole", "flag"] and narrow["whole"].tolist() == [1, 2, 3]

    warehouse.record_decision(("grid", "G1"), ("health", "H1"), same=True, steward="王")
    warehouse.record_decision(("health", "H1"), ("grid", "G1"), same=False, steward="李", note="孪生")
    decisions = warehouse.decisions()
    assert len(decisions) == 1 and not bool(decisions["same"].iloc[0])
    changes = pd.DataFrame([{"person_id": "P1", "change": "merged", "into_id": "P2", "from_ids": None}])
    assert warehouse.record_person_id_changes(batch, changes) == 1
    assert warehouse.issued_person_ids() >= {"P1"}


def test_sqlite_warehouse_round_trip(tmp_path: Path) -> None:
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'nested' / 'w.sqlite'}")
    exercise(warehouse, "std_test")


def test_postgres_warehouse_round_trip(pg_engine: sa.Engine) -> None:
    schema = f"hub_test_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    engine = sa.create_engine(pg_engine.url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        exercise(Warehouse(engine), "std_test")
    finally:
        engine.dispose()
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))


def test_missing_stage_table_names_the_asset_to_run(tmp_path: Path) -> None:
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with pytest.raises(WarehouseError, match="std_residents"):
        warehouse.read_table("std_residents")


def test_a_table_longer_than_one_insert_chunk_is_written_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipelines.warehouse.INSERT_CHUNK_ROWS", 2)
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    frame = pd.DataFrame({"record_id": [f"R{i}" for i in range(5)], "n": range(5)})
    warehouse.write_table("std_chunks", frame, run_id="r1")
    assert warehouse.read_table("std_chunks")["record_id"].tolist() == [f"R{i}" for i in range(5)]
    assert warehouse.table_run("std_chunks")["rows"] == 5  # type: ignore[index]


def test_a_kept_read_is_never_stale_and_callers_cannot_change_it(tmp_path: Path) -> None:
    """Steps of one run share reads of a table, but every write (a whole table, or a day's rows)
    makes the next read go to the database again."""
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    def table(*phones: str) -> pd.DataFrame:
        keys = [str(i + 1) for i in range(len(phones))]
        return pd.DataFrame({"source": "s", "record_id": keys, "person_id": [f"P{k}" for k in keys], "phone": phones})

    warehouse.write_table("golden_persons", table("1", "2"), "run-1")
    first = warehouse.read_table("golden_persons")
    first.loc[0, "phone"] = "changed by a caller"
    assert warehouse.read_table("golden_persons")["phone"].tolist() == ["1", "2"]

    warehouse.write_table("golden_persons", table("1", "9"), "run-1")
    assert warehouse.read_table("golden_persons")["phone"].tolist() == ["1", "9"], "rewritten in the same run"

    with warehouse.transaction() as conn:
        warehouse.replace_rows_in(
            conn, "golden_persons", table("1", "2", "3").tail(1), pd.DataFrame({"source": [], "record_id": []}),
            "run-1", rows_now=3,
        )  # fmt: skip
    assert len(warehouse.read_table("golden_persons")) == 3, "a day's rows added: read again"
    assert warehouse.read_table("golden_persons", columns=["phone"]).columns.tolist() == ["phone"]


def test_read_records_gives_only_the_named_records_and_columns(tmp_path: Path) -> None:
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    frame = pd.DataFrame(
        {
            "source": ["grid", "grid", "health", "health"],
            "record_id": ["G1", "G2", "G1", "H7"],
            "name": ["张伟", "李娜", "王芳", "赵六"],
            "phone": ["1", "2", "3", "4"],
        }
    )
    warehouse.write_table("std_residents", frame, "run-1")
    keys = [("health", "G1"), ("grid", "G2"), ("grid", "G2")]
    found = warehouse.read_records("std_residents", keys, ["name", "gone"])
    assert found.columns.tolist() == ["source", "record_id", "name"]
    assert sorted(map(tuple, found.to_numpy().tolist())) == [("grid", "G2", "李娜"), ("health", "G1", "王芳")]
    assert warehouse.read_records("std_residents", [], ["name"]).empty


def test_frame_bytes_counts_the_strings_of_object_columns() -> None:
    """A shallow count of an object column sees only its pointers; the estimate sees the strings."""
    frame = pd.DataFrame({"record_id": [str(i) for i in range(30_000)], "address": ["长" * 200] * 30_000}, dtype=object)
    shallow = int(frame.memory_usage(index=True, deep=False).sum())
    deep = int(frame.memory_usage(index=True, deep=True).sum())
    assert deep > 10 * shallow
    assert abs(frame_bytes(frame) - deep) < 0.05 * deep


def test_a_read_larger_than_the_cache_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'w.sqlite'}")
    frame = pd.DataFrame({"source": "s", "record_id": [str(i) for i in range(3_000)], "address": ["长" * 200] * 3_000})
    warehouse.write_table("std_residents", frame, "run-1")
    size = frame_bytes(warehouse.read_table("std_residents", keep=False))
    monkeypatch.setattr(warehouse_module, "READ_CACHE_BYTES", size // 2)
    warehouse.read_table("std_residents")
    assert not warehouse._read_cache, "read again next time rather than pinned"
    monkeypatch.setattr(warehouse_module, "READ_CACHE_BYTES", 2 * size)
    warehouse.read_table("std_residents")
    assert len(warehouse._read_cache) == 1
