"""Returns from the community inbox as an asset: returned rosters applied once and moved out, and
every community correction so far as one ``community`` record per person, for survivorship and the
verification rules (pipelines/community_returns.py, pipelines/roster_returns.py)."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pipelines.community_returns import APPLIED, process_returns
from pipelines.metadata import frame_metadata
from pipelines.resources.community_inbox import CommunityInboxResource
from pipelines.resources.warehouse import WarehouseResource
from pipelines.roster_returns import (
    RESULT_FIELD,
    all_community_corrections,
    community_records,
    load_roster_return_rules,
)
from pipelines.warehouse import Warehouse, person_id_history


def merged_into(warehouse: Warehouse) -> dict[str, str]:
    """Retired person id -> the id it was merged into (person_id_history)."""
    query = sa.select(person_id_history.c.person_id, person_id_history.c.detail).where(
        person_id_history.c.change == "merged"
    )
    moves: dict[str, str] = {}
    with warehouse.engine.connect() as conn:
        for person, detail in conn.execute(query):
            into = json.loads(detail or "{}").get("into_id")
            if into:
                moves[str(person)] = str(into)
    return moves


def current_ids(corrections: pd.DataFrame, moves: dict[str, str], known: set[str]) -> pd.DataFrame:
    """Corrections moved to the id their person holds now (following merges); those of persons no
    source holds any more are dropped."""
    def resolve(person: str) -> str:
        hops = 0
        while person not in known and person in moves and hops < 100:
            person, hops = moves[person], hops + 1
        return person

    moved = corrections.assign(person_id=corrections["person_id"].astype(str).map(resolve))
    return moved[moved["person_id"].isin(known)]


@dg.asset(group_name="resolved", kinds={"excel", "python"})
def community_corrections(
    context: dg.AssetExecutionContext,
    person_lineage: pd.DataFrame,
    community_inbox: CommunityInboxResource,
    warehouse: WarehouseResource,
) -> pd.DataFrame:
    """Apply the rosters returned to the community inbox (each file once; out to processed/ or, with a
    rejection workbook, rejected/), then give every correction so far as one community record per
    person: the latest value of each corrected field and the latest 核对结果."""
    store = warehouse.get()
    with store.run_lock(context.run_id):
        processed = process_returns(Path(community_inbox.path), store, context.run_id)
    for item in processed:
        if item.outcome != APPLIED:
            context.log.warning(f"社区收件箱回执 {item.file_name}：{item.outcome}：{item.reason}")
    corrections = all_community_corrections(store)
    known = set(person_lineage["person_id"].astype(str))
    corrections = current_ids(corrections, merged_into(store), known) if len(corrections) else corrections
    records = community_records(corrections, load_roster_return_rules().source)
    files = pd.DataFrame([vars(item) for item in processed])
    outcomes = files["outcome"].value_counts().to_dict() if len(files) else {}
    context.add_output_metadata(
        frame_metadata(
            records.drop(columns=["phone", "id_no", "name", "name_key"]),
            files=dg.MetadataValue.json({str(k): int(v) for k, v in outcomes.items()}),
            corrections_this_run=dg.MetadataValue.int(int(files["corrections"].sum()) if len(files) else 0),
            corrections_total=dg.MetadataValue.int(len(corrections)),
            persons_corrected=dg.MetadataValue.int(len(records)),
            fields_corrected=dg.MetadataValue.json(
                {str(k): int(v) for k, v in corrections["field"].value_counts().items() if k != RESULT_FIELD}
                if len(corrections) else {}
            ),
        )
    )
    return records
