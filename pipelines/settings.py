"""Where the hub finds its warehouse, its department systems and its output folders.

Everything comes from environment variables so that no address or secret lives in the repository.
The embedded defaults (SQLite under `.hub/`, output under `hub-out/`) need nothing installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


def hub_home() -> Path:
    """The project-local folder holding the embedded warehouse and run state."""
    return Path(os.environ.get("HUB_HOME", ".hub")).resolve()


def default_database_url() -> str:
    return os.environ.get("HUB_DATABASE_URL") or f"sqlite:///{hub_home() / 'warehouse.sqlite'}"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", ".dagster")).resolve()


@dataclass(frozen=True)
class SystemAddresses:
    """Addresses of the department systems a run pulls from and pushes to."""

    grid_url: str
    grid_token: str
    miniprogram_url: str
    health_db_url: str
    health_table: str
    civil_inbox: str
    department_inbox_url: str
    community_inbox: str

    ENV: ClassVar[dict[str, str]] = {
        "grid_url": "HUB_GRID_URL",
        "grid_token": "HUB_GRID_TOKEN",
        "miniprogram_url": "HUB_MINIPROGRAM_URL",
        "health_db_url": "HUB_HEALTH_DB_URL",
        "health_table": "HUB_HEALTH_TABLE",
        "civil_inbox": "HUB_CIVIL_INBOX",
        "department_inbox_url": "HUB_DEPARTMENT_INBOX_URL",
        "community_inbox": "HUB_COMMUNITY_INBOX",
    }

    def export(self) -> None:
        """Put these addresses into the environment, where the Dagster resources read them."""
        for attr, var in self.ENV.items():
            os.environ[var] = str(getattr(self, attr))
