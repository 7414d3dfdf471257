"""`hub explain`: why two resident records are (or are not) one person, field by field, for a steward."""

from __future__ import annotations

import pandas as pd

from dedup import RESIDENT_FIELDS, PairExplanation, link
from hub_errors import HubError
from pipelines.metadata import mask_value
from pipelines.warehouse import Warehouse

RecordKey = tuple[str, str]


def explain_pair(warehouse: Warehouse, left: RecordKey, right: RecordKey) -> PairExplanation:
    """Score the pair with the model learned from the last run's standardized records and decisions."""
    records = warehouse.read_table("std_residents")
    keys = set(zip(records["source"].astype(str), records["record_id"].astype(str), strict=True))
    for key in (left, right):
        if key not in keys:
            raise HubError(
                f"record {':'.join(key)} is not among the accepted residents of the last run "
                "(see quarantine_residents, or run the hub first)"
            )
    result = link(records, RESIDENT_FIELDS, decisions=warehouse.decisions())
    return result.explain(left, right)


def shown_value(value: object) -> str:
    """What a steward reads for one value: '—' when missing, personal numbers masked."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return str(mask_value(value))


def explanation_lines(left: RecordKey, right: RecordKey, why: PairExplanation) -> list[str]:
    """A plain-text table a steward can read; ID and phone numbers masked."""
    verdict = "the same person" if why.same_cluster else "different people"
    lines = [
        f"{':'.join(left)}  vs  {':'.join(right)}: {verdict} "
        f"(match weight {why.total:+.1f}, probability {why.probability:.3f})",
        f"  {'field':<20} {'left':<28} {'right':<28} {'level':<32} weight",
        f"  {'prior':<20} {'':<28} {'':<28} {'':<32} {why.prior:+.1f}",
    ]
    for row in why.fields.itertuples():
        shown = [shown_value(value) for value in (row.left, row.right)]
        lines.append(f"  {row.field:<20} {shown[0]:<28} {shown[1]:<28} {row.level:<32} {row.weight:+.1f}")
    return lines
