"""The civil-affairs export inbox (民政 救助与补贴对象名册) as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from connectors.civil_inbox import read_civil_inbox
from schemas.mapping import load_mapping


class CivilInboxResource(dg.ConfigurableResource):
    """Folder where civil affairs drops its .xlsx exports; every workbook in it is one department's roster."""

    path: str

    def rows(self, dataset: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(file:row, row) for every data row of every workbook in the inbox."""
        if dataset != "residents":
            return
        required = load_mapping("residents", "civil").required_columns
        for row in read_civil_inbox(Path(self.path), required):
            yield f"{row.file}:第{row.row_number}行", row.values
