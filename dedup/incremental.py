"""Incremental linking: a day's new, edited and removed records re-link only the persons they touch.

A full run blocks, compares, trains and clusters every record. On a day when 1% of the records
changed that is 99% wasted work, and it may move person ids of records nothing happened to. Here:

- blocking keys are the engine's own (dedup.blocking), computed over ALL current records so a
  block's size (and whether it is skipped as too common) is what a full run sees; only blocks
  holding a changed record are expanded, and only pairs with a changed side are kept;
- the pairs are scored with the previous run's model (its m/u weights; term frequencies are
  recounted on today's data, since they describe the values, not the matching);
- the affected persons are the previous persons of edited records, the persons a changed record
  has a positive-weight pair with (a non-positive pair can never join two clusters), the persons
  that lost records, and the persons of records a steward decision names; their records plus the new
  ones are re-clustered with the engine's clustering, steward decisions and identity rules;
- every other record keeps its person id; dedup.stable_ids.carry_forward maps the re-clustered
  groups onto the previous ids, so merges and splits come out as history rows (old ids -> new id).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dedup.arrays import distinct
from dedup.blocking import blocking_keys, pairs_within_blocks
from dedup.cluster import Constraints, cluster
from dedup.compare import compare
from dedup.decisions import DECISION_COLUMNS, UNHONOURED_COLUMNS, no_decisions, resolve_decisions
from dedup.engine import DEFAULT_MAX_BLOCK, LinkResult
from dedup.identity import identity_codes, mark_contradicting_ids
from dedup.ids import member_keys
from dedup.model import FieldWeights, Model
from dedup.prepare import PreparedField, prepare
from dedup.stable_ids import LINEAGE_COLUMNS, StableIds, carry_forward
from hub_errors import HubError

DELTA_COLUMNS = ["source", "record_id", "change"]
DELTA_CHANGES = ("added", "edited", "removed")
FINGERPRINT_COLUMNS = ["source", "record_id", "fingerprint"]


@dataclass
class IncrementalResult:
    """The outcome of one incremental run.

    stable: lineage of every current record and the person id changes (dedup.StableIds);
    link: the scored pairs, model and prepared values of this run in dedup.LinkResult form (clusters
    hold the person ids), so explanations and review lists work as after a full run;
    affected_records / affected_persons: how much was re-clustered; changed_records: added or edited.
    """

    stable: StableIds
    link: LinkResult
    changed_records: int
    affected_records: int
    affected_persons: int
    timings: dict[str, float] = field(default_factory=dict)


# --- model kept between runs ------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, dict) and "__array__" in value:
        return np.asarray(value["__array__"], dtype=value["dtype"])
    return value


def model_to_json(model: Model) -> str:
    """The model's learned weights as JSON text for the warehouse (term frequencies left out: they
    index this run's values and are recounted on the data the model is applied to)."""
    fields = [
        {f.name: _plain(getattr(weights, f.name)) for f in dataclasses.fields(weights) if f.name != "tf_adjustment"}
        for weights in model.fields
    ]
    rest = {f.name: _plain(getattr(model, f.name)) for f in dataclasses.fields(model) if f.name != "fields"}
    return json.dumps({"fields": fields, **rest})


