"""The health system's database (居民健康档案) as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from connectors.health_db import read_health_records


class HealthSystemResource(dg.ConfigurableResource):
    """SQL database of the health system, read through SQLAlchemy."""

    url: str
    table: str

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row_ref, row) for every health record; the health system reports no events."""
        if dataset != "residents":
            return
        for number, row in enumerate(read_health_records(self.url, self.table), start=1):
            yield f"{self.table} #{number}", row
