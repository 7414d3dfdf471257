"""Schema creation once, under a lock: several processes opening one fresh warehouse at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from pipelines.migrations import SCHEMA_VERSION_TABLE
from pipelines.warehouse import MIGRATIONS, Warehouse, create_warehouse_engine


def open_at_once(make_engine, count: int = 4) -> list[int]:
    """``count`` threads, each with its own engine (as separate processes have), open the warehouse."""

    def open_one(_: int) -> int:
        engine = make_engine()
        try:
            return Warehouse(engine).schema_version
        finally:
            engine.dispose()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(open_one, range(count)))


def applied(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.text(f"select version from {SCHEMA_VERSION_TABLE} order by version")))


def test_fresh_sqlite_warehouse_opened_at_once_is_migrated_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    latest = max(m.version for m in MIGRATIONS)
    assert open_at_once(lambda: create_warehouse_engine(url)) == [latest] * 4
    assert applied(create_warehouse_engine(url)) == sorted(m.version for m in MIGRATIONS)


def test_fresh_postgres_warehouse_opened_at_once_is_migrated_once(pg_schema: tuple[str, str]) -> None:
    _, url = pg_schema
    latest = max(m.version for m in MIGRATIONS)
    assert open_at_once(lambda: sa.create_engine(url)) == [latest] * 4
    engine = sa.create_engine(url)
    assert applied(engine) == sorted(m.version for m in MIGRATIONS)
    assert sa.inspect(engine).has_table("hub_delivery_state")
    engine.dispose()


def test_warehouse_from_before_versioning_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_warehouse_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table person_id_history (id integer primary key, run_id text, person_id text,"
                             " change text, detail text, recorded_at timestamp)"))
        conn.execute(sa.text("insert into person_id_history (run_id, person_id, change, detail, recorded_at)"
                             " values ('r', 'P1', 'new', '{}', '2026-01-01')"))
    warehouse = Warehouse(engine)
    assert warehouse.issued_person_ids() == {"P1"}
    assert applied(engine) == sorted(m.version for m in MIGRATIONS)
