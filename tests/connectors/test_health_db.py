"""read_health_records on a real SQLite file and the real PostgreSQL."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.health_db import read_health_records
from connectors.simulated.health_system import HealthSystem, load_health_table
from hub_errors import SourceError


def test_sqlite_round_trip_keeps_every_value_as_text(bench_small: Path, tmp_path: Path) -> None:
    with (bench_small / "health_records.csv").open(encoding="utf-8", newline="") as handle:
        expected = list(csv.DictReader(handle))
    with HealthSystem(bench_small / "health_records.csv", tmp_path) as health:
        rows = list(read_health_records(health.url, health.table, chunk_size=50))
    by_id = {row["record_id"]: row for row in rows}
    assert len(by_id) == len(rows)
    assert by_id == {row["record_id"]: row for row in expected}


def test_typed_columns_come_back_as_plain_text(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typed.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table t (id_card bigint, amount real, note text)"))
        conn.execute(sa.text("insert into t values (350604193610010014, 680.0, null)"))
    engine.dispose()
    assert list(read_health_records(url, "t")) == [
        {"id_card": "350604193610010014", "amount": "680", "note": ""}
    ]


def test_missing_table_names_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="jkda_nope"):
        list(read_health_records(f"sqlite:///{tmp_path / 'empty.sqlite3'}", "jkda_nope"))


def test_postgresql_round_trip(pg_engine: sa.Engine) -> None:
    url = pg_engine.url.render_as_string(hide_password=False)
    table = f"conn_health_{uuid.uuid4().hex[:8]}"
    rows = [
        {"record_id": "H1", "name": "张 三", "id_card": "35060419361001001x", "birthday": "19361001"},
        {"record_id": "H2", "name": "李四", "id_card": "", "birthday": "1936-10-01"},
    ]
    load_health_table(rows, url, table)
    try:
        assert list(read_health_records(url, table, chunk_size=1)) == rows
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop table if exists "{table}"'))
