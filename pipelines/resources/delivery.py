"""Where reports go: the output folder for workbooks and the departments' HTTP inboxes."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import dagster as dg

from connectors.push import DeliveryLog
from pipelines.resources.warehouse import warehouse_for


class DeliveryResource(dg.ConfigurableResource):
    """Report deliveries: workbooks under `out_dir`, pushes to `inbox_url`, logged in the warehouse."""

    inbox_url: str
    out_dir: str
    database_url: str

    def out_path(self) -> Path:
        return Path(self.out_dir)

    def environment(self) -> dict[str, str]:
        """Values for the ${VARIABLES} in the report specifications' delivery URLs."""
        return {"HUB_DEPARTMENT_INBOX_URL": self.inbox_url.rstrip("/")}

    def log(self) -> DeliveryLog:
        """The delivery log and state in the warehouse (what each department last acknowledged)."""
        return warehouse_for(self.database_url).delivery_log()

    def run_lock(self, run_id: str) -> AbstractContextManager[None]:
        """Pushes of two runs never interleave: the warehouse's run lock (re-entrant for ``run_id``)."""
        return warehouse_for(self.database_url).run_lock(run_id)
