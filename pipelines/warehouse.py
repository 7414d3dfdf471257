"""The warehouse: raw landing, every stage's tables, and the run log, on any SQLAlchemy URL.

SQLite by default (nothing to install), PostgreSQL through `HUB_DATABASE_URL`. Raw rows are kept
exactly as received, with their source, record id and batch, so any later result can be traced
back to what a department system sent. The warehouse's own tables are created by numbered
migrations (pipelines/migrations.py), once, under a lock; one run at a time writes to it
(pipelines/run_lock.py).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from connectors.push import DeliveryLog, delivery_tables
from hub_errors import HubError
from pipelines.changes import report_digest_table, snapshot_tables
from pipelines.current_state import STATE_TABLES, CurrentState
from pipelines.faults import crash_point
from pipelines.forms.store import FORM_TABLES
from pipelines.migrations import Migration, create_tables, migrate
from pipelines.roster_store import ROSTER_TABLES, RosterStore
from pipelines.run_lock import run_lock

metadata = sa.MetaData()

raw_records = sa.Table(
    "raw_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.String(64), nullable=False, index=True),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("row_ref", sa.String(256), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

stage_tables = sa.Table(
    "stage_tables",
    metadata,
    sa.Column("table_name", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
)


steward_decisions = sa.Table(
    "steward_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("left_source", sa.String(32), nullable=False),
    sa.Column("left_record_id", sa.String(128), nullable=False),
    sa.Column("right_source", sa.String(32), nullable=False),
    sa.Column("right_record_id", sa.String(128), nullable=False),
    sa.Column("same", sa.Boolean, nullable=False),
    sa.Column("steward", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
)

person_id_history = sa.Table(
    "person_id_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("person_id", sa.String(64), nullable=False, index=True),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

source_pull_counts = sa.Table(
    "source_pull_counts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("pulled", sa.Integer, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

link_models = sa.Table(
    "link_models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("changed_records", sa.Integer, nullable=False),
    sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
)

delivery_log, delivery_state = delivery_tables(metadata)
report_snapshots, report_snapshot_rows = snapshot_tables(metadata)
report_person_digests = report_digest_table(metadata)

# One row per cross-department alert ever raised (pipelines/alerts.py): its stable id, the record it
# is about, and its state: open, answered (the department's answer stays through later runs) or
# closed (its cause is gone; it opens again if the cause comes back).
alert_status = sa.Table(
    "alert_status",
    metadata,
    sa.Column("alert_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("person_id", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("answer", sa.String(32)),
    sa.Column("answered_by", sa.String(64)),
    sa.Column("answer_note", sa.Text),
    sa.Column("answered_at", sa.DateTime(timezone=True)),
    sa.Column("first_run_id", sa.String(64), nullable=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_run_id", sa.String(64), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
)

# A data steward's mapping of a residents' category word to a professional category (pipelines/review.py),
# with who decided, when and from which review workbook; the latest word on a word counts.
category_mappings = sa.Table(
    "category_mappings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("word", sa.String(256), nullable=False, index=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("steward", sa.String(64), nullable=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
)
ALERT_STATES = ("open", "answered", "closed")
ALERT_VALUES = ("kind", "source", "record_id", "person_id", "detail", "context")

MIGRATIONS = [
    Migration(
        1,
        "raw landing, stage table runs, steward decisions, person id history, delivery log",
        create_tables(raw_records, stage_tables, steward_decisions, person_id_history, delivery_log),
    ),
    Migration(2, "delivery state per report position; pulled counts per source", create_tables(
        delivery_state, source_pull_counts
    )),
    Migration(
        3,
        "daily runs: current records per source, removals, cursors, pulls, commits, completed runs",
        create_tables(*STATE_TABLES),
    ),
    Migration(4, "per department report, the rows it last received (change deliveries)", create_tables(
        report_snapshots, report_snapshot_rows
    )),
    Migration(5, "matching model kept between runs, for incremental linking", create_tables(link_models)),
    Migration(6, "cross-department alerts with stable ids and their state", create_tables(alert_status)),
    Migration(
        7,
        "community rosters sent (cells per person), returned files by hash, the corrections they carried",
        create_tables(*ROSTER_TABLES),
    ),
    Migration(8, "department forms: sends, returns, answers, community corrections", create_tables(*FORM_TABLES)),
    Migration(9, "stewards' category word mappings from review workbooks", create_tables(category_mappings)),
    Migration(
        10,
        "per department report, the golden digest its snapshot rows were built from (incremental reports)",
        create_tables(report_person_digests),
    ),
]

DECISION_COLUMNS = ["left_source", "left_record_id", "right_source", "right_record_id", "same"]


# Stage-table reads kept in memory between the steps of one run (Warehouse.read_table).
READ_CACHE_BYTES = 64 * 1024 * 1024
READ_RECORDS_CHUNK = 500  # record ids per IN (...) list, well below any database's parameter limit
LAND_CHUNK_ROWS = 20_000  # raw rows landed per insert
SAMPLE_ROWS = 5  # rows a streamed table write hands back for its metadata sample


def frame_bytes(frame: pd.DataFrame, sample_rows: int = 2_000) -> int:
    """The memory a frame holds, its strings included (a shallow count sees only their pointers, and a
    kept read of a few text columns of a city-sized table pins hundreds of MB of strings). Estimated
    from evenly spaced rows, so a large frame is not walked string by string."""
    if frame.empty:
        return int(frame.memory_usage(index=True, deep=False).sum())
    sample = frame.iloc[:: max(1, len(frame) // sample_rows)]
    return int(sample.memory_usage(index=True, deep=True).sum() * len(frame) / len(sample))


class WarehouseError(HubError):
    """The warehouse could not be reached or a stage table is missing."""


class AlertAnswerError(HubError):
    """An answer to an alert that does not exist or is not one of the allowed answers."""


SQLITE_BUSY_SECONDS = 60


def create_warehouse_engine(url: str) -> sa.Engine:
    """An engine for `url`, creating the folder of a SQLite file when needed.

    SQLite writers wait for each other (busy timeout) instead of failing with "database is locked".
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
    return sa.create_engine(url)


