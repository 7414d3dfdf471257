"""Reads the health system's resident records (居民健康档案) straight from its SQL database."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from connectors.text import RawRow, value_as_text
from hub_errors import SourceError


def read_health_records(
    url: str, table: str, *, schema: str | None = None, chunk_size: int = 5000
) -> Iterator[RawRow]:
    """Every row of ``table`` as a raw row (column names as in the database, values as text, '' for NULL).

    Rows are streamed in chunks of ``chunk_size`` with a server-side cursor where the driver has one,
    so a large archive never sits in memory whole.
    """
    engine = sa.create_engine(url)
    try:
        try:
            source = sa.Table(table, sa.MetaData(schema=schema), autoload_with=engine)
        except sa.exc.NoSuchTableError:
            raise SourceError(
                f"health: table {table!r} not found in {engine.url.render_as_string(hide_password=True)}."
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(
                f"health: cannot reach {engine.url.render_as_string(hide_password=True)} ({exc})."
            ) from exc
        names = [column.name for column in source.columns]
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(
                sa.select(source)
            )
            for partition in result.partitions():
                for record in partition:
                    yield {
                        name: value_as_text(value, exact_integers=True)  # SQL integers hold every digit
                        for name, value in zip(names, record, strict=True)
                    }
    finally:
        engine.dispose()
