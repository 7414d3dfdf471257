"""The grid system (网格系统) as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from connectors.grid_api import GridApiClient, GridSystem


class GridSystemResource(dg.ConfigurableResource):
    """REST API of the grid system: residents (实有人口) and grid workers' events."""

    base_url: str
    token: str
    page_size: int = 1000

    def client(self) -> GridSystem:
        return GridApiClient(self.base_url, self.token, page_size=self.page_size)

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row_ref, row) for every resident or event the grid system holds."""
        client = self.client()
        items = client.iter_residents() if dataset == "residents" else client.iter_events()
        path = "residents" if dataset == "residents" else "events"
        for number, row in enumerate(items, start=1):
            yield f"{self.base_url}/api/v1/{path} #{number}", row
