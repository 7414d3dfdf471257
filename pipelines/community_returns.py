"""The community inbox's returns: workbooks the hub sent out, filled in and dropped back.

Intake workbooks (hub template) are read by the intake source as before. A workbook carrying the
hub's hidden return marker (connectors/return_marker.py, ``recognise_return``) is a return instead:
it goes to the handler registered for its marker's ``kind`` (``RETURN_HANDLERS``; the roster's is
here, the department form's ``form`` in pipelines/forms/returns.py, others plug in with
``register_return_kind``). Each return is applied at most once: the warehouse keeps the hash of every
file applied, so the same file dropped again is only moved away (a handler keeping its own record of
the files it took, as forms do in ``form_returns``, answers ``ALREADY_APPLIED`` itself). Afterwards
the file leaves the inbox: to ``processed/`` when applied (or already applied), to ``rejected/``
beside a rejection workbook naming each bad row and column when not. A return of a kind no handler
knows stays in the inbox, for the handler that will.

One flow, two steps: a kind registered with ``separate_step`` (forms) is taken by a step of its own,
``process_returns(..., kinds=[kind])`` (asset ``returned_forms`` and ``hub form collect``: the form
progress and consolidation follow that step, and it runs after the intake rejections because it
writes persons staff added into the inbox as intake); every other kind by the ``community_corrections``
step (``process_returns`` without ``kinds``). So no file is ever read by two steps at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from connectors.inbox import PROCESSED_DIR_NAME, REJECTED_DIR_NAME, file_hash, move_into, scan_inbox
from connectors.return_marker import ReturnMarker, recognise_return
from connectors.spreadsheet import WorkbookRejected
from pipelines.reporting import ROSTER_KIND
from pipelines.roster_returns import (
    CellProblem,
    load_roster_return_rules,
    read_returned_roster,
    rejection_workbook_name,
    write_roster_rejection,
)
from pipelines.warehouse import Warehouse

APPLIED, REJECTED, ALREADY_APPLIED, UNKNOWN_KIND = "applied", "rejected", "already_applied", "unknown_kind"


@dataclass(frozen=True)
class ReturnedFile:
    """A returned workbook in the inbox: where it is, what its marker says, the hash of its bytes."""

    path: Path
    marker: ReturnMarker
    file_hash: str


@dataclass(frozen=True)
class ReturnOutcome:
    """What a handler did with a return: applied (how many corrections) or rejected (why, and the
    rejection workbook written into ``rejected_dir``)."""

    outcome: str
    corrections: int = 0
    reason: str = ""
    rejection_workbook: Path | None = None


ReturnHandler = Callable[[ReturnedFile, Warehouse, str, Path], ReturnOutcome]
"""(returned file, warehouse, run id, rejected/ folder) -> outcome. A handler that applies a file
records what it applied together with the file's hash, in one transaction
(``Warehouse.rosters.record_returned_file``), so ``seen_return`` finds it next time; or keeps its own
record of the hashes it took and answers ``ALREADY_APPLIED`` (forms: ``form_returns``). The caller
moves the file afterwards: ``REJECTED`` to rejected/, anything else to processed/."""


@dataclass(frozen=True)
class ProcessedReturn:
    file_name: str
    kind: str
    send_id: str
    outcome: str
    corrections: int
    reason: str
    moved_to: str


def apply_roster_return(returned: ReturnedFile, warehouse: Warehouse, run_id: str, rejected_dir: Path) -> ReturnOutcome:
    """A returned community roster: all its corrections applied, or none and a rejection workbook."""
    store = warehouse.rosters
    rules = load_roster_return_rules()
    send = store.send(returned.marker.send_id)
    name = returned.path.name

    def reject(problems: list[CellProblem]) -> ReturnOutcome:
        target = rejected_dir / rejection_workbook_name(name)
        write_roster_rejection(target, name, send, problems)
        return ReturnOutcome(REJECTED, reason=problems[0].reason, rejection_workbook=target)

    if send is None:
        reason = f"名册编号“{returned.marker.send_id}”不是本系统下发的名册：请使用系统下发的核对名册原文件"
        return reject([CellProblem("", 0, "", "名册编号", returned.marker.send_id, reason)])
    try:
        read = read_returned_roster(returned.path, store.sent_rows(send.send_id), rules)
    except WorkbookRejected as exc:
        return reject([CellProblem("", 0, "", "", "", exc.reason)])
    if read.problems:
        return reject(read.problems)
    checked_by = "，".join(part for part in (send.community, read.checked_by) if part)
    store.record_return(
        file_hash=returned.file_hash, kind=returned.marker.kind, send=send, file_name=name, outcome=APPLIED,
        rows_read=read.rows_read, checked_by=checked_by, checked_at=read.checked_at, run_id=run_id,
        corrections=read.corrections,
    )
    return ReturnOutcome(APPLIED, corrections=len(read.corrections))


RETURN_HANDLERS: dict[str, ReturnHandler] = {ROSTER_KIND: apply_roster_return}
SEPARATE_STEP_KINDS: set[str] = set()


def register_return_kind(kind: str, handler: ReturnHandler, *, separate_step: bool = False) -> None:
    """Let returns whose marker says ``kind`` be read by ``handler`` (a form, a survey, ...);
    ``separate_step``: only ``process_returns(..., kinds=[kind])`` takes them (see the module docstring)."""
    RETURN_HANDLERS[kind] = handler
    if separate_step:
        SEPARATE_STEP_KINDS.add(kind)
    else:
        SEPARATE_STEP_KINDS.discard(kind)


def returned_files(inbox: Path, take: Callable[[str], bool] = lambda kind: True) -> list[ReturnedFile]:
    """The readable workbooks of the inbox that carry a return marker of a kind ``take`` accepts,
    oldest first, then the byte-identical copies (each is moved out as already applied once its
    original is). Only those are hashed; one moved away meanwhile (by the step taking its kind) is
    left out."""
    scan = scan_inbox(inbox)
    found = []
    for path in [*scan.workbooks, *(copy.path for copy in scan.duplicates)]:
        marker = recognise_return(path)
        if marker is None or not take(marker.kind):
            continue
        try:
            found.append(ReturnedFile(path, marker, file_hash(path)))
        except FileNotFoundError:
            continue
    return found


def process_returns(
    inbox: Path,
    warehouse: Warehouse,
    run_id: str,
    handlers: dict[str, ReturnHandler] | None = None,
    *,
    kinds: Collection[str] | None = None,
) -> list[ProcessedReturn]:
    """Apply every return in the inbox once and move it out (see the module docstring). ``kinds``:
    take only returns of these kinds; without it, every kind but those of a separate step."""
    handlers = RETURN_HANDLERS if handlers is None else handlers
    processed_dir, rejected_dir = inbox / PROCESSED_DIR_NAME, inbox / REJECTED_DIR_NAME
    done: list[ProcessedReturn] = []

    def take(kind: str) -> bool:
        return kind in kinds if kinds is not None else kind not in SEPARATE_STEP_KINDS

    for returned in returned_files(inbox, take):
        marker = returned.marker
        handler = handlers.get(marker.kind)
        if handler is None:
            done.append(ProcessedReturn(returned.path.name, marker.kind, marker.send_id, UNKNOWN_KIND, 0,
                                        "没有处理这一类回执的程序，文件留在收件箱", str(returned.path)))
            continue
        earlier = warehouse.rosters.seen_return(returned.file_hash)
        if earlier is not None:
            moved = move_into(returned.path, processed_dir)
            reason = f"与 {earlier['file_name']} 内容完全相同，已于 {str(earlier['received_at'])[:19]} 处理，未重复采用"
            done.append(ProcessedReturn(returned.path.name, marker.kind, marker.send_id, ALREADY_APPLIED, 0, reason,
                                        str(moved)))
            continue
        outcome = handler(returned, warehouse, run_id, rejected_dir)
        target = rejected_dir if outcome.outcome == REJECTED else processed_dir
        moved = move_into(returned.path, target)
        done.append(ProcessedReturn(returned.path.name, marker.kind, marker.send_id, outcome.outcome,
                                    outcome.corrections, outcome.reason, str(moved)))
    return done
