"""What every source holds now, standardized, and how far each source has been read (daily runs).

A run pulls only what a source changed or deleted since its cursor. The warehouse keeps:

- ``source_records``: one row per record each source currently holds, keyed by (dataset, source,
  record id): accepted (its standardized record as JSON) or quarantined, the hash of the raw row,
  its own update time, the commit (``change_seq``) that last changed it and ``base``, its state at
  the last completed run (``accepted``, ``quarantined`` or ``''`` when it was not there);
- ``source_removals``: the records a source deleted, with the commit that removed them;
- ``source_cursors``: per source, where the next pull starts (JSON, the source's own terms);
- ``source_pulls``: what each run's raw pull found (deleted ids, the next cursor, the source's size),
  applied by the standardize step;
- ``state_commits`` and ``completed_runs``: the commits, and the runs that finished (with the last
  commit they saw).

The standardize step applies a source's changes, deletions and its next cursor in ONE transaction,
so a crash leaves the cursor where the rows it covers are. The change set handed on (the delta) is
everything committed since the last COMPLETED run, so a run killed after committing loses nothing:
its rerun reports those changes again, relative to the same base.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from pipelines.faults import crash_point

state_metadata = sa.MetaData()

source_records = sa.Table(
    "source_records",
    state_metadata,
    sa.Column("dataset", sa.String(32), primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(128), primary_key=True),
    sa.Column("accepted", sa.Boolean, nullable=False),
    sa.Column("record", sa.Text, nullable=True),
    sa.Column("raw_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.String(64), nullable=True),
    sa.Column("change_seq", sa.Integer, nullable=False, index=True),
    sa.Column("base", sa.String(16), nullable=False),
)

source_removals = sa.Table(
    "source_removals",
    state_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("base", sa.String(16), nullable=False),
    sa.Column("change_seq", sa.Integer, nullable=False, index=True),
    sa.Column("run_id", sa.String(64), nullable=False),
)

source_cursors = sa.Table(
    "source_cursors",
    state_metadata,
    sa.Column("dataset", sa.String(32), primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
)

source_pulls = sa.Table(
    "source_pulls",
    state_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("snapshot", sa.Boolean, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("deleted", sa.Text, nullable=False),
    sa.Column("cursor", sa.Text, nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

state_commits = sa.Table(
    "state_commits",
    state_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
)

completed_runs = sa.Table(
    "completed_runs",
    state_metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
)

STATE_TABLES = (source_records, source_removals, source_cursors, source_pulls, state_commits, completed_runs)
DELTA_COLUMNS = ["source", "record_id", "change"]
ACCEPTED, QUARANTINED, ABSENT = "accepted", "quarantined", ""
CHUNK = 500


@dataclass(frozen=True)
class PendingPull:
    """One source's raw pull in a run, waiting for the standardize step to commit it."""

    source: str
    snapshot: bool
    deleted: list[str]
    cursor: dict[str, str] | None


@dataclass
class PulledRecord:
    """A record pulled in this run, as standardization left it (record None: quarantined)."""

    raw_hash: str
    updated_at: str | None
    record: dict[str, Any] | None


@dataclass
class CommitResult:
    removed: dict[str, int] = field(default_factory=dict)
    written: int = 0


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


def record_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)


