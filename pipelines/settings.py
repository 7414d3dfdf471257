"""Where the hub finds its warehouse, its department systems and its output folders.

Everything comes from environment variables so that no address or secret lives in the repository.
The embedded defaults (SQLite under the hub home, output under `hub-out/`) need nothing installed.

The hub home is found the same way by every command, wherever it is run: ``HUB_HOME`` when set,
else the nearest ``.hub`` folder in the current folder or one of its parents (a project's home),
else one folder per user (``$XDG_DATA_HOME/hub``, by default ``~/.local/share/hub``). So a command run
from a subfolder or from elsewhere never starts a second, empty warehouse of its own by accident.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

PROJECT_HOME = ".hub"


def project_home(start: Path | None = None) -> Path | None:
    """The nearest ``.hub`` folder in ``start`` (default: the current folder) or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_HOME
        if candidate.is_dir():
            return candidate
    return None


def user_home() -> Path:
    """The per-user hub home, used when neither HUB_HOME nor a project's ``.hub`` folder is found."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).resolve() / "hub"


def hub_home() -> Path:
    """The folder holding the embedded warehouse and run state (see the module docstring)."""
    configured = os.environ.get("HUB_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    return project_home() or user_home()


def home_origin() -> str:
    """How the hub home was found, for messages that name it."""
    if os.environ.get("HUB_HOME"):
        return "HUB_HOME"
    return "the nearest .hub folder" if project_home() else "the per-user default; set HUB_HOME to choose another"


def default_database_url() -> str:
    return os.environ.get("HUB_DATABASE_URL") or f"sqlite:///{hub_home() / 'warehouse.sqlite'}"


def dagster_home() -> Path:
    """DAGSTER_HOME when set, else beside the hub home: ``<project>/.dagster`` or ``<user home>/dagster``."""
    configured = os.environ.get("DAGSTER_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    home = hub_home()
    return home.parent / ".dagster" if home.name == PROJECT_HOME else home / "dagster"


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
