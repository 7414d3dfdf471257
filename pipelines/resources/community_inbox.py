"""The community inbox (社区收件箱): intake workbooks community staff drop once, read like any source,
and the workbooks the hub sent out coming back (returns, pipelines/community_returns.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from connectors.inbox import (
    DEFAULT_MAX_FILE_MB,
    REJECTED_DIR_NAME,
    InboxScan,
    RejectedFile,
    SourcePull,
    scan_inbox,
)
from connectors.intake_workbook import RECORD_ID, IntakeRows, read_intake_workbook
from connectors.return_marker import recognise_return
from connectors.spreadsheet import WorkbookRejected


class CommunityInboxResource(dg.ConfigurableResource):
    """Folder of filled-in intake workbooks; rejection workbooks go to its `rejected/` subfolder.

    A copy of a workbook already in the folder is read once; an entry that cannot be read is left
    out of the rows (the `intake_rejections` asset returns it to its sender) and the rest are read.
    """

    path: str
    max_file_mb: int = DEFAULT_MAX_FILE_MB

    def scan(self) -> InboxScan:
        """The intake workbooks and rejected entries; returned workbooks (those carrying the hub's
        return marker: rosters, department forms, old forms too) are left to
        pipelines/community_returns.py."""
        scan = scan_inbox(Path(self.path), max_file_mb=self.max_file_mb)
        returns = {path for path in scan.workbooks if recognise_return(path) is not None}
        scan.workbooks = [path for path in scan.workbooks if path not in returns]
        scan.duplicates = [copy for copy in scan.duplicates if copy.same_as not in returns]
        return scan

    def all_workbooks(self) -> list[Path]:
        """Every workbook to read, intake and returns alike (what the sensor watches)."""
        return scan_inbox(Path(self.path), max_file_mb=self.max_file_mb).workbooks

    def workbooks(self) -> list[Path]:
        """The workbooks to read: copies and entries rejected by name or kind left out (a damaged
        file is only found when read, see read_all)."""
        return self.scan().workbooks

    def rejected_dir(self) -> Path:
        return Path(self.path) / REJECTED_DIR_NAME

    def read_all(self) -> tuple[dict[Path, IntakeRows], InboxScan]:
        """Rows of every readable workbook, and the scan with the unreadable ones added to its rejects."""
        scan = self.scan()
        read: dict[Path, IntakeRows] = {}
        for workbook in scan.workbooks:
            try:
                read[workbook] = read_intake_workbook(workbook)
            except WorkbookRejected as rejected:
                scan.rejected.append(RejectedFile(workbook, rejected.check, rejected.reason))
        return read, scan

    def pull(self, dataset: str) -> SourcePull:
        """(file:sheet:row, row) for every filled row of the dataset's sheet, and what was set aside."""
        read, scan = self.read_all()
        rows = [(row[RECORD_ID], row) for datasets in read.values() for row in datasets[dataset]]
        return SourcePull(rows=rows, rejected=scan.rejected, duplicates=scan.duplicates)

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(file:sheet:row, row) for every filled row of the dataset's sheet in every workbook."""
        yield from self.pull(dataset).rows
