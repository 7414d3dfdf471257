"""Reads the health system's resident records (居民健康档案) straight from its SQL database.

A read that breaks off mid-way, or a table that changes under it, must not pass for a complete pull:
the rows read are compared with ``count(*)`` taken before and after, inside one read-only
``REPEATABLE READ`` transaction where the database has snapshots (PostgreSQL), so all three agree
unless something went wrong.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from connectors.paging import PullTally
from connectors.text import RawRow, value_as_text
from hub_errors import SourceError

SNAPSHOT_DIALECTS = frozenset({"postgresql"})


def read_health_records(
    url: str,
    table: str,
    *,
    schema: str | None = None,
    chunk_size: int = 5000,
    tally: PullTally | None = None,
    updated_since: str | None = None,
    updated_column: str = "updated_at",
) -> Iterator[RawRow]:
    """Every row of ``table`` as a raw row (column names as in the database, values as text, '' for NULL).

    Rows are streamed in chunks of ``chunk_size`` with a server-side cursor where the driver has one,
    so a large archive never sits in memory whole. A read that fails mid-way, or a row count that
    differs from the rows read, raises SourceError after the rows so far (the caller keeps none).
    ``tally``, when given, receives the row count and the rows read of a read that succeeded.
    With ``updated_since`` only the rows whose ``updated_column`` is later are read (and counted).
    """
    engine = sa.create_engine(url)
    where = f"health: table {table!r} in {engine.url.render_as_string(hide_password=True)}"
    try:
        try:
            source = sa.Table(table, sa.MetaData(schema=schema), autoload_with=engine)
        except sa.exc.NoSuchTableError:
            raise SourceError(f"{where} not found.") from None
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(f"{where}: cannot reach the database ({exc}).") from exc
        names = [column.name for column in source.columns]
        changed: sa.ColumnElement[bool] = sa.true()
        if updated_since is not None:
            if updated_column not in source.columns:
                raise SourceError(f"{where} has no {updated_column!r} column to read the changes by.")
            changed = source.columns[updated_column] > updated_since
        count_rows = sa.select(sa.func.count()).select_from(source).where(changed)
        read = 0
        try:
            with engine.connect() as conn:
                if engine.dialect.name in SNAPSHOT_DIALECTS:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
                with conn.begin():
                    before = conn.execute(count_rows).scalar_one()
                    result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(
                        sa.select(source).where(changed)
                    )
                    for partition in result.partitions():
                        for record in partition:
                            read += 1
                            yield {
                                name: value_as_text(value, exact_integers=True)  # SQL integers hold every digit
                                for name, value in zip(names, record, strict=True)
                            }
                    after = conn.execute(count_rows).scalar_one()
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(
                f"{where}: the read failed after {read} rows ({_cause(exc)}). Nothing from this pull was kept; "
                "check that the health database is up, then run again."
            ) from None
        if not before == read == after:
            raise SourceError(
                f"{where} held {before} rows when the read began and {after} when it ended, but {read} were read: "
                "the table changed or the read was cut short. Nothing from this pull was kept; run again when the "
                "health system is not being loaded."
            )
        if tally is not None:
            tally.expected_total, tally.received, tally.rows_pulled = before, read, read
    finally:
        engine.dispose()


def has_column(url: str, table: str, column: str, *, schema: str | None = None) -> bool:
    """Whether ``table`` exists and has ``column`` (an update-time column makes change reads possible)."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(table, schema=schema):
            return False
        return any(found["name"] == column for found in inspector.get_columns(table, schema=schema))
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def read_health_deletions(
    url: str, table: str, *, since: str | None = None, schema: str | None = None, deleted_column: str = "deleted_at"
) -> list[tuple[str, str]]:
    """(record id, deleted at) from the tombstone table ``table`` (first column the record id), those
    deleted after ``since`` (all without it); no such table: no deletions are known."""
    engine = sa.create_engine(url)
    where = f"health: tombstone table {table!r} in {engine.url.render_as_string(hide_password=True)}"
    try:
        try:
            tombs = sa.Table(table, sa.MetaData(schema=schema), autoload_with=engine)
        except sa.exc.NoSuchTableError:
            return []
        if deleted_column not in tombs.columns:
            raise SourceError(f"{where} has no {deleted_column!r} column.")
        id_column = next(iter(tombs.columns))
        stamp = tombs.columns[deleted_column]
        query = sa.select(id_column, stamp).order_by(stamp)
        if since is not None:
            query = query.where(stamp > since)
        try:
            with engine.connect() as conn:
                return [(str(key), str(at)) for key, at in conn.execute(query) if key is not None and at]
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(f"{where}: the read failed ({_cause(exc)}).") from None
    finally:
        engine.dispose()


def _cause(exc: sa.exc.SQLAlchemyError) -> str:
    """The database error's kind and code, never its text (which may quote a value from a row)."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return f"{type(orig).__name__}" + (f", SQLSTATE {code}" if code else "")
