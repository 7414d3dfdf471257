"""The residents' mini-program (居民小程序) backend as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from connectors.miniprogram import MiniProgramClient


class MiniProgramResource(dg.ConfigurableResource):
    """HTTP JSON API serving the events residents report themselves."""

    base_url: str
    app_key: str = ""

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row_ref, row) for every resident-reported event; the mini-program holds no resident records."""
        if dataset != "events":
            return
        client = MiniProgramClient(self.base_url, app_key=self.app_key or None)
        for number, row in enumerate(client.iter_events(), start=1):
            yield f"{self.base_url}/api/events #{number}", row
