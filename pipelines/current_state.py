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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

import numpy as np
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


PULLED_COLUMNS = ["source", "record_id", "raw_hash", "updated_at", "record"]
"""The records pulled in a run, one row each, as standardization left them: the raw row's hash, the
source's update time and the standardized record as JSON (``record_json``; None: quarantined)."""
COMMIT_BLOCK = 20_000  # pulled records compared and written at a time (bounds the commit's memory)
READ_BLOCK = 50_000  # current records parsed and written at a time by a full rewrite


@dataclass
class CommitResult:
    removed: dict[str, int] = field(default_factory=dict)
    written: int = 0


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


def _text_or_none(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def record_json(record: object) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_JSON_TEXT = encode_basestring  # what json.dumps(text, ensure_ascii=False) writes for a str


def _encoded_column(values: pd.Series, prefix: str) -> np.ndarray:
    """``prefix`` and each value of a column as ``record_json`` writes it, encoded once per distinct value."""
    array = values.to_numpy(dtype=object)
    codes, uniques = pd.factorize(array, use_na_sentinel=True)
    kind = pd.api.types.infer_dtype(uniques, skipna=True)
    if kind == "string":
        encoded = [prefix + _JSON_TEXT(value) for value in uniques]
    elif kind in ("boolean", "integer", "floating", "empty"):
        encoded = [prefix + _ENCODER.encode(value) for value in uniques]
    else:  # mixed kinds: True == 1 == 1.0 would share one code, so encode value by value
        return np.array([prefix + _json_value(value) for value in array.tolist()], dtype=object)
    return np.array([*encoded, prefix + "null"], dtype=object)[codes]


def _json_value(value: object) -> str:
    return "null" if _text_or_none(value) is None else _ENCODER.encode(value)


def records_json(frame: pd.DataFrame) -> list[str]:
    """``record_json`` of every row of ``frame`` (missing values as null), the same text, column by
    column: each distinct value is encoded once instead of once per row and field."""
    if frame.empty:
        return []
    names = sorted(frame.columns, key=str)
    pieces = []
    for name in names:
        pieces.append(_encoded_column(frame[name], json.dumps(str(name), ensure_ascii=False) + ": ").tolist())
    return ["{" + ", ".join(row) + "}" for row in zip(*pieces, strict=True)]


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
        pulled: pd.DataFrame,
    ) -> CommitResult:
        """Apply each source's pulled records (``PULLED_COLUMNS``, one row per record id), its deletions
        and its next cursor, in ``conn``'s transaction; COMMIT_BLOCK records at a time."""
        result = CommitResult()
        inserted = conn.execute(
            state_commits.insert().values(run_id=run_id, dataset=dataset, committed_at=datetime.now(UTC))
        ).inserted_primary_key
        assert inserted is not None
        seq = int(inserted[0])
        since = self.last_completed_seq(conn)
        by_source = dict(iter(pulled.groupby("source", sort=False))) if len(pulled) else {}
        for source in sorted(set(pulls) | {str(key) for key in by_source}):
            records = by_source.get(source, pd.DataFrame(columns=PULLED_COLUMNS)).set_index("record_id", drop=False)
            pull = pulls.get(source)
            deleted = [key for key in (pull.deleted if pull else []) if key not in records.index]
            touched = sorted(set(records.index) | set(deleted))
            for start in range(0, len(touched), COMMIT_BLOCK):
                block = touched[start : start + COMMIT_BLOCK]
                written = self._commit_block(
                    conn, run_id, dataset, source, seq, since, records.loc[[k for k in block if k in records.index]],
                    [k for k in block if k not in records.index],
                )  # fmt: skip
                result.written += written
            if pull is not None and pull.cursor is not None:
                self._set_cursor(conn, dataset, source, pull.cursor, run_id)
        crash_point("state_written")
        return result

    def _commit_block(
        self,
        conn: sa.Connection,
        run_id: str,
        dataset: str,
        source: str,
        seq: int,
        since: int,
        records: pd.DataFrame,
        deleted: Sequence[str],
    ) -> int:
        """One block of a source's pulled records and deletions; returns the rows it wrote."""
        c = source_records.c
        existing: dict[str, tuple[bool, str | None, str]] = {}
        for chunk in _chunks([*records.index, *deleted]):
            where = (c.dataset == dataset) & (c.source == source) & c.record_id.in_(chunk)
            query = sa.select(c.record_id, c.accepted, c.record, c.base).where(where)
            existing.update(
                {str(key): (bool(accepted), text, str(base)) for key, accepted, text, base in conn.execute(query)}
            )
        bases = self._removed_bases(conn, dataset, source, since, [k for k in records.index if k not in existing])
        inserts, replaced = [], []
        for key, digest, stamp, text in zip(
            records.index, records["raw_hash"], records["updated_at"], records["record"], strict=True
        ):
            text = _text_or_none(text)
            old = existing.get(key)
            if old is not None and old[0] == (text is not None) and old[1] == text:
                continue
            if old is not None:
                replaced.append(key)
            inserts.append(
                {
                    "dataset": dataset,
                    "source": source,
                    "record_id": key,
                    "accepted": text is not None,
                    "record": text,
                    "raw_hash": digest,
                    "updated_at": _text_or_none(stamp),
                    "change_seq": seq,
                    "base": old[2] if old is not None else bases.get(key, ABSENT),
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
                        "base": existing[key][2],
                        "change_seq": seq,
                        "run_id": run_id,
                    }
                    for key in gone
                ],
            )
        return len(inserts) + len(gone)

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
    def current_chunks(
        self, conn: sa.Connection, dataset: str, source_order: Sequence[str], rows: int = READ_BLOCK
    ) -> Iterator[pd.DataFrame]:
        """Every accepted record the sources hold now, in the standardized schema, ``rows`` at a time:
        each source in ``source_order`` (then any other, by name), by record id. Each block is one query
        run to its end on ``conn``, so the caller may write on the same connection between blocks."""
        c = source_records.c
        # Code point order, as Python sorts: SQLite compares text bytewise; PostgreSQL by "C" collation.
        key = c.record_id.collate("C") if conn.dialect.name == "postgresql" else c.record_id
        held = conn.execute(sa.select(c.source).where(c.dataset == dataset, c.accepted.is_(True)).distinct()).scalars()
        held_sources = {str(source) for source in held}
        ordered = [source for source in source_order if source in held_sources]
        for source in ordered + sorted(held_sources - set(ordered)):
            after: str | None = None
            while True:
                query = sa.select(c.record_id, c.record).where(
                    c.dataset == dataset, c.source == source, c.accepted.is_(True)
                )
                if after is not None:
                    query = query.where(key > after)
                block = conn.execute(query.order_by(key).limit(rows)).all()
                if not block:
                    break
                after = str(block[-1][0])
                yield pd.DataFrame([json.loads(text) for _, text in block])
                if len(block) < rows:
                    break

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
