"""read_health_records on a real SQLite file and the real PostgreSQL."""

from __future__ import annotations

import csv
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    assert all(row.pop("updated_at") for row in rows)  # a real HIS stamps every row
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
    assert list(read_health_records(url, "t")) == [{"id_card": "350604193610010014", "amount": "680", "note": ""}]


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


PG_SCHEMA = "paging_faults"
RECORDS = [{"record_id": f"H{n}", "name": f"居民{n}号", "id_card": f"35060419361001{n:04d}"} for n in range(1, 31)]


@contextmanager
def clerk_inserts_during_the_read(table: str, insert: Callable[[], None]) -> Iterator[list[str]]:
    """A health clerk registers a record just as the hub starts reading the rows (after it counted them)."""
    fired: list[str] = []

    def before_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not fired and f"{table}.record_id" in statement:
            fired.append(statement)
            insert()

    sa.event.listen(sa.Engine, "before_cursor_execute", before_execute)
    try:
        yield fired
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", before_execute)


def test_sqlite_table_changing_during_the_read_is_caught(tmp_path: Path) -> None:
    database = tmp_path / "health.sqlite3"
    load_health_table(RECORDS, f"sqlite:///{database}", "jkda")

    def insert() -> None:
        with sqlite3.connect(database) as conn:
            conn.execute("insert into jkda values ('H99', '新登记', '350604193610019999')")

    with clerk_inserts_during_the_read("jkda", insert) as fired, pytest.raises(SourceError) as caught:
        list(read_health_records(f"sqlite:///{database}", "jkda", chunk_size=7))
    assert fired
    message = str(caught.value)
    assert "'jkda'" in message and "held 30 rows when the read began and 31 when it ended, but 31 were read" in message
    assert "新登记" not in message and "居民1号" not in message


@pytest.fixture
def pg_table(pg_engine: sa.Engine) -> Iterator[tuple[str, str]]:
    table = f"jkda_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema if not exists "{PG_SCHEMA}"'))
    url = pg_engine.url.render_as_string(hide_password=False)
    load_health_table(RECORDS, url, table, schema=PG_SCHEMA)
    try:
        yield url, table
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop table if exists "{PG_SCHEMA}"."{table}"'))


def test_postgresql_reads_one_snapshot_while_a_clerk_inserts(pg_engine: sa.Engine, pg_table: tuple[str, str]) -> None:
    url, table = pg_table

    def insert() -> None:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f"""insert into "{PG_SCHEMA}"."{table}" values ('H99', '新登记', 'x')"""))

    with clerk_inserts_during_the_read(table, insert) as fired:
        rows = list(read_health_records(url, table, schema=PG_SCHEMA, chunk_size=7))
    assert fired
    assert [row["record_id"] for row in rows] == [row["record_id"] for row in RECORDS]
    assert len(list(read_health_records(url, table, schema=PG_SCHEMA))) == len(RECORDS) + 1


def test_postgresql_connection_lost_mid_read_is_a_clear_source_error(
    pg_engine: sa.Engine, pg_table: tuple[str, str]
) -> None:
    url, table = pg_table
    name = f"hub_paging_{uuid.uuid4().hex[:8]}"
    reader = read_health_records(f"{url}?application_name={name}", table, schema=PG_SCHEMA, chunk_size=5)
    first = next(reader)
    with pg_engine.begin() as conn:
        killed = (
            conn.execute(
                sa.text("select pg_terminate_backend(pid) from pg_stat_activity where application_name = :name"),
                {"name": name},
            )
            .scalars()
            .all()
        )
    assert killed == [True]
    with pytest.raises(SourceError) as caught:
        list(reader)
    message = str(caught.value)
    assert f"health: table '{table}'" in message and "the read failed after 5 rows" in message
    assert first["name"] not in message and "居民" not in message
