"""Rejections back to community staff: each intake workbook with bad rows gets a marked copy."""

import dagster as dg
import pandas as pd

from connectors.intake_workbook import read_intake_workbook, write_rejection_workbook
from pipelines.metadata import frame_metadata
from pipelines.resources.community_inbox import CommunityInboxResource

REJECTED_SUFFIX = "_退回修改.xlsx"


def rejected_for(stem: str, quarantine: pd.DataFrame) -> pd.DataFrame:
    """The quarantine rows of one intake workbook (record ids are `<stem>:<sheet>:<row>`)."""
    intake = quarantine[quarantine["source"] == "intake"]
    return intake[intake["record_id"].astype(str).str.startswith(f"{stem}:")]


@dg.asset(group_name="reports", kinds={"excel"})
def intake_rejections(
    context: dg.AssetExecutionContext,
    quarantine_residents: pd.DataFrame,
    quarantine_events: pd.DataFrame,
    community_inbox: CommunityInboxResource,
) -> pd.DataFrame:
    """A rejection workbook per dropped intake workbook that had bad rows, each bad cell marked."""
    quarantine = pd.concat([quarantine_residents, quarantine_events], ignore_index=True)
    written = []
    for workbook in community_inbox.workbooks():
        bad = rejected_for(workbook.stem, quarantine)
        if bad.empty:
            continue
        target = community_inbox.rejected_dir() / f"{workbook.stem}{REJECTED_SUFFIX}"
        write_rejection_workbook(target, read_intake_workbook(workbook), bad)
        written.append(
            {"workbook": workbook.name, "rejected_rows": bad["record_id"].nunique(), "returned_as": str(target)}
        )
    frame = pd.DataFrame(written, columns=["workbook", "rejected_rows", "returned_as"])
    context.add_output_metadata(frame_metadata(frame, workbooks_returned=dg.MetadataValue.int(len(frame))))
    return frame
