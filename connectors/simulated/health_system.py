"""A simulated health system (居民健康档案): its records in a real SQL database table.

The health department exposes no API; the hub reads its database (a read replica in production).
Here the records are loaded into a table of all-TEXT columns, in a SQLite file by default or in any
database SQLAlchemy reaches (the tests also use PostgreSQL). As a real HIS does, each row has an
``updated_at`` column, and a deleted record leaves a tombstone row (its id and ``deleted_at``) in
``<table>_deleted``; with a :class:`ServedHistory`, loading an edited export keeps the update time
of every unchanged record and tombstones the records no longer there.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Self

import sqlalchemy as sa

from connectors.simulated.history import ServedHistory
from connectors.simulated.loopback import SimulatedSystem, load_csv_rows

DEFAULT_TABLE = "jkda_records"
INSERT_CHUNK = 5000
UPDATED_COLUMN = "updated_at"
DELETED_COLUMN = "deleted_at"
DELETED_SUFFIX = "_deleted"
CHINA_TZ = timezone(timedelta(hours=8))
FIRST_UPDATE = datetime(2026, 1, 5, 7, 0, 0, tzinfo=CHINA_TZ)


def stamp_text(value: datetime) -> str:
    """The health system's timestamp text: local time, to the second, sortable as text."""
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def load_tombstones(
    deleted: dict[str, datetime], url: str, table: str, id_column: str, *, schema: str | None = None
) -> None:
    """Replace ``<table>_deleted`` with the tombstones (record id, deleted_at)."""
    engine = sa.create_engine(url)
    try:
        target = sa.Table(
            table + DELETED_SUFFIX,
            sa.MetaData(schema=schema),
            sa.Column(id_column, sa.Text),
            sa.Column(DELETED_COLUMN, sa.Text),
        )
        with engine.begin() as conn:
            target.drop(conn, checkfirst=True)
            target.create(conn)
            if deleted:
                conn.execute(
                    target.insert(), [{id_column: key, DELETED_COLUMN: stamp_text(at)} for key, at in deleted.items()]
                )
    finally:
        engine.dispose()


def load_health_table(
    rows: list[dict[str, str]], url: str, table: str = DEFAULT_TABLE, *, schema: str | None = None
) -> int:
    """Replace ``table`` with the rows (every column TEXT, empty values NULL, as HIS exports leave them)."""
    if not rows:
        raise ValueError("no health records to load")
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData(schema=schema)
        target = sa.Table(table, metadata, *(sa.Column(name, sa.Text) for name in rows[0]))
        with engine.begin() as conn:
            target.drop(conn, checkfirst=True)
            target.create(conn)
            for start in range(0, len(rows), INSERT_CHUNK):
                chunk = rows[start : start + INSERT_CHUNK]
                conn.execute(target.insert(), [{k: v or None for k, v in row.items()} for row in chunk])
    finally:
        engine.dispose()
    return len(rows)


class HealthSystem(SimulatedSystem):
    """The health records table, loaded from a CSV export; ``url`` and ``table`` say where to read."""

    def __init__(
        self,
        records_csv: Path,
        work_dir: Path,
        *,
        url: str | None = None,
        table: str = DEFAULT_TABLE,
        history: ServedHistory | None = None,
    ) -> None:
        self.history = history
        self.records_csv = records_csv
        self.url = url or f"sqlite:///{(work_dir / 'health_system.sqlite3').resolve()}"
        self.table = table
        self.row_count = 0

    def start(self) -> Self:
        rows = load_csv_rows(self.records_csv, system="health")
        id_column = next(iter(rows[0])) if rows else "record_id"
        served = (self.history or ServedHistory(None)).serve(
            "residents", rows, id_column, lambda index: FIRST_UPDATE + timedelta(seconds=5 * index),
            now=datetime.now(CHINA_TZ),
        )
        stamped = [{**row, UPDATED_COLUMN: stamp_text(at)} for row, at in zip(rows, served.updated, strict=True)]
        self.row_count = load_health_table(stamped, self.url, self.table)
        load_tombstones(served.deleted, self.url, self.table, id_column)
        return self
