"""The warehouse's own tables, created and upgraded once, however many runs start at the same moment.

Each migration has a number; ``hub_schema_version`` records the ones applied. ``migrate`` runs the
missing ones inside one transaction that holds a lock for the whole warehouse (a PostgreSQL
transaction-level advisory lock, an exclusive SQLite transaction), so a second process waits for the
first and then finds nothing left to do. Stage tables (one per asset) are not migrations: each run
replaces them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

SCHEMA_VERSION_TABLE = "hub_schema_version"
MIGRATION_LOCK = "hub:migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def version_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        SCHEMA_VERSION_TABLE,
        metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def create_tables(*tables: sa.Table) -> Callable[[sa.Connection], None]:
    """A migration step creating ``tables`` (a warehouse from before versioning may have them already)."""

    def apply(conn: sa.Connection) -> None:
        for table in tables:
            table.create(conn, checkfirst=True)

    return apply


@contextmanager
def locked_transaction(engine: sa.Engine, name: str) -> Iterator[sa.Connection]:
    """A transaction no other process runs at the same time for the same ``name`` on this warehouse.

    PostgreSQL: an advisory lock on ``name`` within the current schema, released at commit.
    SQLite: ``BEGIN EXCLUSIVE`` (waits as long as the engine's busy timeout). Other databases: a
    plain transaction.
    """
    dialect = engine.dialect.name
    with engine.connect() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
        elif dialect == "postgresql":
            conn.execute(sa.text("select pg_advisory_xact_lock(hashtext(current_schema() || :name))"), {"name": name})
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def migrate(engine: sa.Engine, migrations: list[Migration]) -> int:
    """Apply the migrations this warehouse lacks, once, under the lock; returns the version it is at."""
    versions = version_table(sa.MetaData())
    with locked_transaction(engine, MIGRATION_LOCK) as conn:
        versions.create(conn, checkfirst=True)
        done = set(conn.scalars(sa.select(versions.c.version)))
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            migration.apply(conn)
            conn.execute(
                versions.insert().values(
                    version=migration.version, description=migration.description, applied_at=datetime.now(UTC)
                )
            )
            done.add(migration.version)
    return max(done, default=0)
