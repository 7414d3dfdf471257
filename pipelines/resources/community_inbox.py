"""The community intake inbox (社区一表通): workbooks community staff drop once, read like any source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from connectors.intake_workbook import RECORD_ID, read_intake_workbook

WORKBOOK_SUFFIXES = (".xlsx",)


class CommunityInboxResource(dg.ConfigurableResource):
    """Folder of filled-in intake workbooks; rejection workbooks go to its `rejected/` subfolder."""

    path: str

    def workbooks(self) -> list[Path]:
        folder = Path(self.path)
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir() if p.suffix in WORKBOOK_SUFFIXES and not p.name.startswith("~$")
        )

    def rejected_dir(self) -> Path:
        return Path(self.path) / "rejected"

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(file:sheet:row, row) for every filled row of the dataset's sheet in every workbook."""
        for workbook in self.workbooks():
            for row in read_intake_workbook(workbook)[dataset]:
                yield f"{workbook.name}:{row[RECORD_ID]}", row
