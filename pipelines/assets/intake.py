"""Rejections back to community staff: each intake workbook with bad rows gets a marked copy, and a
file that could not be read at all moves to `rejected/` beside a rejection workbook saying why."""

import dagster as dg
import pandas as pd

from connectors.inbox import fit_name, move_rejected, short_label
from connectors.intake_workbook import file_key, write_rejection_workbook
from pipelines.metadata import frame_metadata
from pipelines.resources.community_inbox import CommunityInboxResource

REJECTED_SUFFIX = "_退回修改.xlsx"
COLUMNS = ["workbook", "rejected_rows", "reason", "returned_as"]


def rejected_for(key: str, quarantine: pd.DataFrame) -> pd.DataFrame:
    """The quarantine rows of one intake workbook (record ids are `<file key>:<sheet>:<row>`)."""
    intake = quarantine[quarantine["source"] == "intake"]
    return intake[intake["record_id"].astype(str).str.startswith(f"{key}:")]


@dg.asset(group_name="reports", kinds={"excel"})
def intake_rejections(
    context: dg.AssetExecutionContext,
    quarantine_residents: pd.DataFrame,
    quarantine_events: pd.DataFrame,
    community_inbox: CommunityInboxResource,
) -> pd.DataFrame:
    """A rejection workbook per dropped intake workbook that had bad rows, each bad cell marked; one
    per file that could not be read, its reason on the guide sheet."""
    quarantine = pd.concat([quarantine_residents, quarantine_events], ignore_index=True)
    target_dir = community_inbox.rejected_dir()
    read, scan = community_inbox.read_all()
    written = []
    for workbook, rows in read.items():
        bad = rejected_for(file_key(workbook), quarantine)
        if bad.empty:
            continue
        target = target_dir / fit_name(f"{file_key(workbook)}{REJECTED_SUFFIX}")
        write_rejection_workbook(target, rows, bad)
        written.append([workbook.name, bad["record_id"].nunique(), "", str(target)])
    for rejected in scan.rejected:
        target = target_dir / fit_name(f"{short_label(rejected.path.name)}{REJECTED_SUFFIX}")
        write_rejection_workbook(target, {}, quarantine.iloc[:0], file_reason=rejected.reason)
        written.append([rejected.path.name, 0, rejected.reason, str(target)])
        context.log.warning(f"社区收件箱文件未能读取，已退回：{rejected.path.name}：{rejected.reason}")
    move_rejected(scan.rejected, target_dir, note=False)
    frame = pd.DataFrame(written, columns=COLUMNS)
    context.add_output_metadata(
        frame_metadata(
            frame,
            workbooks_returned=dg.MetadataValue.int(len(frame)),
            files_rejected=dg.MetadataValue.int(len(scan.rejected)),
            duplicate_files=dg.MetadataValue.int(len(scan.duplicates)),
        )
    )
    return frame
