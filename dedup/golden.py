"""Golden person records: one row per cluster, each value chosen by survivorship, with provenance.

Per field the value comes from, in order: the most authoritative source that has one (from the
configuration, `rules["authority"][field]` = sources best first), then the most recent record
(`rules["recency"]` names a column of ISO timestamps, e.g. the source's `updated_at`), then the most
frequent value, then the smallest (source, record_id) so the choice is deterministic. A field whose
rule is `rules["prefer"][field] == "latest"` takes the most recent value first, whatever its source
(a phone number the resident changed yesterday beats the older one of a more trusted source);
records without a time rank after those with one. Before all of these, a source listed in
`rules["verified"][field]` wins the field (a community that checked a resident's phone and address in
person, pipelines/roster_returns.py). Address parts travel with the chosen address, so a golden
address is never stitched from two records. `community` is the community the person belongs to, from
the address, the grid or the person's other records (dedup.community).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dedup.community import place_persons, provenance_entry
from dedup.ids import stable_ids

GOLDEN_COLUMNS = [
    "person_id",
    "name",
    "id_no",
    "gender",
    "birth",
    "phone",
    "address",
    "address_canonical",
    "addr_district",
    "addr_street",
    "addr_community",
    "grid",
    "community",
    "attributes",
    "sources",
    "record_count",
    "provenance",
]
JSON_ESCAPED = r'["\\\x00-\x1f]'  # what json.dumps(ensure_ascii=False) escapes in a string
SURVIVING_FIELDS = ["name", "id_no", "gender", "birth", "phone", "address", "grid"]
ADDRESS_COMPANIONS = ["address_canonical", "addr_district", "addr_street", "addr_community"]


def _empty(values: pd.Series) -> np.ndarray:
    text = values.astype("string")
    return (text.isna() | (text.str.strip() == "")).to_numpy(dtype=bool)


PREFER_KINDS = ("latest",)


def _recency(frame: pd.DataFrame, column: str) -> pd.Series:
    """Update times as UTC nanoseconds (times without a zone taken as UTC); -1 when missing or unreadable."""
    times = pd.to_datetime(frame[column].astype("string"), format="ISO8601", utc=True, errors="coerce")
    return pd.Series(times.astype("int64").where(times.notna(), -1), index=frame.index)


def _tiebreak(frame: pd.DataFrame) -> np.ndarray:
    """Each record's place in (source, record_id) order, the last tie-break of every choice."""
    source = pd.factorize(frame["source"], sort=True)[0]
    record = pd.factorize(frame["record_id"], sort=True)[0]
    rank = np.empty(len(frame), dtype=np.int64)
    rank[np.lexsort((record, source))] = np.arange(len(frame))
    return rank


