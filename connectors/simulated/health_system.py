"""A simulated health system (居民健康档案): its records in a real SQL database table.

The health department exposes no API; the hub reads its database (a read replica in production).
Here the records are loaded into a table of all-TEXT columns, in a SQLite file by default or in any
database SQLAlchemy reaches (the tests also use PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import sqlalchemy as sa

from connectors.simulated.loopback import SimulatedSystem, load_csv_rows

DEFAULT_TABLE = "jkda_records"
INSERT_CHUNK = 5000


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
    ) -> None:
        self.records_csv = records_csv
        self.url = url or f"sqlite:///{(work_dir / 'health_system.sqlite3').resolve()}"
        self.table = table
        self.row_count = 0

    def start(self) -> Self:
        rows = load_csv_rows(self.records_csv, system="health")
        self.row_count = load_health_table(rows, self.url, self.table)
        return self
