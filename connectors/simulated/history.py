"""What a simulated department system served before, so that it behaves like a real one across runs.

A real system knows when each of its records last changed and which ones were deleted. A simulated
one is started on a data folder; served again on an edited folder it must report only what changed.
:class:`ServedHistory` keeps, per dataset, each record's content hash and update time, and the
records deleted (tombstones), in a JSON file (under HUB_HOME/simulated/ in the demo). Serving a new
folder diffs it against that file: an unchanged record keeps its update time, a changed or new one
gets a newer one, a record no longer there becomes a tombstone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path


def row_hash(row: dict[str, str]) -> str:
    """A stable hash of a row's content (column order ignored)."""
    return hashlib.sha1(json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class Served:
    """One dataset as served now: each row's update time, and the tombstones (id -> deleted at)."""

    updated: list[datetime]
    deleted: dict[str, datetime] = field(default_factory=dict)


class ServedHistory:
    """The served-before file of one system (``folder/<dataset>.json``); None folder: no memory."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def serve(
        self,
        dataset: str,
        rows: Sequence[dict[str, str]],
        id_column: str,
        first_stamps: Callable[[int], datetime],
        *,
        now: datetime,
    ) -> Served:
        """Update times and tombstones for ``rows``; remembers them for the next start.

        Without a previous file (or a folder) the rows get ``first_stamps(index)``. Otherwise an
        unchanged row keeps its time, a changed or new row and a deletion get one stamp, later than
        anything served before and not earlier than ``now``.
        """
        path = None if self.folder is None else self.folder / f"{dataset}.json"
        previous = json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None
        hashes = [row_hash(row) for row in rows]
        if previous is None:
            served = Served([first_stamps(index) for index in range(len(rows))])
        else:
            known: dict[str, list[str]] = previous["records"]
            deleted = {key: datetime.fromisoformat(value) for key, value in previous["deleted"].items()}
            stamps = [datetime.fromisoformat(stamp) for _, stamp in known.values()] + list(deleted.values())
            newest = max(stamps, default=now)
            stamp = max(newest + timedelta(seconds=1), now).replace(microsecond=0)
            updated = []
            for row, digest in zip(rows, hashes, strict=True):
                old = known.get(row[id_column])
                updated.append(datetime.fromisoformat(old[1]) if old is not None and old[0] == digest else stamp)
            present = {row[id_column] for row in rows}
            for record_id in known.keys() - present:
                deleted[record_id] = stamp
            served = Served(updated, {key: value for key, value in deleted.items() if key not in present})
        if path is not None:
            self._save(path, rows, id_column, hashes, served)
        return served

    @staticmethod
    def _save(path: Path, rows: Sequence[dict[str, str]], id_column: str, hashes: list[str], served: Served) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "records": {
                row[id_column]: [digest, stamp.isoformat()]
                for row, digest, stamp in zip(rows, hashes, served.updated, strict=True)
            },
            "deleted": {key: value.isoformat() for key, value in served.deleted.items()},
        }
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)
