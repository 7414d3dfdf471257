"""Asset metadata a steward can read in the Dagster UI: counts and a small, masked sample."""

from __future__ import annotations

import re
from typing import Any

import dagster as dg
import pandas as pd

ID_LIKE = re.compile(r"^(\s*)([0-9０-９]{6})[0-9０-９]{5,8}([0-9０-９]{3}[0-9０-９Xx]?)(\s*)$")
PHONE_LIKE = re.compile(r"^(\+?86[\s-]?)?(1[0-9]{2})[\s-]?[0-9]{4}[\s-]?([0-9]{4})$")


def mask_value(value: Any) -> Any:
    """Hide the middle of anything that looks like an ID number or a mobile number."""
    if not isinstance(value, str):
        return value
    if ID_LIKE.match(value):
        return ID_LIKE.sub(lambda m: m.group(2) + "********" + m.group(3)[-4:], value)
    if PHONE_LIKE.match(value):
        return PHONE_LIKE.sub(lambda m: m.group(2) + "****" + m.group(3), value)
    return value


SAMPLE_CELL_CHARS = 40


def sample_markdown(frame: pd.DataFrame, rows: int = 5, max_columns: int = 12) -> dg.MetadataValue:
    """The first rows of a frame as a Markdown table, with personal numbers masked and each cell cut
    to SAMPLE_CELL_CHARS characters (a pasted 5 MB value must not land in the run database)."""
    head = frame.head(rows).iloc[:, :max_columns].astype(object).map(mask_value)
    head = head.fillna("").astype(str).map(lambda text: text[:SAMPLE_CELL_CHARS])
    header = "| " + " | ".join(map(str, head.columns)) + " |"
    rule = "|" + "---|" * len(head.columns)
    lines = ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in head.to_numpy()]
    return dg.MetadataValue.md("\n".join([header, rule, *lines]))


def frame_metadata(frame: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    """Row count and sample for every asset, plus asset-specific figures."""
    return {"rows": dg.MetadataValue.int(len(frame)), "sample": sample_markdown(frame), **extra}
