"""Where reports go: the output folder for workbooks and the departments' HTTP inboxes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import sqlalchemy as sa

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

    def log_engine(self) -> sa.Engine:
        """The warehouse engine holding the delivery log (so a rerun never delivers a batch twice)."""
        return warehouse_for(self.database_url).engine
