"""Starts every simulated department system on one data folder, for the demo and the tests.

The folder has the bench layout (grid_residents.csv, health_records.csv, civil_affairs.csv,
grid_events.csv, resident_events.csv); truth_*.csv files are never read. Named faults of the grid
and mini-program servers can be switched on from the start, for example from the environment:
``HUB_SIMULATED_FAULTS="grid:ignore_page,resident:cursor_cycle"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

from connectors.simulated.civil_system import CivilAffairsSystem
from connectors.simulated.department_inbox import DepartmentInbox
from connectors.simulated.grid_server import GRID_FAULTS, GridServer
from connectors.simulated.health_system import DEFAULT_TABLE, HealthSystem
from connectors.simulated.history import ServedHistory
from connectors.simulated.miniprogram_server import MINIPROGRAM_FAULTS, MiniProgramServer
from hub_errors import SourceError

DATA_FILES = (
    "grid_residents.csv",
    "health_records.csv",
    "civil_affairs.csv",
    "grid_events.csv",
    "resident_events.csv",
)


FAULTS_ENV = "HUB_SIMULATED_FAULTS"


def faults_from_env(value: str | None = None) -> dict[str, list[str]]:
    """``system:fault,system:fault`` (from HUB_SIMULATED_FAULTS by default) as ``{system: [faults]}``."""
    text = os.environ.get(FAULTS_ENV, "") if value is None else value
    faults: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        system, _, fault = item.partition(":")
        if not fault:
            raise SourceError(f"{FAULTS_ENV}: {item!r} is not system:fault (e.g. grid:ignore_page).")
        faults.setdefault(system.strip(), []).append(fault.strip())
    return faults


class Stoppable(Protocol):
    def stop(self) -> None: ...


StoppableT = TypeVar("StoppableT", bound=Stoppable)


@dataclass
class SimulatedSystems:
    """Addresses of the running systems, as the connectors need them; ``stop()`` ends them all."""

    grid_url: str
    miniprogram_url: str
    health_db_url: str
    health_table: str
    civil_inbox_dir: Path
    token: str = field(repr=False)  # a bearer token never shows in a log or a traceback
    running: list[Stoppable] = field(default_factory=list, repr=False)
    department_inbox_url: str | None = None
    department_inbox: DepartmentInbox | None = None

    def adopt(self, system: StoppableT) -> StoppableT:
        """Stop ``system`` together with the others (the hook for systems started alongside)."""
        self.running.append(system)
        return system

    def stop(self) -> None:
        while self.running:
            self.running.pop().stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def check_data_dir(data_dir: Path) -> None:
    """Name every missing file at once, so the steward fixes the folder in one go."""
    if not data_dir.exists():
        raise SourceError(f"data folder {data_dir} does not exist")
    if not data_dir.is_dir():
        raise SourceError(f"data folder {data_dir} is not a folder")
    missing = [name for name in DATA_FILES if not (data_dir / name).is_file()]
    if missing:
        raise SourceError(
            f"data folder {data_dir} lacks {', '.join(missing)}; it needs all of {', '.join(DATA_FILES)}."
        )


def start_department_inbox(systems: SimulatedSystems, port: int = 0) -> DepartmentInbox:
    """The departments' report inbox, started and stopped together with the other systems."""
    inbox = systems.adopt(DepartmentInbox(port=port).start())
    systems.department_inbox = inbox
    systems.department_inbox_url = inbox.url
    return inbox


def start_simulated_systems(
    data_dir: Path,
    work_dir: Path,
    *,
    token: str,
    health_url: str | None = None,
    civil_rows_per_workbook: int = 5000,
    faults: Mapping[str, Iterable[str]] | None = None,
    history_dir: Path | None = None,
    ports: Mapping[str, int] | None = None,
) -> SimulatedSystems:
    """Start the grid API, the mini-program API, the health database and the civil-affairs inbox.

    ``history_dir`` keeps what each system served (``<history_dir>/<system>/``), so a start on an
    edited folder reports only the changes, with newer update times, and tombstones what is gone.
    ``faults`` (``{"grid": [...], "resident": [...]}``; default: from HUB_SIMULATED_FAULTS) switches
    on the servers' named faults from the start. ``ports`` (``{"grid", "miniprogram", "department_inbox"}``)
    asks for the ports a previous start used, so clients holding its addresses keep working; a port
    that is taken falls back to a free one."""
    check_data_dir(data_dir)
    ports = ports or {}
    faults = faults_from_env() if faults is None else faults
    known = {"grid": GRID_FAULTS, "resident": MINIPROGRAM_FAULTS}
    for faulty, names in faults.items():
        if faulty not in known or set(names) - known[faulty]:
            raise SourceError(
                f"simulated faults {faulty}:{sorted(names)} unknown; known: "
                + "; ".join(f"{name}: {', '.join(sorted(kinds))}" for name, kinds in known.items())
            )
    work_dir.mkdir(parents=True, exist_ok=True)
    started: list[Stoppable] = []
    try:
        def history(system: str) -> ServedHistory:
            return ServedHistory(None if history_dir is None else history_dir / system)

        grid = GridServer(
            data_dir / "grid_residents.csv",
            data_dir / "grid_events.csv",
            token=token,
            faults=faults.get("grid", ()),
            history=history("grid"),
            port=ports.get("grid", 0),
        )
        started.append(grid.start())
        miniprogram = MiniProgramServer(
            data_dir / "resident_events.csv",
            faults=faults.get("resident", ()),
            history=history("miniprogram"),
            port=ports.get("miniprogram", 0),
        )
        started.append(miniprogram.start())
        health = HealthSystem(
            data_dir / "health_records.csv", work_dir, url=health_url, table=DEFAULT_TABLE, history=history("health")
        )
        started.append(health.start())
        civil = CivilAffairsSystem(
            data_dir / "civil_affairs.csv",
            work_dir / "civil_inbox",
            rows_per_workbook=civil_rows_per_workbook,
        )
        started.append(civil.start())
        systems = SimulatedSystems(
            grid_url=grid.url,
            miniprogram_url=miniprogram.url,
            health_db_url=health.url,
            health_table=health.table,
            civil_inbox_dir=civil.inbox_dir,
            token=token,
            running=started,
        )
        start_department_inbox(systems, ports.get("department_inbox", 0))
    except BaseException:
        for system in reversed(started):
            system.stop()
        raise
    return systems
