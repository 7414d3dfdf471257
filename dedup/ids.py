"""Identifiers of clusters and persons that survive reruns."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from dedup.arrays import factorize


def stable_ids(sources: pd.Series, record_ids: pd.Series, labels: np.ndarray, prefix: str = "") -> np.ndarray:
    """Name each group after its smallest (source, record_id) member.

    The name changes only when that member leaves the group, so a rerun on the same or grown data
    keeps most ids; an incremental run can later map new groups onto old ids through their members.
    """
    keys = sources.astype(str).to_numpy() + "\x1f" + record_ids.astype(str).to_numpy()
    labels = factorize(labels)[0]
    order = np.lexsort((keys, labels))
    first_of_label = order[np.r_[True, labels[order][1:] != labels[order][:-1]]]
    names = np.array(
        [prefix + hashlib.sha1(keys[i].encode("utf-8")).hexdigest()[:16] for i in first_of_label],
        dtype=object,
    )
    return names[labels]
