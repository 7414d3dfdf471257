"""Warehouse tables of the forms (migration 8): what went out, what came back, what it changed.

``form_sends`` / ``form_send_rows``: every workbook sent (the first send and each reminder), its
community and the persons on it with the values shown, so a return is compared with what was sent.
``form_returns``: every returned file, by content digest (the same file dropped twice is applied
once), with what became of it. ``form_answers``: the answers, one row per return row; the latest per
person counts. ``form_corrections``: a community's corrections to pre-filled values (community
corrections, for the stewards and the source systems).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

form_metadata = sa.MetaData()

form_sends = sa.Table(
    "form_sends",
    form_metadata,
    sa.Column("send_id", sa.String(32), primary_key=True),
    sa.Column("form", sa.String(64), nullable=False, index=True),
    sa.Column("community", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # send | reminder
    sa.Column("persons", sa.Integer, nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("due", sa.String(10), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
)

form_send_rows = sa.Table(
    "form_send_rows",
    form_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("send_id", sa.String(32), nullable=False, index=True),
    sa.Column("person_id", sa.String(64), nullable=False),
    sa.Column("shown", sa.Text, nullable=False),  # JSON {header: value as shown (masked where masked)}
)

form_returns = sa.Table(
    "form_returns",
    form_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(64), nullable=False, index=True),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("send_id", sa.String(32), nullable=False),
    sa.Column("community", sa.String(128), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # accepted | duplicate | unknown_send | layout
    sa.Column("rows_answered", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("rows_added", sa.Integer, nullable=False),
    sa.Column("corrections", sa.Integer, nullable=False),
    sa.Column("rejection_file", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

form_answers = sa.Table(
    "form_answers",
    form_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("return_id", sa.Integer, nullable=False, index=True),
    sa.Column("form", sa.String(64), nullable=False, index=True),
    sa.Column("send_id", sa.String(32), nullable=False),
    sa.Column("community", sa.String(128), nullable=False),
    sa.Column("row_key", sa.String(160), nullable=False),  # the person id, or added:<digest>:<row>
    sa.Column("person_id", sa.String(64), nullable=False),  # "" for a person the hub did not know
    sa.Column("answers", sa.Text, nullable=False),  # JSON {ask header: value}
    sa.Column("known", sa.Text, nullable=False),  # JSON {known header: value as returned}
    sa.Column("intake_record", sa.String(256), nullable=False),  # the intake record an added row became
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
)

form_corrections = sa.Table(
    "form_corrections",
    form_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("return_id", sa.Integer, nullable=False, index=True),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("community", sa.String(128), nullable=False),
    sa.Column("person_id", sa.String(64), nullable=False, index=True),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("sent_value", sa.Text, nullable=False),
    sa.Column("corrected_value", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

FORM_TABLES = (form_sends, form_send_rows, form_returns, form_answers, form_corrections)


@dataclass(frozen=True)
class SendRecord:
    send_id: str
    form: str
    community: str
    kind: str
    persons: int
    file: str
    due: str
    sent_at: datetime


def record_send(conn: sa.Connection, send: SendRecord, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """One workbook sent: the send and, per person, the values shown on it."""
    conn.execute(form_sends.insert().values(**send.__dict__))
    if rows:
        conn.execute(
            form_send_rows.insert(),
            [
                {"send_id": send.send_id, "person_id": person, "shown": json.dumps(shown, ensure_ascii=False)}
                for person, shown in rows
            ],
        )


def find_send(conn: sa.Connection, send_id: str) -> SendRecord | None:
    row = conn.execute(sa.select(form_sends).where(form_sends.c.send_id == send_id)).mappings().first()
    return SendRecord(**dict(row)) if row else None


def sent_rows(conn: sa.Connection, send_id: str) -> dict[str, dict[str, str]]:
    """person id -> the values shown on that send."""
    query = sa.select(form_send_rows.c.person_id, form_send_rows.c.shown).where(form_send_rows.c.send_id == send_id)
    return {str(person): json.loads(shown) for person, shown in conn.execute(query)}


def return_with_digest(conn: sa.Connection, digest: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.select(form_returns).where(form_returns.c.digest == digest, form_returns.c.status != "duplicate")
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def read_frame(engine: sa.Engine, table: sa.Table, form: str) -> pd.DataFrame:
    """One form's rows of a forms table."""
    with engine.connect() as conn:
        return pd.read_sql(sa.select(table).where(table.c.form == form), conn)


def sends_with_rows(engine: sa.Engine, form: str) -> pd.DataFrame:
    """send_id, community, kind, sent_at, due, person_id, shown for every person of every send of a form."""
    query = (
        sa.select(
            form_sends.c.send_id,
            form_sends.c.community,
            form_sends.c.kind,
            form_sends.c.sent_at,
            form_sends.c.due,
            form_send_rows.c.person_id,
            form_send_rows.c.shown,
        )
        .join(form_send_rows, form_send_rows.c.send_id == form_sends.c.send_id)
        .where(form_sends.c.form == form)
    )
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
