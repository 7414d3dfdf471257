"""Identifiers of clusters and persons that survive reruns."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

import numpy as np
import pandas as pd

from dedup.arrays import factorize


def member_keys(sources: pd.Series, record_ids: pd.Series) -> np.ndarray:
    """One text key per record, ordered as (source, record_id)."""
    return sources.astype(str).to_numpy() + "\x1f" + record_ids.astype(str).to_numpy()


def id_for_key(key: str, prefix: str = "") -> str:
    """The id a group gets from its smallest member's key."""
    return prefix + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def fresh_id(key: str, taken: Collection[str], prefix: str = "") -> str:
    """id_for_key, salted until it is none of `taken`.

    The plain id can belong to someone already: when a person splits, the part that leaves may hold
    the very record the person's id was derived from.
    """
    candidate, salt = id_for_key(key, prefix), 0
    while candidate in taken:
        salt += 1
        candidate = id_for_key(f"{key}\x1f{salt}", prefix)
    return candidate


def stable_ids(sources: pd.Series, record_ids: pd.Series, labels: np.ndarray, prefix: str = "") -> np.ndarray:
    """Name each group after its smallest (source, record_id) member.

    The name changes only when that member leaves the group, so a rerun on the same or grown data
    keeps most ids; dedup.stable_ids.carry_forward maps new groups onto old ids through their members.
    """
    keys = member_keys(sources, record_ids)
    labels = factorize(labels)[0]
    order = np.lexsort((keys, labels))
    first_of_label = order[np.r_[True, labels[order][1:] != labels[order][:-1]]]
    names = np.array([id_for_key(key, prefix) for key in keys[first_of_label].tolist()], dtype=object)
    return names[labels]
