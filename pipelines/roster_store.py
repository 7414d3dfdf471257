"""What the warehouse keeps of the rosters sent and the corrections that came back (migration 7).

A returned roster is read against what was sent, so each send keeps its cells per person
(``roster_send_rows``). Each returned file is recorded once by the hash of its bytes
(``returned_files``), so the same file dropped again is recognised and not applied twice; every
correction it carried is a row of ``roster_corrections``: who corrected which field of which
person, from what to what, and when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

SEND_ROWS_CHUNK = 5000


def roster_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table, sa.Table, sa.Table]:
    sends = sa.Table(
        "roster_sends",
        metadata,
        sa.Column("send_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("persons", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    send_rows = sa.Table(
        "roster_send_rows",
        metadata,
        sa.Column("send_id", sa.String(32), primary_key=True),
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("cells", sa.Text, nullable=False),
    )
    returns = sa.Table(
        "returned_files",
        metadata,
        sa.Column("file_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("send_id", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),  # applied / rejected
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("corrections", sa.Integer, nullable=False),
        sa.Column("checked_by", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    corrections = sa.Table(
        "roster_corrections",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(64), nullable=False, index=True),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("sent_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("send_id", sa.String(32), nullable=False),
        sa.Column("file_hash", sa.String(64), nullable=False, index=True),
        sa.Column("sheet_row", sa.Integer, nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("checked_by", sa.String(128), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    return sends, send_rows, returns, corrections


_metadata = sa.MetaData()
roster_sends, roster_send_rows, returned_files, roster_corrections = roster_tables(_metadata)
ROSTER_TABLES = (roster_sends, roster_send_rows, returned_files, roster_corrections)
CORRECTION_COLUMNS = ["person_id", "field", "sent_value", "new_value", "send_id", "file_hash", "sheet_row",
                      "community", "checked_by", "checked_at", "run_id"]


@dataclass(frozen=True)
class Send:
    send_id: str
    kind: str
    community: str
    run_id: str
    as_of: str


@dataclass(frozen=True)
class Correction:
    """One changed cell of a returned roster, as the warehouse records it."""

    person_id: str
    field: str
    sent_value: str | None
    new_value: str | None
    sheet_row: int


class RosterStore:
    """Sends, returned files and corrections (the migrations created the tables)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record_send(self, send: Send, rows: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep one community's roster as sent: person id -> the cells the roster showed."""
        now = datetime.now(UTC)
        payload = [
            {"send_id": send.send_id, "person_id": person, "cells": json.dumps(cells, ensure_ascii=False)}
            for person, cells in rows.items()
        ]
        with self.engine.begin() as conn:
            conn.execute(roster_send_rows.delete().where(roster_send_rows.c.send_id == send.send_id))
            conn.execute(roster_sends.delete().where(roster_sends.c.send_id == send.send_id))
            conn.execute(
                roster_sends.insert().values(
                    send_id=send.send_id, kind=send.kind, community=send.community, run_id=send.run_id,
                    as_of=send.as_of, persons=len(payload), sent_at=now,
                )
            )
            for start in range(0, len(payload), SEND_ROWS_CHUNK):
                conn.execute(roster_send_rows.insert(), payload[start : start + SEND_ROWS_CHUNK])

    def send(self, send_id: str) -> Send | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(roster_sends).where(roster_sends.c.send_id == send_id)).mappings().first()
        if row is None:
            return None
        return Send(row["send_id"], row["kind"], row["community"], row["run_id"], row["as_of"])

    def sent_rows(self, send_id: str) -> dict[str, dict[str, Any]]:
        query = sa.select(roster_send_rows.c.person_id, roster_send_rows.c.cells).where(
            roster_send_rows.c.send_id == send_id
        )
        with self.engine.connect() as conn:
            return {str(person): json.loads(cells) for person, cells in conn.execute(query)}

    def seen_return(self, file_hash: str) -> dict[str, Any] | None:
        """The earlier processing of a file with these bytes, if any."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(returned_files).where(returned_files.c.file_hash == file_hash))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def record_returned_file(
        self,
        conn: sa.Connection,
        *,
        file_hash: str,
        kind: str,
        send_id: str,
        file_name: str,
        outcome: str,
        run_id: str,
        rows_read: int = 0,
        corrections: int = 0,
        checked_by: str = "",
    ) -> None:
        """Note a processed file by the hash of its bytes, inside the caller's transaction (with what it
        applied): ``seen_return`` then finds it, so the same file is never applied twice. Handlers of
        other return kinds may call this too (forms keep their own record, ``form_returns``)."""
        conn.execute(
            returned_files.insert().values(
                file_hash=file_hash, kind=kind, send_id=send_id[:64], file_name=file_name[:1000], outcome=outcome,
                rows_read=rows_read, corrections=corrections, checked_by=checked_by[:128], run_id=run_id,
                received_at=datetime.now(UTC),
            )
        )

    def record_return(
        self,
        *,
        file_hash: str,
        kind: str,
        send: Send,
        file_name: str,
        outcome: str,
        rows_read: int,
        checked_by: str,
        checked_at: datetime,
        run_id: str,
        corrections: Sequence[Correction] = (),
    ) -> None:
        """A processed roster and its corrections, in one transaction (all of it or nothing)."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            self.record_returned_file(
                conn, file_hash=file_hash, kind=kind, send_id=send.send_id, file_name=file_name, outcome=outcome,
                run_id=run_id, rows_read=rows_read, corrections=len(corrections), checked_by=checked_by,
            )
            if corrections:
                conn.execute(
                    roster_corrections.insert(),
                    [
                        {
                            "person_id": item.person_id, "field": item.field, "sent_value": item.sent_value,
                            "new_value": item.new_value, "send_id": send.send_id, "file_hash": file_hash,
                            "sheet_row": item.sheet_row, "community": send.community[:128],
                            "checked_by": checked_by[:128], "checked_at": checked_at, "run_id": run_id,
                            "recorded_at": now,
                        }
                        for item in corrections
                    ],
                )

    def corrections(self) -> pd.DataFrame:
        """Every correction ever applied, oldest first (CORRECTION_COLUMNS)."""
        query = sa.select(*(roster_corrections.c[name] for name in CORRECTION_COLUMNS)).order_by(
            roster_corrections.c.checked_at, roster_corrections.c.id
        )
        with self.engine.connect() as conn:
            frame = pd.read_sql(query, conn)
        return frame.astype(object).where(frame.notna(), None)


def sent_cells(frame: pd.DataFrame, key_column: str) -> dict[str, dict[str, Any]]:
    """person id -> {header: value as text} of a roster table (None stays None)."""
    headers = [str(header) for header in frame.columns]
    if key_column not in headers:
        return {}
    columns = []
    for position in range(len(headers)):
        values = frame.iloc[:, position]
        cells = values.to_numpy(dtype=object, copy=True)
        cells[values.isna().to_numpy(dtype=bool)] = None
        columns.append([None if value is None else str(value) for value in cells.tolist()])
    keys = columns[headers.index(key_column)]
    return {
        key: dict(zip(headers, row, strict=True))
        for key, row in zip(keys, zip(*columns, strict=True), strict=True)
        if key is not None
    }