INSERT_CHUNK_ROWS = 50_000
PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_frame(conn: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to the existing table ``name`` through the driver's executemany, in chunks.

    pandas' own to_sql builds SQLAlchemy parameters row by row, which on a city's tables costs more
    than the step that made them; here each chunk is converted once (missing values to NULL, numpy
    scalars to Python) and handed to the driver as plain tuples.
    """
    if frame.empty:
        return
    quote = conn.dialect.identifier_preparer.quote
    marker = PLACEHOLDERS.get(conn.dialect.paramstyle, "%s")
    columns = ", ".join(quote(str(column)) for column in frame.columns)
    statement = f"INSERT INTO {quote(name)} ({columns}) VALUES ({', '.join([marker] * frame.shape[1])})"
    for start in range(0, len(frame), INSERT_CHUNK_ROWS):
        part = frame.iloc[start : start + INSERT_CHUNK_ROWS]
        chunk = part.astype(object).where(part.notna(), None)
        columns_data = [chunk.iloc[:, i].to_numpy(dtype=object) for i in range(chunk.shape[1])]
        for i in range(part.shape[1]):
            if pd.api.types.is_datetime64_any_dtype(part.iloc[:, i]):  # drivers bind datetime, not Timestamp
                columns_data[i] = np.array(
                    [None if pd.isna(value) else value.to_pydatetime() for value in part.iloc[:, i]], dtype=object
                )
        conn.exec_driver_sql(statement, list(zip(*columns_data, strict=True)))


class Warehouse:
    """Typed access to the warehouse tables."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.schema_version = migrate(engine, MIGRATIONS)
        self._read_cache: OrderedDict[tuple[str, tuple[str, ...] | None], tuple[tuple[Any, ...], pd.DataFrame, int]] = (
            OrderedDict()
        )

    def run_lock(self, holder: str, *, wait: float | None = None) -> AbstractContextManager[None]:
        """One run at a time on this warehouse (see pipelines/run_lock.py); re-entrant for ``holder``."""
        return run_lock(self.engine, holder, wait=wait)

    @property
    def state(self) -> CurrentState:
        """What each source holds now and how far it has been read (pipelines/current_state.py)."""
        return CurrentState(self.engine)

    def complete_run(self, run_id: str, mode: str) -> None:
        """Mark a run finished: the next run is incremental and tells its changes against this one."""
        with self.transaction() as conn:
            self.state.complete_run(conn, run_id, mode)

    @property
    def rosters(self) -> RosterStore:
        """Roster sends, returned files and community corrections (pipelines/roster_store.py)."""
        return RosterStore(self.engine)

    def delivery_log(self) -> DeliveryLog:
        """The delivery log and state (the migrations created their tables)."""
        return DeliveryLog(self.engine, create=False)

    @classmethod
    def existing(cls, url: str, *, found_by: str = "") -> Warehouse:
        """The warehouse at ``url`` if a run has created it; never a new, empty one (an embedded SQLite
        file that is not there is named, with how it was looked for)."""
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            where = url.removeprefix("sqlite:///")
            how = f" (found by {found_by})" if found_by else ""
            raise WarehouseError(
                f"no warehouse at {where}{how}: run `hub demo` first, or set HUB_HOME to the project's .hub "
                "folder (or HUB_DATABASE_URL to its database)"
            )
        return cls.from_url(url)

    @classmethod
    def from_url(cls, url: str) -> Warehouse:
        try:
            where = sa.make_url(url).render_as_string()
        except sa.exc.ArgumentError:
            raise WarehouseError(
                "HUB_DATABASE_URL is not a database URL (expected e.g. "
                "postgresql+psycopg://user@host:5432/hub or sqlite:////path/warehouse.sqlite)"
            ) from None
        try:
            return cls(create_warehouse_engine(url))
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise WarehouseError(f"warehouse at {where}: no driver for this kind of database ({exc})") from None
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()
            detail = " ".join(line.strip() for line in reason)
            raise WarehouseError(f"warehouse at {where} unreachable: {detail}") from None

    def land_raw(
        self,
        *,
        batch_id: str,
        dataset: str,
        source: str,
        rows: Iterable[tuple[str, str, Mapping[str, str]]],
    ) -> int:
        """Keep each row as received: (record_id, row_ref, payload), LAND_CHUNK_ROWS at a time in one
        transaction (a city's pull is never whole in memory as payload text). Returns the number landed."""
        now = datetime.now(UTC)
        landed = 0
        pending = iter(rows)
        with self.engine.begin() as conn:
            while chunk := list(islice(pending, LAND_CHUNK_ROWS)):
                records = [
                    {
                        "batch_id": batch_id,
                        "dataset": dataset,
                        "source": source,
                        "record_id": record_id,
                        "row_ref": row_ref,
                        "payload": json.dumps(payload, ensure_ascii=False),
                        "received_at": now,
                    }
                    for record_id, row_ref, payload in chunk
                ]
                conn.execute(raw_records.insert(), records)
                landed += len(records)
        return landed

    def raw_counts(self, batch_id: str, dataset: str) -> dict[str, int]:
        """Rows landed per source in one batch (one Dagster run) of a dataset."""
        query = (
            sa.select(raw_records.c.source, sa.func.count())
            .where(raw_records.c.batch_id == batch_id, raw_records.c.dataset == dataset)
            .group_by(raw_records.c.source)
        )
        with self.engine.connect() as conn:
            return {str(source): int(count) for source, count in conn.execute(query)}

    def write_table(self, name: str, frame: pd.DataFrame, run_id: str) -> None:
        """Replace a stage table with `frame` (one run's result) and note which run wrote it."""
        with self.transaction() as conn:
            self._replace_table(conn, name, frame, run_id)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction, DDL included: on SQLite the driver would otherwise commit before a
        CREATE/DROP, so a crash could leave half of a stage written."""
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @staticmethod
    def _replace_table(conn: sa.Connection, name: str, frame: pd.DataFrame, run_id: str) -> None:
        frame.head(0).to_sql(name, conn, if_exists="replace", index=False)
        insert_frame(conn, name, frame)
        conn.execute(stage_tables.delete().where(stage_tables.c.table_name == name))
        conn.execute(
            stage_tables.insert().values(table_name=name, run_id=run_id, rows=len(frame), written_at=datetime.now(UTC))
        )

    def replace_partition(self, name: str, frame: pd.DataFrame, column: str, key: str, run_id: str) -> None:
        """Replace the rows of one partition (``column`` = ``key``) of a stage table, leaving the others:
        a district re-linked on its own changes that district's rows only."""
        with self.transaction() as conn:
            quote = conn.dialect.identifier_preparer.quote
            if sa.inspect(conn).has_table(name):
                conn.execute(sa.text(f"DELETE FROM {quote(name)} WHERE {quote(column)} = :key"), {"key": key})
            else:
                frame.head(0).to_sql(name, conn, index=False)
            insert_frame(conn, name, frame)
            rows = int(conn.execute(sa.text(f"SELECT count(*) FROM {quote(name)}")).scalar() or 0)
            conn.execute(stage_tables.delete().where(stage_tables.c.table_name == name))
            conn.execute(
                stage_tables.insert().values(table_name=name, run_id=run_id, rows=rows, written_at=datetime.now(UTC))
            )

    def read_partitions(self, name: str, column: str, keys: Iterable[str]) -> pd.DataFrame:
        """The rows of the given partitions of a partitioned stage table."""
        wanted = sorted(set(keys))
        frame = self.read_table(name)
        return frame[frame[column].isin(wanted)].reset_index(drop=True)

    def write_lineage_with_history(
        self,
        name: str,
        lineage: pd.DataFrame,
        run_id: str,
        changes: pd.DataFrame,
        *,
        also: Callable[[sa.Connection], None] | None = None,
        previous: pd.DataFrame | None = None,
    ) -> int:
        """Replace the lineage table and append its id changes to the history in ONE transaction, so a
        crash leaves both as they were or both written (never ids in the history that no lineage holds).
        `also` writes what must change with them (the linking state) in the same transaction. With the
        ``previous`` lineage (what the table holds), only the rows that differ are written."""
        with self.transaction() as conn:
            written = self._insert_person_id_changes(conn, run_id, changes)
            crash_point("after_history")
            if previous is None:
                self._replace_table(conn, name, lineage, run_id)
            else:
                keys = ["source", "record_id"]
                joined = lineage.merge(previous, on=keys, how="outer", suffixes=("", "_before"), indicator=True)
                moved = joined["person_id"].astype(str) != joined["person_id_before"].astype(str)
                fresh = joined[(joined["_merge"] == "left_only") | ((joined["_merge"] == "both") & moved)]
                gone = joined[joined["_merge"] == "right_only"]
                stale = pd.concat([fresh, gone])[keys]
                self.replace_rows_in(conn, name, fresh[list(lineage.columns)], stale, run_id, rows_now=len(lineage))
            if also is not None:
                also(conn)
        crash_point("after_lineage")
        return written

    def replace_rows_in(
        self, conn: sa.Connection, name: str, rows: pd.DataFrame, stale: pd.DataFrame, run_id: str, *, rows_now: int
    ) -> None:
        """Delete the records of ``stale`` (source, record_id) from a stage table, append ``rows``, and note
        the run, inside the caller's transaction: a day's few changes without rewriting the table."""
        table = sa.table(name, sa.column("source"), sa.column("record_id"))
        for source, keys in stale.groupby("source")["record_id"]:
            ids = keys.astype(str).tolist()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(sa.delete(table).where(table.c.source == str(source), table.c.record_id.in_(chunk)))
        if len(rows):
            rows.to_sql(name, conn, if_exists="append", index=False, chunksize=5000)
        conn.execute(stage_tables.delete().where(stage_tables.c.table_name == name))
        conn.execute(
            stage_tables.insert().values(table_name=name, run_id=run_id, rows=rows_now, written_at=datetime.now(UTC))
        )

    def replace_table_in(self, conn: sa.Connection, name: str, frame: pd.DataFrame, run_id: str) -> None:
        """write_table inside a transaction the caller holds."""
        self._replace_table(conn, name, frame, run_id)

    @staticmethod
    def replace_table_from(
        conn: sa.Connection, name: str, blocks: Iterable[pd.DataFrame], run_id: str, columns: Sequence[str] = ()
    ) -> tuple[int, pd.DataFrame]:
        """Replace a stage table with the rows of ``blocks``, a block at a time, inside the caller's
        transaction, so a city's table is never whole in memory. The table takes ``columns`` (those the
        blocks have) first, then any other column in the order the blocks bring them. Returns the rows
        written and the first block (for a sample)."""
        quote = conn.dialect.identifier_preparer.quote
        held: list[str] | None = None
        first, rows = pd.DataFrame(columns=list(columns)), 0
        for block in blocks:
            if held is None:
                held = [c for c in columns if c in block.columns] + [c for c in block.columns if c not in columns]
                block.head(0)[held].to_sql(name, conn, if_exists="replace", index=False)
                first = block[held].head(SAMPLE_ROWS)
            for column in (c for c in block.columns if c not in held):
                conn.exec_driver_sql(f"ALTER TABLE {quote(name)} ADD COLUMN {quote(str(column))} TEXT")
                held.append(str(column))
            insert_frame(conn, name, block.reindex(columns=held))
            rows += len(block)
        if held is None:
            first.to_sql(name, conn, if_exists="replace", index=False)
        conn.execute(stage_tables.delete().where(stage_tables.c.table_name == name))
        conn.execute(
            stage_tables.insert().values(table_name=name, run_id=run_id, rows=rows, written_at=datetime.now(UTC))
        )
        return rows, first

    def latest_link_model(self) -> dict[str, Any] | None:
        """The last trained matching model (id, run_id, fields, model, records, changed_records), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(link_models).order_by(link_models.c.id.desc()).limit(1)).first()
        return dict(row._mapping) if row else None

    @staticmethod
    def save_link_model(conn: sa.Connection, run_id: str, fields: str, model: str, records: int) -> None:
        """Keep a freshly trained model (fields and weights as JSON text) for the next runs."""
        conn.execute(
            link_models.insert().values(
                run_id=run_id,
                fields=fields,
                model=model,
                records=records,
                changed_records=0,
                trained_at=datetime.now(UTC),
            )
        )

    @staticmethod
    def count_link_changes(conn: sa.Connection, model_id: int, changed: int) -> None:
        """Add a run's changed records to the model's tally (the drift that calls for retraining)."""
        conn.execute(
            link_models.update()
            .where(link_models.c.id == model_id)
            .values(changed_records=link_models.c.changed_records + changed)
        )

    def has_table(self, name: str) -> bool:
        return sa.inspect(self.engine).has_table(name)

    def record_decision(
        self, left: tuple[str, str], right: tuple[str, str], *, same: bool, steward: str, note: str = ""
    ) -> None:
        """A steward's word on two records; every later run honours the latest word on a pair."""
        with self.engine.begin() as conn:
            conn.execute(
                steward_decisions.insert().values(
                    left_source=left[0],
                    left_record_id=left[1],
                    right_source=right[0],
                    right_record_id=right[1],
                    same=same,
                    steward=steward,
                    note=note,
                    decided_at=datetime.now(UTC),
                )
            )

    def missing_records(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Which of ``keys`` (source, record id) are not among the accepted residents of the last run."""
        if not self.has_table("std_residents"):
            return list(keys)
        wanted = list(dict.fromkeys(keys))
        table = sa.Table("std_residents", sa.MetaData(), autoload_with=self.engine)
        found: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for source, record_id in wanted:
                hit = conn.execute(
                    sa.select(table.c.source).where(table.c.source == source, table.c.record_id == record_id).limit(1)
                ).first()
                if hit is not None:
                    found.add((source, record_id))
        return [key for key in wanted if key not in found]

    def read_records(self, name: str, keys: Iterable[tuple[str, str]], columns: Iterable[str]) -> pd.DataFrame:
        """The rows of stage table ``name`` whose (source, record_id) is among ``keys``, with those of
        ``columns`` the table has: a few records of a city-sized table without reading the rest."""
        present = {column["name"] for column in sa.inspect(self.engine).get_columns(name)}
        selected = [column for column in dict.fromkeys(["source", "record_id", *columns]) if column in present]
        table = sa.table(name, *(sa.column(column) for column in selected))
        by_source: dict[str, list[str]] = {}
        for source, record_id in dict.fromkeys((str(s), str(r)) for s, r in keys):
            by_source.setdefault(source, []).append(record_id)
        frames = [pd.DataFrame(columns=selected)]
        with self.engine.connect() as conn:
            for source, ids in by_source.items():
                for start in range(0, len(ids), READ_RECORDS_CHUNK):
                    chunk = ids[start : start + READ_RECORDS_CHUNK]
                    query = sa.select(table).where(table.c.source == source, table.c.record_id.in_(chunk))
                    frames.append(pd.read_sql(query, conn))
        found = [frame for frame in frames if len(frame)]
        return pd.concat(found, ignore_index=True) if found else frames[0]

    def record_category_mapping(self, word: str, category: str, *, steward: str, origin: str) -> None:
        """A steward's word that ``word`` means ``category``; every later run maps it so."""
        with self.engine.begin() as conn:
            conn.execute(
                category_mappings.insert().values(
                    word=word, category=category, steward=steward, origin=origin, decided_at=datetime.now(UTC)
                )
            )

    def category_mappings(self) -> dict[str, str]:
        """The latest category each steward-mapped word was given (word -> category)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(category_mappings.c.word, category_mappings.c.category).order_by(category_mappings.c.id)
            ).all()
        return {str(word): str(category) for word, category in rows}

    def decisions(self) -> pd.DataFrame:
        """The latest decision on each pair of records (either order), as dedup.link takes them."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(steward_decisions).order_by(steward_decisions.c.id)).mappings().all()
        latest: dict[frozenset[tuple[str, str]], dict[str, Any]] = {}
        for row in rows:
            left, right = (row["left_source"], row["left_record_id"]), (row["right_source"], row["right_record_id"])
            pair = frozenset({left, right})
            latest[pair] = {column: row[column] for column in DECISION_COLUMNS}
        return pd.DataFrame(list(latest.values()), columns=DECISION_COLUMNS)

    def record_person_id_changes(self, run_id: str, changes: pd.DataFrame) -> int:
        """Append this run's new, merged and split person ids to the history stewards can audit."""
        with self.engine.begin() as conn:
            return self._insert_person_id_changes(conn, run_id, changes)

    @staticmethod
    def _insert_person_id_changes(conn: sa.Connection, run_id: str, changes: pd.DataFrame) -> int:
        now = datetime.now(UTC)
        rows = [
            {
                "run_id": run_id,
                "person_id": str(change["person_id"]),
                "change": str(change["change"]),
                "detail": json.dumps(
                    {key: value for key, value in change.items() if key not in ("person_id", "change")},
                    ensure_ascii=False,
                    default=str,
                ),
                "recorded_at": now,
            }
            for change in changes.astype(object).where(changes.notna(), None).to_dict("records")
        ]
        if rows:
            conn.execute(person_id_history.insert(), rows)
        return len(rows)

    def issued_person_ids(self) -> set[str]:
        """Every person id the history has seen: a retired id is never issued to someone else."""
        with self.engine.connect() as conn:
            return {str(pid) for pid in conn.execute(sa.select(person_id_history.c.person_id).distinct()).scalars()}

    def read_table(self, name: str, columns: Iterable[str] | None = None, *, keep: bool = True) -> pd.DataFrame:
        """A stage table; with ``columns``, only those of them the table has (a step that needs a few
        columns of a city-sized table does not hold the rest in memory). Several steps of one run read
        the same table (golden_persons, std_residents): a read is kept while the table's write stamp
        in ``stage_tables`` (run, rows, time; every write updates it in its own transaction) is the
        same, up to READ_CACHE_BYTES, and each caller gets its own copy; ``keep=False`` for a table
        read once (the raw landings), which would only hold memory."""
        inspector = sa.inspect(self.engine)
        if not inspector.has_table(name):
            raise WarehouseError(
                f"warehouse table {name!r} does not exist yet: materialize the asset that writes it first"
            )
        selected = None
        if columns is not None:
            present = {column["name"] for column in inspector.get_columns(name)}
            selected = [column for column in columns if column in present]
        key = (name, tuple(selected) if selected is not None else None)
        written = self.table_run(name)
        stamp = (written["run_id"], written["rows"], str(written["written_at"])) if written else None
        kept = self._read_cache.get(key)
        if stamp is not None and kept is not None and kept[0] == stamp:
            self._read_cache.move_to_end(key)
            return kept[1].copy()
        with self.engine.connect() as conn:
            frame = pd.read_sql_table(name, conn, columns=selected)
        self._read_cache.pop(key, None)
        if stamp is not None and keep:
            self._keep_read(key, stamp, frame)
        return frame

    def _keep_read(self, key: tuple[str, tuple[str, ...] | None], stamp: tuple[Any, ...], frame: pd.DataFrame) -> None:
        size = frame_bytes(frame)
        if size > READ_CACHE_BYTES:
            return
        self._read_cache[key] = (stamp, frame.copy(), size)
        while sum(kept_size for _, _, kept_size in self._read_cache.values()) > (
            READ_CACHE_BYTES
        ):
            self._read_cache.popitem(last=False)

    def table_run(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(stage_tables).where(stage_tables.c.table_name == name)).first()
        return dict(row._mapping) if row else None

    def record_pulled(self, run_id: str, dataset: str, source: str, pulled: int, *, passed: bool) -> None:
        """Note how many rows a source gave this run and whether the shrink guard let them through."""
        with self.engine.begin() as conn:
            conn.execute(
                source_pull_counts.insert().values(
                    run_id=run_id,
                    dataset=dataset,
                    source=source,
                    pulled=pulled,
                    passed=passed,
                    recorded_at=datetime.now(UTC),
                )
            )

    def last_passed_pull(self, dataset: str, source: str) -> int | None:
        """The count of the latest pull of this source that passed the shrink guard, if any."""
        counts = source_pull_counts.c
        query = (
            sa.select(counts.pulled)
            .where(counts.dataset == dataset, counts.source == source, counts.passed.is_(True))
            .order_by(counts.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else int(value)

    def reconcile_alerts(
        self, found: pd.DataFrame, run_id: str, *, judged: Iterable[str] | None = None
    ) -> tuple[pd.DataFrame, int]:
        """Bring the alert states up to this run's findings, in one transaction; returns the current
        alerts (found ones, with status, answer and first_seen_at) and how many closed now.

        A new alert opens; one still found keeps its state (an answer stays); one closed before and
        found again opens again, unanswered. An open or answered alert of a kind in ``judged`` (default:
        every kind) that this run did not find closes: its cause is gone. Kinds left out of ``judged``
        (a source they rely on was held back) keep their alerts as they were.
        """
        now = datetime.now(UTC)
        found = found.astype(object)
        with self.transaction() as conn:
            existing = {row["alert_id"]: dict(row) for row in conn.execute(sa.select(alert_status)).mappings()}
            every_kind = set(found["kind"]) | {row["kind"] for row in existing.values()}
            kinds = every_kind if judged is None else set(judged)
            for row in found.to_dict("records"):
                values = {key: str(row[key]) for key in ALERT_VALUES}
                before = existing.get(row["alert_id"])
                if before is None:
                    conn.execute(
                        alert_status.insert().values(
                            alert_id=row["alert_id"],
                            status="open",
                            first_run_id=run_id,
                            first_seen_at=now,
                            last_run_id=run_id,
                            last_seen_at=now,
                            **values,
                        )
                    )
                    continue
                update: dict[str, Any] = {**values, "last_run_id": run_id, "last_seen_at": now}
                if before["status"] == "closed":
                    update.update(
                        status="open", closed_at=None, answer=None, answered_by=None, answer_note=None, answered_at=None
                    )
                conn.execute(alert_status.update().where(alert_status.c.alert_id == row["alert_id"]).values(**update))
            seen = set(found["alert_id"])
            gone = [
                alert
                for alert, row in existing.items()
                if row["status"] != "closed" and row["kind"] in kinds and alert not in seen
            ]
            for start in range(0, len(gone), 500):
                conn.execute(
                    alert_status.update()
                    .where(alert_status.c.alert_id.in_(gone[start : start + 500]))
                    .values(status="closed", closed_at=now)
                )
            states = pd.read_sql(sa.select(alert_status).where(alert_status.c.status != "closed"), conn)
        current = states[states["alert_id"].isin(seen)]
        return current.reset_index(drop=True), len(gone)

    def answer_alert(self, alert: str, answer: str, *, by: str, note: str = "", allowed: Iterable[str] = ()) -> None:
        """A department's answer to an alert; it stays answered through later runs while its cause
        lasts (pipelines/config/alerts.yaml lists the allowed answers)."""
        choices = list(allowed)
        if choices and answer not in choices:
            raise AlertAnswerError(f"核验结果“{answer}”不在可选项 {'/'.join(choices)} 中")
        with self.engine.begin() as conn:
            status = conn.execute(sa.select(alert_status.c.status).where(alert_status.c.alert_id == alert)).scalar()
            if status is None:
                raise AlertAnswerError(f"没有编号为 {alert} 的核验提示")
            if status == "closed":
                raise AlertAnswerError(f"核验提示 {alert} 已因原因消除而关闭，无需答复")
            conn.execute(
                alert_status.update()
                .where(alert_status.c.alert_id == alert)
                .values(
                    status="answered", answer=answer, answered_by=by, answer_note=note, answered_at=datetime.now(UTC)
                )
            )

    def alert_states(self) -> pd.DataFrame:
        """Every alert ever raised with its state."""
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(alert_status).order_by(alert_status.c.alert_id), conn)
