"""The civil-affairs export inbox (民政 救助与补贴对象名册) as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from connectors.civil_inbox import read_civil_inbox
from connectors.inbox import DEFAULT_MAX_FILE_MB, REJECTED_DIR_NAME, SourcePull, move_rejected
from schemas.mapping import load_mapping


class CivilInboxResource(dg.ConfigurableResource):
    """Folder where civil affairs drops its .xlsx exports; every workbook in it is one department's roster.

    Entries that cannot be read move to its `rejected/` folder with a note saying why.
    """

    path: str
    max_file_mb: int = DEFAULT_MAX_FILE_MB

    def pull(self, dataset: str) -> SourcePull:
        """(file:row, row) for every data row of every readable workbook, and what was set aside."""
        if dataset != "residents":
            return SourcePull()
        required = load_mapping("residents", "civil").required_columns
        inbox = Path(self.path)
        read = read_civil_inbox(inbox, required, max_file_mb=self.max_file_mb)
        move_rejected(read.rejected, inbox / REJECTED_DIR_NAME)
        rows = [(f"{row.file}:第{row.row_number}行", row.values) for row in read.rows]
        return SourcePull(rows=rows, rejected=read.rejected, duplicates=read.duplicates)

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(file:row, row) for every data row of every readable workbook in the inbox."""
        yield from self.pull(dataset).rows
