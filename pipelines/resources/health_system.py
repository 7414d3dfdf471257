"""The health system's database (居民健康档案) as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
from pydantic import PrivateAttr

from connectors.health_db import read_health_records
from connectors.paging import PullTally


class HealthSystemResource(dg.ConfigurableResource):
    """SQL database of the health system, read through SQLAlchemy.

    After ``rows("residents")``, ``last_pull("residents")`` gives the table's row count and the rows read.
    """

    url: str
    table: str

    _pulls: dict[str, PullTally] = PrivateAttr(default_factory=dict)

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row_ref, row) for every health record; the health system reports no events."""
        if dataset != "residents":
            return
        tally = PullTally(source="health", url=self.table)
        for number, row in enumerate(read_health_records(self.url, self.table, tally=tally), start=1):
            yield f"{self.table} #{number}", row
        self._pulls[dataset] = tally

    def last_pull(self, dataset: str) -> PullTally | None:
        """What the last complete read of ``dataset`` received against the table's row count."""
        return self._pulls.get(dataset)