def _restored(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Stored values back in their types: arrays, and tuples where the dataclass declares one."""
    out = {key: _restore(value) for key, value in values.items()}
    for spec in dataclasses.fields(cls):
        if spec.name in out and str(spec.type).startswith("tuple") and isinstance(out[spec.name], list):
            out[spec.name] = tuple(out[spec.name])
    return out


def model_from_json(text: str) -> Model:
    """A stored model, with empty term-frequency adjustments until `fit_frequencies`."""
    data = json.loads(text)
    fields = [FieldWeights(**_restored(FieldWeights, item), tf_adjustment=np.zeros(0)) for item in data.pop("fields")]
    return Model(fields=fields, **_restored(Model, data))


def fit_frequencies(model: Model, prepared: list[PreparedField]) -> Model:
    """The model with its term-frequency adjustments recounted on `prepared` (today's values)."""
    from dedup.model import _tf_adjustment

    names = [(w.name, w.kind) for w in model.fields]
    if names != [(p.name, p.kind) for p in prepared]:
        raise HubError(f"the stored matching model compares {names}, not these fields: run a full rebuild (--full)")
    fields = [
        dataclasses.replace(w, tf_adjustment=_tf_adjustment(p)) for w, p in zip(model.fields, prepared, strict=True)
    ]
    return dataclasses.replace(model, fields=fields)


# --- what changed -----------------------------------------------------------------------------


def fingerprints(records: pd.DataFrame, fields: Iterable[str]) -> pd.DataFrame:
    """source, record_id, a hash of the compared columns (field names, and any column of verdicts on
    them): an edit that matters to matching changes it."""
    columns = [c for c in dict.fromkeys(fields) if c in records.columns]
    values = records[columns].astype("string").fillna("\x00") if columns else pd.DataFrame(index=records.index)
    digest = pd.util.hash_pandas_object(values, index=False) if columns else pd.Series(0, index=records.index)
    return pd.DataFrame(
        {
            "source": records["source"].astype(str).to_numpy(),
            "record_id": records["record_id"].astype(str).to_numpy(),
            "fingerprint": digest.to_numpy().astype(np.uint64).astype(str),
        }
    )


def derive_delta(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """source, record_id, change (added / edited / removed) between two fingerprint tables."""
    if previous is None or previous.empty:
        return current.assign(change="added")[DELTA_COLUMNS]
    now = current.set_index(member_keys(current["source"], current["record_id"]))
    before = previous.set_index(member_keys(previous["source"], previous["record_id"]))
    added = now.index.difference(before.index)
    removed = before.index.difference(now.index)
    common = now.index.intersection(before.index)
    edited = common[now.loc[common, "fingerprint"].to_numpy() != before.loc[common, "fingerprint"].to_numpy()]
    parts = [
        now.loc[added].assign(change="added"),
        now.loc[edited].assign(change="edited"),
        before.loc[removed].assign(change="removed"),
    ]
    return pd.concat(parts)[DELTA_COLUMNS].sort_values(["source", "record_id"], kind="stable").reset_index(drop=True)


# --- linking ----------------------------------------------------------------------------------


def _pairs_touching(
    keys: list[tuple[str, np.ndarray]], seeds: np.ndarray, keep: np.ndarray, max_block: int, *, both: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs of the full blocking that have a seed record on one side (both=False) or
    a `keep` record on both sides (both=True), expanding only the blocks that hold a seed."""
    n = len(seeds)
    encoded = []
    for _, codes in keys:
        hit = np.unique(codes[seeds & (codes >= 0)])
        if len(hit) == 0:
            continue
        masked = np.where(np.isin(codes, hit), codes, -1)
        pairs = pairs_within_blocks(masked, max_block)
        low, high = pairs // n, pairs % n
        chosen = (keep[low] & keep[high]) if both else (seeds[low] | seeds[high])
        encoded.append(pairs[chosen])
    union = distinct(np.concatenate(encoded)) if encoded else np.empty(0, dtype=np.int64)
    return union // max(n, 1), union % max(n, 1)


def _decided_keys(decisions: pd.DataFrame | None) -> np.ndarray:
    """Keys of every record a steward decision names: their persons are always re-clustered, so a
    decision taken since the last run holds even when none of its records changed."""
    if decisions is None or decisions.empty:
        return np.empty(0, dtype=object)
    left = member_keys(decisions["left_source"], decisions["left_record_id"])
    right = member_keys(decisions["right_source"], decisions["right_record_id"])
    return np.concatenate([left, right])


def link_incremental(
    records: pd.DataFrame,
    fields: Mapping[str, str],
    previous: pd.DataFrame,
    delta: pd.DataFrame,
    model: Model,
    *,
    unique_sources: Iterable[str] = (),
    max_block: int = DEFAULT_MAX_BLOCK,
    decisions: pd.DataFrame | None = None,
    reserved: Iterable[str] = (),
    validity: Mapping[str, str] | None = None,
) -> IncrementalResult:
    """Re-link the records `delta` names (DELTA_COLUMNS) into the persons of `previous` lineage.

    records: every current record (source, record_id and the `fields` columns); previous: the last
    run's lineage (source, record_id, person_id); model: the last trained model. A current record the
    previous lineage lacks counts as added, and a lineage record no longer current as removed, even if
    the delta forgot them. unique_sources, max_block, decisions and validity as for dedup.link.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    frame = records.reset_index(drop=True)
    sources = frame["source"].astype(str)
    keys = member_keys(sources, frame["record_id"])
    before = previous.iloc[:, :3].astype(str).set_axis(LINEAGE_COLUMNS, axis=1)
    before_keys = member_keys(before["source"], before["record_id"])
    person_of_key = pd.Series(before["person_id"].to_numpy(), index=before_keys)
    person = pd.Series(keys).map(person_of_key).to_numpy(dtype=object)

    delta_keys = member_keys(delta["source"], delta["record_id"]) if len(delta) else np.empty(0, dtype=object)
    changes = delta["change"].astype(str).to_numpy() if len(delta) else np.empty(0, dtype=object)
    unknown = sorted({str(c) for c in changes} - set(DELTA_CHANGES))
    if unknown:
        raise HubError(f"records delta: unknown change kind(s) {unknown}; expected one of {list(DELTA_CHANGES)}")
    touched = set(delta_keys[np.isin(changes, ("added", "edited"))].tolist())
    seeds = pd.Series(keys).isin(touched).to_numpy() | pd.isna(person)
    affected_persons = set(person_of_key.reindex(delta_keys[changes != "added"]).dropna().tolist())
    vanished = ~pd.Index(before_keys).isin(keys)
    affected_persons |= set(before["person_id"].to_numpy()[vanished].tolist())

    prepared = mark_contradicting_ids(prepare(frame, fields, validity))
    model = fit_frequencies(model, prepared)
    blocking = blocking_keys(prepared)
    timings["prepare"] = time.perf_counter() - started

    mark = time.perf_counter()
    left, right = _pairs_touching(blocking, seeds, seeds, max_block, both=False)
    weight = model.score(prepared, compare(prepared, left, right), left) if len(left) else np.empty(0)
    positive = weight > 0
    partners = np.concatenate([right[positive & seeds[left]], left[positive & seeds[right]]])
    affected_persons |= {p for p in person[partners].tolist() if isinstance(p, str)}
    timings["seed_pairs"] = time.perf_counter() - mark

    mark = time.perf_counter()
    decided = _decided_keys(decisions)
    affected_persons |= set(person_of_key.reindex(decided).dropna().tolist())
    in_scope = seeds | pd.Series(person).isin(affected_persons).to_numpy()
    scope = np.flatnonzero(in_scope)
    left, right = _pairs_touching(blocking, in_scope, in_scope, max_block, both=True)
    levels = compare(prepared, left, right)
    weight = model.score(prepared, levels, left) if len(left) else np.empty(0)
    timings["compare"] = time.perf_counter() - mark

    mark = time.perf_counter()
    local = np.full(len(frame), -1, dtype=np.int64)
    local[scope] = np.arange(len(scope))
    sub = frame.iloc[scope]
    verdicts = (
        resolve_decisions(decisions, sub["source"].astype(str), sub["record_id"]) if len(scope) else no_decisions()
    )
    reported = resolve_decisions(decisions, sources, frame["record_id"]) if len(frame) else no_decisions()
    unique = sorted(set(unique_sources))
    unique_codes = None
    if unique:
        unique_codes = np.where(sources.isin(unique), pd.factorize(sources)[0], -1)[scope]
    identities = [codes[scope] for codes in identity_codes(prepared)]
    constraints = Constraints(identities, unique_codes, verdicts.must_link, verdicts.cannot_link)
    labels = (
        cluster(len(scope), local[left], local[right], weight, constraints)
        if len(scope)
        else np.empty(0, dtype=np.int64)
    )
    scoped_before = before[before["person_id"].isin(affected_persons).to_numpy()]
    current = pd.DataFrame(
        {
            "source": sources.to_numpy()[scope],
            "record_id": frame["record_id"].astype(str).to_numpy()[scope],
            "cluster_id": labels,
        }
    )
    rescoped = carry_forward(scoped_before, current, reserved={*reserved, *before["person_id"]})
    keep = pd.DataFrame(
        {"source": sources.to_numpy(), "record_id": frame["record_id"].astype(str).to_numpy(), "person_id": person}
    )[~in_scope]
    lineage = pd.concat([keep, rescoped.lineage], ignore_index=True)
    lineage = lineage.sort_values(["source", "record_id"], kind="stable").reset_index(drop=True)
    stable = StableIds(lineage, rescoped.changes)
    timings["cluster"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started

    person_ids = pd.Series(lineage["person_id"].to_numpy(), index=member_keys(lineage["source"], lineage["record_id"]))
    clusters = pd.DataFrame(
        {
            "source": sources.to_numpy(),
            "record_id": frame["record_id"].astype(str).to_numpy(),
            "cluster_id": person_ids.reindex(keys).to_numpy(),
        }
    )
    pairs = pd.DataFrame(
        {"left": left, "right": right, "weight": weight, "probability": 1.0 / (1.0 + np.exp2(-weight))}
    )
    result = LinkResult(clusters, pairs, model, prepared, timings, reported.unhonoured, reported.ignored)
    return IncrementalResult(
        stable=stable,
        link=result,
        changed_records=int(seeds.sum()),
        affected_records=len(scope),
        affected_persons=len(affected_persons),
        timings=timings,
    )


__all__ = [
    "DECISION_COLUMNS",
    "DELTA_CHANGES",
    "DELTA_COLUMNS",
    "FINGERPRINT_COLUMNS",
    "UNHONOURED_COLUMNS",
    "IncrementalResult",
    "derive_delta",
    "fingerprints",
    "fit_frequencies",
    "link_incremental",
    "model_from_json",
    "model_to_json",
]
