"""The residents' mini-program (居民小程序) backend as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
from pydantic import PrivateAttr

from connectors.changes import ChangePull, newest, next_cursor
from connectors.http import DEFAULT_PULL_DEADLINE_SECONDS
from connectors.miniprogram import MiniProgramClient
from connectors.paging import PullTally
from schemas.mapping import load_mapping


class MiniProgramResource(dg.ConfigurableResource):
    """HTTP JSON API serving the events residents report themselves.

    ``pull_deadline_seconds`` bounds one pull; after ``rows("events")``, ``last_pull("events")`` says
    how many events arrived against the platform's ``total``.
    """

    base_url: str
    app_key: str = ""
    limit: int = 500
    pull_deadline_seconds: float = DEFAULT_PULL_DEADLINE_SECONDS
    max_pages: int = 100_000

    _pulls: dict[str, PullTally] = PrivateAttr(default_factory=dict)

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row_ref, row) for every resident-reported event; the mini-program holds no resident records."""
        if dataset != "events":
            return
        yield from self.pull_changes(dataset, None).rows

    def client(self) -> MiniProgramClient:
        return MiniProgramClient(
            self.base_url,
            app_key=self.app_key or None,
            limit=self.limit,
            id_field=load_mapping("events", "resident").record_id,
            pull_deadline=self.pull_deadline_seconds,
            max_pages=self.max_pages,
        )

    def pull_changes(self, dataset: str, cursor: dict[str, str] | None) -> ChangePull:
        """The events changed after the cursor and the deletions since; without a cursor, every event."""
        if dataset != "events":
            return ChangePull()
        client = self.client()
        since = (cursor or {}).get("updated_since")
        deleted_since = (cursor or {}).get("deleted_since")
        rows = [
            (f"{self.base_url}/api/events #{number}", row)
            for number, row in enumerate(client.iter_events(since), start=1)
        ]
        if client.last_pull is not None:
            self._pulls[dataset] = client.last_pull
        gone = client.deletions(deleted_since)
        return ChangePull(
            rows=rows,
            deleted=[key for key, _ in gone] if cursor is not None else [],
            cursor=next_cursor(
                newest(since, [client.latest_updated_at or ""]), newest(deleted_since, [at for _, at in gone])
            ),
            snapshot=cursor is None,
        )

    def last_pull(self, dataset: str) -> PullTally | None:
        """What the last complete pull of ``dataset`` received against the platform's ``total``."""
        return self._pulls.get(dataset)