def _winners(
    frame: pd.DataFrame,
    field: str,
    rules: Mapping[str, Any],
    recency: np.ndarray | None = None,
    tiebreak: np.ndarray | None = None,
) -> pd.DataFrame:
    """Row (position in frame) of the surviving value of `field` per person. ``recency`` (update times,
    _recency) and ``tiebreak`` (_tiebreak) are the frame's, computed once for every field."""
    if field not in frame.columns:
        return pd.DataFrame({"person": [], "row": []})
    rows = np.flatnonzero(~_empty(frame[field]))
    person = frame["person"].to_numpy()[rows].astype(np.int64)
    source = pd.Series(frame["source"].to_numpy()[rows])
    authority = list(rules.get("authority", {}).get(field, []))
    rank = {name: position for position, name in enumerate(authority)}
    authority_rank = source.map(rank).fillna(len(authority)).to_numpy(dtype=float)
    unverified = ~source.isin(set(rules.get("verified", {}).get(field, ()))).to_numpy(dtype=bool)
    codes = pd.factorize(frame[field].to_numpy()[rows])[0].astype(np.int64)
    pairs = person * (int(codes.max(initial=0)) + 1) + codes  # one number per (person, value)
    _, pair, counts = np.unique(pairs, return_inverse=True, return_counts=True)
    keys: list[np.ndarray] = [person, unverified, authority_rank]
    column = rules.get("recency")
    if column and column in frame.columns:
        times = _recency(frame, column).to_numpy() if recency is None else recency
        keys.insert(2 if rules.get("prefer", {}).get(field) == "latest" else 3, -times[rows])
    ties = _tiebreak(frame) if tiebreak is None else tiebreak
    keys += [-counts[pair.ravel()], ties[rows]]
    order = np.lexsort(keys[::-1])
    ordered = person[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return pd.DataFrame({"person": ordered[first], "row": rows[order][first]})


def _merged_attributes(frame: pd.DataFrame, order: np.ndarray, persons: int) -> list[str]:
    """Union of the records' attribute objects; a key keeps the value of the preferred record."""
    merged: list[dict[str, Any]] = [{} for _ in range(persons)]
    if "attributes" not in frame.columns:
        return ["{}"] * persons
    person = frame["person"].to_numpy()
    texts = frame["attributes"].to_numpy()
    for row in order:
        text = texts[row]
        if not isinstance(text, str) or not text.strip():
            continue
        try:
            attributes = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(attributes, dict):
            target = merged[person[row]]
            for key, value in attributes.items():
                if value not in (None, "") and key not in target:
                    target[key] = value
    return [json.dumps(item, ensure_ascii=False, sort_keys=True) for item in merged]


def build_golden(records: pd.DataFrame, clusters: pd.DataFrame, rules: Mapping[str, Any]) -> pd.DataFrame:
    """One row per person (see GOLDEN_COLUMNS); `clusters` has source, record_id, cluster_id.

    The cluster id becomes the person id, so ids kept stable across runs stay stable here; a record
    missing from `clusters` is a person of its own with an id derived from its source and record id.
    """
    frame = records.reset_index(drop=True).copy()
    frame["source"] = frame["source"].astype(str)
    frame["record_id"] = frame["record_id"].astype(str)
    membership = clusters.iloc[:, :3].astype(str).set_axis(["source", "record_id", "cluster"], axis=1)
    frame = frame.merge(membership, on=["source", "record_id"], how="left", validate="one_to_one")
    alone = frame["cluster"].isna()
    frame.loc[alone, "cluster"] = "\x00" + frame.loc[alone, "source"] + "\x1f" + frame.loc[alone, "record_id"]
    frame["person"] = pd.factorize(frame["cluster"])[0]
    persons = int(frame["person"].max()) + 1 if len(frame) else 0
    derived_ids = pd.Series(stable_ids(frame["source"], frame["record_id"], frame["person"].to_numpy(), prefix="P"))
    given_ids = frame["cluster"].where(~alone, derived_ids)
    golden = pd.DataFrame(index=range(persons))
    golden["person_id"] = given_ids.groupby(frame["person"].to_numpy()).first()
    provenance: dict[str, np.ndarray] = {}  # field -> per person, the JSON of the record it came from
    origins = _origin_texts(frame["source"], frame["record_id"])
    sources = frame["source"].to_numpy()
    record_ids = frame["record_id"].to_numpy()
    chosen: dict[str, dict[int, int]] = {}
    recency = rules.get("recency")
    times = _recency(frame, recency).to_numpy() if recency and recency in frame.columns else None
    ties = _tiebreak(frame)
    for field in SURVIVING_FIELDS:
        golden[field] = None
        winners = _winners(frame, field, rules, times, ties)
        if winners.empty:
            continue
        rows = winners["row"].to_numpy(dtype=np.int64)
        person_of = winners["person"].to_numpy(dtype=np.int64)
        golden.loc[person_of, field] = frame[field].to_numpy()[rows]
        chosen[field] = dict(zip(person_of.tolist(), rows.tolist(), strict=True))
        companions = ADDRESS_COMPANIONS if field == "address" else []
        for companion in companions:
            if companion in frame.columns:
                golden.loc[person_of, companion] = frame[companion].to_numpy()[rows]
        taken = np.full(persons, None, dtype=object)
        taken[person_of] = origins[rows]
        for name in [field, *companions]:
            provenance[name] = taken
    if persons and ({"addr_community", "grid"} & set(frame.columns)):
        placement = place_persons(frame, persons, _trust_order(frame, "address", rules, times, ties), chosen)
        golden["community"] = placement.community
        provenance["community"] = np.array(
            [
                None if found is None else _json(provenance_entry(placement, person, sources, record_ids))
                for person, found in enumerate(placement.community)
            ],
            dtype=object,
        )
    preference = _winners_order(frame, rules, times, ties)
    golden["attributes"] = _merged_attributes(frame, preference, persons)
    golden["sources"] = _sources_per_person(frame["source"], frame["person"].to_numpy(), persons)
    golden["record_count"] = np.bincount(frame["person"].to_numpy(), minlength=persons)
    golden["provenance"] = _objects_text(provenance, persons)
    for column in GOLDEN_COLUMNS:
        if column not in golden.columns:
            golden[column] = None
    return golden[GOLDEN_COLUMNS].sort_values("person_id", kind="stable").reset_index(drop=True)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _origin_texts(sources: pd.Series, record_ids: pd.Series) -> np.ndarray:
    """Per record, _json({"source": ..., "record_id": ...}): each text quoted as it is unless JSON
    escapes some of its characters (quotes, backslashes, control characters)."""
    quoted = []
    for values in (record_ids, sources):
        text = values.astype(str).to_numpy(dtype=object)
        cells = '"' + text + '"'
        escaped = pd.Series(text, dtype=object).str.contains(JSON_ESCAPED, regex=True).to_numpy(dtype=bool)
        cells[escaped] = [_json(value) for value in text[escaped]]
        quoted.append(cells)
    return '{"record_id": ' + quoted[0] + ', "source": ' + quoted[1] + "}"


def _objects_text(columns: Mapping[str, np.ndarray], persons: int) -> list[str]:
    """Per person, _json of {name: value} over the ``columns`` of JSON texts (None: no such key),
    without building a dict per person: the keys in sorted order, as sort_keys gives them."""
    pieces = []
    for name in sorted(columns):
        prefix = _json(name) + ": "
        pieces.append([prefix + text if text is not None else "" for text in columns[name].tolist()])
    if not pieces:
        return ["{}"] * persons
    return ["{" + ", ".join(filter(None, row)) + "}" for row in zip(*pieces, strict=True)]


def _sources_per_person(sources: pd.Series, person: np.ndarray, persons: int) -> list[str]:
    """Each person's source names, sorted and ';'-joined: one bit per source, no Python per person."""
    names = sorted(set(sources))
    if len(names) > 62:
        return [";".join(sorted(set(group))) for _, group in sources.groupby(person, sort=True)]
    bits = sources.map({name: 1 << index for index, name in enumerate(names)}).to_numpy(dtype=np.int64)
    masks = np.zeros(persons, dtype=np.int64)
    np.bitwise_or.at(masks, person, bits)
    text = {int(m): ";".join(n for i, n in enumerate(names) if int(m) >> i & 1) for m in np.unique(masks)}
    return [text[int(mask)] for mask in masks]


def _trust_order(
    frame: pd.DataFrame,
    field: str,
    rules: Mapping[str, Any],
    recency: np.ndarray | None = None,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """Record positions in the order a field's value is trusted: authority, recency, (source, id)."""
    authority = list(rules.get("authority", {}).get(field, []))
    rank = frame["source"].map({s: i for i, s in enumerate(authority)}).fillna(len(authority))
    keys: list[np.ndarray] = [rank.to_numpy(dtype=float)]
    column = rules.get("recency")
    if column and column in frame.columns:
        keys.append(-(_recency(frame, column).to_numpy() if recency is None else recency))
    keys.append(_tiebreak(frame) if tiebreak is None else tiebreak)
    return np.lexsort(keys[::-1])


def _winners_order(
    frame: pd.DataFrame,
    rules: Mapping[str, Any],
    recency: np.ndarray | None = None,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """Rows in the order attributes are taken: authority for attributes, recency, (source, id)."""
    return _trust_order(frame, "attributes", rules, recency, tiebreak)
