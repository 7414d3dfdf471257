"""The grid system (网格系统) as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
from pydantic import PrivateAttr

from connectors.changes import ChangePull, newest, next_cursor
from connectors.grid_api import GridApiClient
from connectors.http import DEFAULT_PULL_DEADLINE_SECONDS
from connectors.paging import PullTally
from hub_errors import ConfigError
from schemas.mapping import load_mapping

DATASETS = ("residents", "events")


class GridSystemResource(dg.ConfigurableResource):
    """REST API of the grid system: residents (实有人口) and grid workers' events.

    ``paging`` is ``keyset`` (by ``(updated_at, id)``, safe while grid workers edit) or ``page``
    (for a system that only pages by number). ``pull_deadline_seconds`` bounds one dataset's pull.
    After ``rows(dataset)``, ``last_pull(dataset)`` says how many records arrived against the
    server's ``total``.
    """

    base_url: str
    token: str
    page_size: int = 1000
    paging: str = "keyset"
    pull_deadline_seconds: float = DEFAULT_PULL_DEADLINE_SECONDS
    max_pages: int = 100_000

    _pulls: dict[str, PullTally] = PrivateAttr(default_factory=dict)

    def client(self) -> GridApiClient:
        if self.paging not in ("keyset", "page"):
            raise ConfigError(f"grid_system: paging must be 'keyset' or 'page', not {self.paging!r}.")
        return GridApiClient(
            self.base_url,
            self.token,
            page_size=self.page_size,
            paging="keyset" if self.paging == "keyset" else "page",
            id_fields={dataset: load_mapping(dataset, "grid").record_id for dataset in DATASETS},
            pull_deadline=self.pull_deadline_seconds,
            max_pages=self.max_pages,
        )

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row_ref, row) for every resident or event the grid system holds, each record once."""
        client = self.client()
        items = client.iter_residents() if dataset == "residents" else client.iter_events()
        path = "residents" if dataset == "residents" else "events"
        for number, row in enumerate(items, start=1):
            yield f"{self.base_url}/api/v1/{path} #{number}", row
        if client.last_pull is not None:
            self._pulls[dataset] = client.last_pull

    def last_pull(self, dataset: str) -> PullTally | None:
        """What the last complete pull of ``dataset`` received against the server's ``total``."""
        return self._pulls.get(dataset)

    def pull_changes(self, dataset: str, cursor: dict[str, str] | None) -> ChangePull:
        """The records changed after the cursor and the tombstones since; without a cursor, every
        record (a snapshot) and the newest tombstone's time as the next deletion cursor."""
        client = self.client()
        since = (cursor or {}).get("updated_since")
        deleted_since = (cursor or {}).get("deleted_since")
        items = client.iter_residents(since) if dataset == "residents" else client.iter_events(since)
        path = "residents" if dataset == "residents" else "events"
        rows = [(f"{self.base_url}/api/v1/{path} #{number}", row) for number, row in enumerate(items, start=1)]
        if client.last_pull is not None:
            self._pulls[dataset] = client.last_pull
        gone = client.deletions(path, deleted_since)
        return ChangePull(
            rows=rows,
            deleted=[key for key, _ in gone] if cursor is not None else [],
            cursor=next_cursor(
                newest(since, [client.latest_updated_at or ""]), newest(deleted_since, [at for _, at in gone])
            ),
            snapshot=cursor is None,
        )
