"""Person linking for one run: full (train, cluster everything) or incremental (re-link the changes).

Plain function over the warehouse, so the asset stays thin and tests call it without Dagster. What an
incremental run needs from the last one lives in the warehouse and is written in the same transaction
as the lineage and its id history: the lineage itself, a fingerprint of each record's compared fields
(`person_link_fingerprints`, from which the delta is derived, so an edit the pull did not flag is still
seen) and the trained model (`link_models`, with the count of records changed since it was trained).
An incremental run falls back to a full one, saying why, when any of it is missing, when the compared
fields differ from the model's, or when the changes since training exceed the configured share.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import sqlalchemy as sa
import yaml

from dedup import LinkResult, carry_forward, link
from dedup.incremental import (
    derive_delta,
    fingerprints,
    link_incremental,
    model_from_json,
    model_to_json,
)
from hub_errors import ConfigError
from pipelines.warehouse import Warehouse

LINKING_FILE = Path(__file__).with_name("config") / "linking.yaml"
LINEAGE_TABLE = "person_lineage"
FINGERPRINT_TABLE = "person_link_fingerprints"
Mode = Literal["full", "incremental"]


@dataclass
class PersonLinking:
    """What a run linked: lineage, the id changes written to the history, and how it got there."""

    lineage: pd.DataFrame
    changes: pd.DataFrame
    result: LinkResult
    mode: Mode
    reason: str
    delta: dict[str, int] = field(default_factory=dict)
    affected_records: int = 0
    retrained: bool = False


def retrain_share(path: Path | None = None) -> float:
    """The configured share of changed records after which an incremental run retrains."""
    path = path or LINKING_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    share = data.get("retrain_when_changed_share")
    if not isinstance(share, int | float) or not 0 < share <= 1:
        raise ConfigError(f"{path}: retrain_when_changed_share must be a number in (0, 1], not {share!r}")
    return float(share)


def history_rows(changes: pd.DataFrame) -> pd.DataFrame:
    """The id changes departments and stewards hear of: every new, merged, split or gone id, and a kept
    id that took over records of other persons (a record moved in)."""
    moved_in = changes["from_ids"].fillna("").astype(str) != ""
    return changes[(changes["change"] != "kept") | moved_in].reset_index(drop=True)


def _incremental_blocker(store: Warehouse, fields_text: str, records: int, changed: int) -> str | None:
    """Why this run cannot be incremental (None when it can)."""
    if not store.has_table(LINEAGE_TABLE) or not store.has_table(FINGERPRINT_TABLE):
        return "no earlier linking in this warehouse"
    stored = store.latest_link_model()
    if stored is None:
        return "no stored matching model"
    if stored["fields"] != fields_text:
        return "the compared fields changed since the model was trained"
    share = (int(stored["changed_records"]) + changed) / max(records, 1)
    if share > retrain_share():
        return f"{share:.1%} of the records changed since the model was trained"
    return None


def link_persons(
    store: Warehouse,
    records: pd.DataFrame,
    fields: Mapping[str, str],
    run_id: str,
    mode: Mode,
    validity: Mapping[str, str] | None = None,
) -> PersonLinking:
    """Link `records` into persons, keep ids from the last run, write lineage, history and state together."""
    fields_text = json.dumps(dict(fields), sort_keys=True)
    decisions = store.decisions()
    prints = fingerprints(records, [*fields, *(validity or {}).values()])
    with store.run_lock(run_id):
        previous = store.read_table(LINEAGE_TABLE) if store.has_table(LINEAGE_TABLE) else None
        previous_prints = store.read_table(FINGERPRINT_TABLE) if store.has_table(FINGERPRINT_TABLE) else None
        delta = derive_delta(prints, previous_prints)
        reason = "asked for a full rebuild"
        if mode == "incremental":
            reason = _incremental_blocker(store, fields_text, len(records), len(delta)) or "incremental"
        reserved = store.issued_person_ids()
        stored = store.latest_link_model()
        counts = {str(k): int(v) for k, v in delta["change"].value_counts().items()}
        if reason == "incremental" and previous is not None and stored is not None:
            model_id = int(stored["id"])
            outcome = link_incremental(
                records,
                fields,
                previous,
                delta,
                model_from_json(str(stored["model"])),
                decisions=decisions,
                reserved=reserved,
                validity=validity,
            )
            linking = PersonLinking(
                outcome.stable.lineage[["source", "record_id", "person_id"]],
                history_rows(outcome.stable.changes),
                outcome.link,
                "incremental",
                reason,
                counts,
                outcome.affected_records,
            )

            def save_state(conn: sa.Connection) -> None:
                keys = delta[["source", "record_id"]]
                changed = prints.merge(keys[delta["change"] != "removed"], on=["source", "record_id"])
                store.replace_rows_in(conn, FINGERPRINT_TABLE, changed, keys, run_id, rows_now=len(prints))
                store.count_link_changes(conn, model_id, len(delta))
        else:
            result = link(records, fields, decisions=decisions, validity=validity)
            stable = carry_forward(previous, result.clusters, reserved=reserved)
            linking = PersonLinking(
                stable.lineage[["source", "record_id", "person_id"]],
                history_rows(stable.changes),
                result,
                "full",
                reason,
                counts,
                len(records),
                retrained=True,
            )

            def save_state(conn: sa.Connection) -> None:
                store.replace_table_in(conn, FINGERPRINT_TABLE, prints, run_id)
                store.save_link_model(conn, run_id, fields_text, model_to_json(result.model), len(records))

        store.write_lineage_with_history(
            LINEAGE_TABLE,
            linking.lineage,
            run_id,
            linking.changes,
            also=save_state,
            previous=previous if linking.mode == "incremental" else None,
        )
    return linking


__all__ = ["PersonLinking", "history_rows", "link_persons", "retrain_share"]