class CurrentState:
    """The current-state tables of one warehouse (the migrations created them)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # runs -----------------------------------------------------------------------------------------
    def last_completed_seq(self, conn: sa.Connection | None = None) -> int:
        query = sa.select(sa.func.max(completed_runs.c.last_seq))
        if conn is not None:
            return int(conn.execute(query).scalar() or 0)
        with self.engine.connect() as own:
            return int(own.execute(query).scalar() or 0)

    def has_completed_run(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(completed_runs.c.run_id).limit(1)).first() is not None

    def complete_run(self, conn: sa.Connection, run_id: str, mode: str) -> None:
        """The run finished: what it committed becomes the base the next run's delta is told against."""
        since = self.last_completed_seq(conn)
        last = int(conn.execute(sa.select(sa.func.max(state_commits.c.id))).scalar() or 0)
        conn.execute(
            source_records.update()
            .where(source_records.c.change_seq > since)
            .values(base=sa.case((source_records.c.accepted, ACCEPTED), else_=QUARANTINED))
        )
        conn.execute(
            completed_runs.insert().values(run_id=run_id, mode=mode, last_seq=last, completed_at=datetime.now(UTC))
        )

    # pulls ----------------------------------------------------------------------------------------
    def cursor(self, dataset: str, source: str) -> dict[str, str] | None:
        query = sa.select(source_cursors.c.cursor).where(
            source_cursors.c.dataset == dataset, source_cursors.c.source == source
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else dict(json.loads(value))

    def known_records(self, dataset: str, source: str) -> dict[str, str]:
        """Record id -> raw hash of every record the source held at its last commit."""
        c = source_records.c
        query = sa.select(c.record_id, c.raw_hash).where(c.dataset == dataset, c.source == source)
        with self.engine.connect() as conn:
            return {str(key): str(digest) for key, digest in conn.execute(query)}

    def record_pull(
        self,
        run_id: str,
        dataset: str,
        source: str,
        *,
        mode: str,
        snapshot: bool,
        rows: int,
        size: int,
        deleted: Sequence[str],
        cursor: Mapping[str, str] | None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                source_pulls.insert().values(
                    run_id=run_id,
                    dataset=dataset,
                    source=source,
                    mode=mode,
                    snapshot=snapshot,
                    rows=rows,
                    size=size,
                    deleted=json.dumps(sorted(deleted), ensure_ascii=False),
                    cursor=None if cursor is None else json.dumps(dict(cursor), ensure_ascii=False),
                    recorded_at=datetime.now(UTC),
                )
            )

    def pending_pulls(self, run_id: str, dataset: str) -> dict[str, PendingPull]:
        c = source_pulls.c
        query = sa.select(source_pulls).where(c.run_id == run_id, c.dataset == dataset).order_by(c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {
            str(row["source"]): PendingPull(
                source=str(row["source"]),
                snapshot=bool(row["snapshot"]),
                deleted=list(json.loads(row["deleted"])),
                cursor=None if row["cursor"] is None else dict(json.loads(row["cursor"])),
            )
            for row in rows
        }

    def pulled_size(self, run_id: str, dataset: str, source: str) -> int | None:
        """How many records the source holds after this run's pull (for the shrink guard)."""
        c = source_pulls.c
        query = (
            sa.select(c.size)
            .where(c.run_id == run_id, c.dataset == dataset, c.source == source)
            .order_by(c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else int(value)

    # commit ---------------------------------------------------------------------------------------
    def commit(
        self,
        conn: sa.Connection,
        run_id: str,
        dataset: str,
        pulls: Mapping[str, PendingPull],
        pulled: Mapping[str, Mapping[str, PulledRecord]],
    ) -> CommitResult:
        """Apply each source's pulled records, its deletions and its next cursor, in ``conn``'s transaction."""
        result = CommitResult()
        inserted = conn.execute(
            state_commits.insert().values(run_id=run_id, dataset=dataset, committed_at=datetime.now(UTC))
        ).inserted_primary_key
        assert inserted is not None
        seq = int(inserted[0])
        since = self.last_completed_seq(conn)
        c = source_records.c
        for source in sorted(set(pulls) | set(pulled)):
            records = pulled.get(source, {})
            pull = pulls.get(source)
            deleted = [key for key in (pull.deleted if pull else []) if key not in records]
            touched = sorted(set(records) | set(deleted))
            existing: dict[str, dict[str, Any]] = {}
            for chunk in _chunks(touched):
                where = (c.dataset == dataset) & (c.source == source) & c.record_id.in_(chunk)
                query = sa.select(source_records).where(where)
                existing.update({str(row["record_id"]): dict(row) for row in conn.execute(query).mappings()})
            bases = self._removed_bases(conn, dataset, source, since, [k for k in records if k not in existing])
            inserts, replaced = [], []
            for key, pulled_record in records.items():
                accepted = pulled_record.record is not None
                text = record_json(pulled_record.record) if pulled_record.record is not None else None
                old = existing.get(key)
                if old is not None and bool(old["accepted"]) == accepted and old["record"] == text:
                    continue
                if old is not None:
                    replaced.append(key)
                inserts.append(
                    {
                        "dataset": dataset,
                        "source": source,
                        "record_id": key,
                        "accepted": accepted,
                        "record": text,
                        "raw_hash": pulled_record.raw_hash,
                        "updated_at": pulled_record.updated_at,
                        "change_seq": seq,
                        "base": old["base"] if old is not None else bases.get(key, ABSENT),
                    }
                )
            gone = [key for key in deleted if key in existing]
            for chunk in _chunks(replaced + gone):
                conn.execute(
                    source_records.delete().where(c.dataset == dataset, c.source == source, c.record_id.in_(chunk))
                )
            if inserts:
                conn.execute(source_records.insert(), inserts)
            if gone:
                conn.execute(
                    source_removals.insert(),
                    [
                        {
                            "dataset": dataset,
                            "source": source,
                            "record_id": key,
                            "base": existing[key]["base"],
                            "change_seq": seq,
                            "run_id": run_id,
                        }
                        for key in gone
                    ],
                )
            result.written += len(inserts) + len(gone)
            if pull is not None and pull.cursor is not None:
                self._set_cursor(conn, dataset, source, pull.cursor, run_id)
        crash_point("state_written")
        return result

    @staticmethod
    def _removed_bases(
        conn: sa.Connection, dataset: str, source: str, since: int, keys: Sequence[str]
    ) -> dict[str, str]:
        """A record deleted and back since the last completed run keeps the base it had then."""
        r = source_removals.c
        bases: dict[str, str] = {}
        for chunk in _chunks(keys):
            query = (
                sa.select(r.record_id, r.base)
                .where(r.dataset == dataset, r.source == source, r.change_seq > since, r.record_id.in_(chunk))
                .order_by(r.id)
            )
            for key, base in conn.execute(query):
                bases.setdefault(str(key), str(base))
        return bases

    @staticmethod
    def _set_cursor(conn: sa.Connection, dataset: str, source: str, cursor: Mapping[str, str], run_id: str) -> None:
        where = (source_cursors.c.dataset == dataset) & (source_cursors.c.source == source)
        conn.execute(source_cursors.delete().where(where))
        conn.execute(
            source_cursors.insert().values(
                dataset=dataset,
                source=source,
                cursor=json.dumps(dict(cursor), ensure_ascii=False),
                run_id=run_id,
                committed_at=datetime.now(UTC),
            )
        )

    # reads ----------------------------------------------------------------------------------------
    def current_frame(self, dataset: str, source_order: Sequence[str], columns: Sequence[str] = ()) -> pd.DataFrame:
        """Every accepted record the sources hold now, in the standardized schema."""
        c = source_records.c
        query = sa.select(c.source, c.record_id, c.record).where(c.dataset == dataset, c.accepted.is_(True))
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).all())
        rank = {source: position for position, source in enumerate(source_order)}
        rows.sort(key=lambda row: (rank.get(str(row[0]), len(rank)), str(row[1])))
        frame = pd.DataFrame([json.loads(row[2]) for row in rows])
        if frame.empty:
            return pd.DataFrame(columns=list(columns))
        ordered = [column for column in columns if column in frame.columns]
        return frame[ordered + [column for column in frame.columns if column not in ordered]]

    def drift(self, dataset: str, table: str) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        """Where ``table`` (source, record_id columns) and the accepted records the sources hold now
        disagree, told by the database: the keys only the table holds, the keys only the current state
        holds, and how many current records there are. Normally both key lists are empty, so a daily
        run does not read every key of a city-sized table."""
        c = source_records.c
        held_table = sa.table(table, sa.column("source"), sa.column("record_id"))
        held = sa.select(sa.cast(held_table.c.source, sa.String), sa.cast(held_table.c.record_id, sa.String))
        now = sa.select(sa.cast(c.source, sa.String), sa.cast(c.record_id, sa.String)).where(
            c.dataset == dataset, c.accepted.is_(True)
        )
        count = sa.select(sa.func.count()).select_from(source_records).where(c.dataset == dataset, c.accepted.is_(True))
        columns = ["source", "record_id"]
        with self.engine.connect() as conn:
            only_held = pd.DataFrame(conn.execute(sa.except_(held, now)).all(), columns=columns, dtype=object)
            only_now = pd.DataFrame(conn.execute(sa.except_(now, held)).all(), columns=columns, dtype=object)
            rows_now = int(conn.execute(count).scalar() or 0)
        return only_held, only_now, rows_now

    def records_of(self, dataset: str, keys: pd.DataFrame) -> list[dict[str, Any]]:
        """The standardized records (accepted ones) of the given (source, record_id) keys."""
        c = source_records.c
        found: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for source, ids in keys.groupby("source")["record_id"]:
                for chunk in _chunks(sorted(ids.astype(str).unique().tolist())):
                    query = sa.select(c.record).where(
                        c.dataset == dataset, c.source == str(source), c.accepted.is_(True), c.record_id.in_(chunk)
                    )
                    found += [json.loads(text) for (text,) in conn.execute(query)]
        return found

    def delta(self, dataset: str) -> tuple[pd.DataFrame, dict[str, int]]:
        """Changes since the last completed run: (source, record_id, change) and removals per source."""
        since = self.last_completed_seq()
        c, r = source_records.c, source_removals.c
        with self.engine.connect() as conn:
            changed = conn.execute(
                sa.select(c.source, c.record_id, c.accepted, c.base).where(c.dataset == dataset, c.change_seq > since)
            ).all()
            removals = conn.execute(
                sa.select(r.source, r.record_id, r.base)
                .where(r.dataset == dataset, r.change_seq > since)
                .order_by(r.id)
            ).all()
        rows: list[tuple[str, str, str]] = []
        present = set()
        for source, key, accepted, base in changed:
            present.add((str(source), str(key)))
            if accepted:
                rows.append((str(source), str(key), "edited" if base == ACCEPTED else "added"))
            elif base == ACCEPTED:
                rows.append((str(source), str(key), "removed"))
        removed: dict[str, int] = {}
        seen = set()
        for source, key, base in removals:
            item = (str(source), str(key))
            if item in present or item in seen or base == ABSENT:
                continue
            seen.add(item)
            removed[item[0]] = removed.get(item[0], 0) + 1
            if base == ACCEPTED:
                rows.append((item[0], item[1], "removed"))
        return pd.DataFrame(rows, columns=DELTA_COLUMNS), removed

    def current_counts(self, dataset: str) -> dict[str, int]:
        c = source_records.c
        query = sa.select(c.source, sa.func.count()).where(c.dataset == dataset).group_by(c.source)
        with self.engine.connect() as conn:
            return {str(source): int(count) for source, count in conn.execute(query)}
