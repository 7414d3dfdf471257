"""Golden person records for one run, rebuilt only for the persons whose records changed.

A golden record is a function of its person's standardized records and the survivorship rules alone,
so a person whose records (membership and content) are the same as when its golden record was built
keeps it. Each person's inputs are summed into a digest (order-free: the sum of one hash per
record, plus the rules' hash), kept in ``golden_person_digests``; a run rebuilds the persons whose
digest differs or who are new, drops the persons that are gone, and writes only those rows of
``golden_persons`` and the digest table, in one transaction, so a crash leaves both as they were.
A full run (or a warehouse without the digests) rebuilds every person.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dedup import build_golden
from dedup.golden import GOLDEN_COLUMNS
from pipelines.faults import crash_point
from pipelines.warehouse import Warehouse, stage_tables

GOLDEN_TABLE = "golden_persons"
DIGEST_TABLE = "golden_person_digests"
CHUNK = 500


@dataclass
class GoldenUpdate:
    """The golden records this run built (every person's on a full rebuild), which persons it rebuilt
    or dropped, and how many persons there are now (``golden_persons`` holds them all)."""

    golden: pd.DataFrame
    rebuilt: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    full: bool = False
    persons: int = 0


def person_digests(records: pd.DataFrame, lineage: pd.DataFrame, rules: Mapping[str, Any]) -> pd.Series:
    """person_id -> digest (uint64 as text) of its records' keys and standardized values and the rules."""
    frame = records.reset_index(drop=True)
    keys = frame["source"].astype(str) + "\x1f" + frame["record_id"].astype(str)
    member = lineage.assign(key=lineage["source"].astype(str) + "\x1f" + lineage["record_id"].astype(str))
    person = keys.map(pd.Series(member["person_id"].astype(str).to_numpy(), index=member["key"].to_numpy()))
    person = person.fillna("\x00" + keys)
    text = frame.astype("string").fillna("\x00")
    per_record = pd.util.hash_pandas_object(text, index=False).to_numpy(dtype=np.uint64)
    rules_hash = np.uint64(
        pd.util.hash_pandas_object(pd.Series([json.dumps(rules, sort_keys=True, default=str)]), index=False).iloc[0]
    )
    with np.errstate(over="ignore"):
        sums = pd.Series(per_record, dtype=np.uint64).groupby(person.to_numpy()).sum()
        digests = sums.to_numpy(dtype=np.uint64) + rules_hash
    return pd.Series(digests.astype(str), index=sums.index.astype(str))


def update_golden(
    store: Warehouse,
    records: pd.DataFrame,
    lineage: pd.DataFrame,
    rules: Mapping[str, Any],
    run_id: str,
    *,
    full: bool,
) -> GoldenUpdate:
    """This run's golden records; writes ``golden_persons`` and its digests (see the module docstring)."""
    digests = person_digests(records, lineage, rules)
    previous = _previous_digests(store) if not full else None
    clusters = lineage.rename(columns={"person_id": "cluster_id"})
    if previous is None:
        golden = build_golden(records, clusters, rules)
        with store.transaction() as conn:
            store.replace_table_in(conn, GOLDEN_TABLE, golden, run_id)
            store.replace_table_in(conn, DIGEST_TABLE, _digest_frame(digests), run_id)
        crash_point("golden_written")
        return GoldenUpdate(golden, rebuilt=golden["person_id"].astype(str).tolist(), full=True, persons=len(golden))
    before = previous.reindex(digests.index)
    rebuilt = sorted(digests.index[(before.isna() | (before != digests)).to_numpy()])
    dropped = sorted(set(previous.index) - set(digests.index))
    members = clusters[clusters["cluster_id"].astype(str).isin(rebuilt)]
    keys = records["source"].astype(str) + "\x1f" + records["record_id"].astype(str)
    wanted = members["source"].astype(str) + "\x1f" + members["record_id"].astype(str)
    chosen = records[keys.isin(set(wanted)).to_numpy()]
    fresh = build_golden(chosen, members, rules) if len(chosen) else pd.DataFrame(columns=GOLDEN_COLUMNS)
    with store.transaction() as conn:
        _delete_persons(conn, GOLDEN_TABLE, [*rebuilt, *dropped])
        _delete_persons(conn, DIGEST_TABLE, [*rebuilt, *dropped])
        if len(fresh):
            fresh.to_sql(GOLDEN_TABLE, conn, if_exists="append", index=False, chunksize=5000)
            _digest_frame(digests.reindex(fresh["person_id"].astype(str))).to_sql(
                DIGEST_TABLE, conn, if_exists="append", index=False, chunksize=5000
            )
        _note_written(conn, [GOLDEN_TABLE, DIGEST_TABLE], run_id, len(digests))
    crash_point("golden_written")
    return GoldenUpdate(fresh, rebuilt=[str(p) for p in fresh["person_id"]], dropped=dropped, persons=len(digests))


def _previous_digests(store: Warehouse) -> pd.Series | None:
    """The stored digests, or None when the golden records were never written with them."""
    written = store.table_run(GOLDEN_TABLE)
    digests = store.table_run(DIGEST_TABLE)
    if written is None or digests is None or written["run_id"] != digests["run_id"]:
        return None
    frame = store.read_table(DIGEST_TABLE)
    return pd.Series(frame["digest"].astype(str).to_numpy(), index=frame["person_id"].astype(str).to_numpy())


def golden_digests(store: Warehouse) -> dict[str, str]:
    """person id -> digest of the golden record as ``golden_persons`` holds it now (empty when the golden
    records were written without digests)."""
    if _previous_digests(store) is None:
        return {}
    frame = store.read_table(DIGEST_TABLE)
    return dict(zip(frame["person_id"].astype(str), frame["digest"].astype(str), strict=True))


def _digest_frame(digests: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"person_id": digests.index.astype(str), "digest": digests.to_numpy().astype(str)})


def _delete_persons(conn: sa.Connection, name: str, person_ids: Sequence[str]) -> None:
    table = sa.table(name, sa.column("person_id"))
    for start in range(0, len(person_ids), CHUNK):
        conn.execute(sa.delete(table).where(table.c.person_id.in_(list(person_ids[start : start + CHUNK]))))


def _note_written(conn: sa.Connection, names: Sequence[str], run_id: str, rows: int) -> None:
    for name in names:
        conn.execute(stage_tables.delete().where(stage_tables.c.table_name == name))
        conn.execute(
            stage_tables.insert().values(table_name=name, run_id=run_id, rows=rows, written_at=datetime.now(UTC))
        )


__all__ = ["GoldenUpdate", "golden_digests", "person_digests", "update_golden"]
