"""The health system's database (居民健康档案) as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
from pydantic import PrivateAttr

from connectors.changes import ChangePull, newest, next_cursor
from connectors.health_db import has_column, read_health_deletions, read_health_records
from connectors.paging import PullTally


class HealthSystemResource(dg.ConfigurableResource):
    """SQL database of the health system, read through SQLAlchemy.

    After ``rows("residents")``, ``last_pull("residents")`` gives the table's row count and the rows read.
    """

    url: str
    table: str
    updated_column: str = "updated_at"
    tombstone_table: str = ""

    _pulls: dict[str, PullTally] = PrivateAttr(default_factory=dict)

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row_ref, row) for every health record; the health system reports no events."""
        if dataset != "residents":
            return
        yield from self.pull_changes(dataset, None).rows

    def pull_changes(self, dataset: str, cursor: dict[str, str] | None) -> ChangePull:
        """Rows updated after the cursor (by the update-time column) and the tombstones since; without
        a cursor, or a table without that column, every row (a snapshot)."""
        if dataset != "residents":
            return ChangePull()
        dated = has_column(self.url, self.table, self.updated_column)
        since = (cursor or {}).get("updated_since") if dated else None
        deleted_since = (cursor or {}).get("deleted_since")
        tally = PullTally(source="health", url=self.table)
        records = read_health_records(
            self.url, self.table, tally=tally, updated_since=since, updated_column=self.updated_column
        )
        rows = [(f"{self.table} #{number}", row) for number, row in enumerate(records, start=1)]
        self._pulls[dataset] = tally
        gone = read_health_deletions(self.url, self.tombstone_table or f"{self.table}_deleted", since=deleted_since)
        incremental = cursor is not None and dated
        updated = [row.get(self.updated_column, "") for _, row in rows] if dated else []
        return ChangePull(
            rows=rows,
            deleted=[key for key, _ in gone] if incremental else [],
            cursor=next_cursor(newest(since, updated), newest(deleted_since, [at for _, at in gone])),
            snapshot=not incremental,
        )

    def last_pull(self, dataset: str) -> PullTally | None:
        """What the last complete read of ``dataset`` received against the table's row count."""
        return self._pulls.get(dataset)
