"""What a department receives on a day with changes: its rows against what it last received.

The warehouse keeps, per department report, a snapshot of the rows the department last received:
masked and formatted exactly as delivered, keyed by person (or incident) id. It is replaced only when
every delivery of a run went through (the department acknowledged every batch; a workbook-only
department: the workbook was written). A run compares today's rows with it: persons added, removed,
and changed (old and new value per column), plus the person ids this run merged or split.

On an incremental day a department with changes gets a change workbook (``变更`` in its name) and its
HTTP inbox only the change rows; on a full day (``--full``, its ``full_schedule``, or no complete
earlier delivery) the full workbook and push as before, and the change workbook too. No changes: no
change workbook and nothing pushed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import requests
import sqlalchemy as sa

from connectors.push import DeliveryLog, push_batches
from connectors.workbook import CoverSheet, TableSheet
from hub_errors import DeliveryError
from pipelines.departments import ReportSpec, Section
from pipelines.reporting import (
    KEY_FIELDS,
    DeliveryOutcome,
    DepartmentReport,
    RecordView,
    ReportTable,
    build_department_report,
    deliver_report,
    local_time,
    plain_text,
    safe_file_part,
    save_workbook_atomically,
    split_table,
)

Mode = Literal["full", "incremental"]
MODES = ("full", "incremental")
ADDED, MODIFIED, REMOVED, MERGED, SPLIT = "新增", "修改", "删除", "合并", "拆分"
CHANGE_TYPES = (ADDED, MODIFIED, REMOVED, MERGED, SPLIT)
DETAIL_SHEETS = {"persons": ("变更明细", "人员编号"), "incidents": ("事件变更明细", "事件编号")}
DETAIL_COLUMNS = ("变更类型", "字段", "原值", "新值")
CHANGE_MARK = "变更"
ID_HISTORY_TABLE = "person_id_history"
SNAPSHOT_TABLE = "report_snapshots"
SNAPSHOT_ROWS_TABLE = "report_snapshot_rows"
REPORT_DIGEST_TABLE = "report_person_digests"
CHUNK = 500


def snapshot_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Per report: which run's rows the department holds (and whether a full delivery is pending);
    per report, sheet and row key: the row as delivered (JSON)."""
    runs = sa.Table(
        SNAPSHOT_TABLE,
        metadata,
        sa.Column("report", sa.String(200), primary_key=True),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("full_pending", sa.Boolean, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    )
    rows = sa.Table(
        SNAPSHOT_ROWS_TABLE,
        metadata,
        sa.Column("report", sa.String(200), primary_key=True),
        sa.Column("sheet", sa.String(100), primary_key=True),
        sa.Column("row_key", sa.String(128), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("row", sa.Text, nullable=False),
    )
    return runs, rows


def report_digest_table(metadata: sa.MetaData) -> sa.Table:
    """Per report and person: the digest of the golden record (and report specification) its snapshot
    rows were built from. A person whose digest is unchanged has the rows the department holds, so an
    incremental day builds and compares only the others (absent for a report: compare everyone)."""
    return sa.Table(
        REPORT_DIGEST_TABLE,
        metadata,
        sa.Column("report", sa.String(200), primary_key=True),
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
    )


def json_value(value: Any) -> Any:
    """A cell as JSON keeps it (numpy numbers as Python numbers), so today's rows compare with stored ones."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def normalise(row: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(dict(row), ensure_ascii=False, default=json_value)))


def table_rows(table: ReportTable) -> dict[str, dict[str, Any]]:
    """The table's rows by key (person or incident id), in report order."""
    rows: dict[str, dict[str, Any]] = {}
    for key, row in zip(table.keys, table.records(), strict=True):
        rows[key] = normalise(row)
    return rows


def table_row_texts(table: ReportTable) -> dict[str, str]:
    """The table's rows by key as stored in the snapshot: the JSON of normalise(row), written once."""
    texts: dict[str, str] = {}
    for key, row in zip(table.keys, table.records(), strict=True):
        texts[key] = json.dumps(row, ensure_ascii=False, default=json_value)
    return texts


@dataclass(frozen=True)
class Snapshot:
    """What a department last received: per sheet, its rows by key."""

    run_id: str
    as_of: str
    full_pending: bool
    sheets: Mapping[str, Mapping[str, dict[str, Any]]]


class SnapshotStore:
    """The snapshots in the warehouse (the migrations create the tables)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        metadata = sa.MetaData()
        self.runs, self.rows = snapshot_tables(metadata)
        self.digests = report_digest_table(metadata)

    def head(self, report: str) -> Snapshot | None:
        """Which run's rows the department holds (no rows loaded)."""
        with self.engine.connect() as conn:
            head = conn.execute(sa.select(self.runs).where(self.runs.c.report == report)).mappings().first()
        if head is None:
            return None
        return Snapshot(str(head["run_id"]), str(head["as_of"]), bool(head["full_pending"]), {})

    def load(
        self, report: str, *, persons: Collection[str] | None = None, person_sheets: Collection[str] = ()
    ) -> Snapshot | None:
        """What the department holds; with ``persons``, only those rows of the ``person_sheets``."""
        head = self.head(report)
        if head is None:
            return None
        rows = self.rows.c
        base = sa.select(rows.sheet, rows.row_key, rows.row, rows.position).where(rows.report == report)
        if persons is None:
            queries = [base]
        else:
            keys = sorted(persons)
            queries = [base.where(rows.sheet.not_in(list(person_sheets)))] + [
                base.where(rows.sheet.in_(list(person_sheets)), rows.row_key.in_(keys[start : start + CHUNK]))
                for start in range(0, len(keys), CHUNK)
            ]
        found: list[tuple[str, str, str, int]] = []
        with self.engine.connect() as conn:
            for query in queries:
                found += [(str(sheet), str(key), row, int(place)) for sheet, key, row, place in conn.execute(query)]
        found.sort(key=lambda item: (item[0], item[3]))
        sheets: dict[str, dict[str, dict[str, Any]]] = {}
        for sheet, key, row, _ in found:
            sheets.setdefault(sheet, {})[key] = json.loads(row)
        return dataclasses.replace(head, sheets=sheets)

    def stored_digests(self, report: str) -> dict[str, str]:
        """person id -> digest of the golden record the department's rows were built from."""
        query = sa.select(self.digests.c.person_id, self.digests.c.digest).where(self.digests.c.report == report)
        with self.engine.connect() as conn:
            return {str(person): str(digest) for person, digest in conn.execute(query)}

    def _write_digests(
        self, conn: sa.Connection, report: str, digests: Mapping[str, str] | None, scope: Collection[str] | None
    ) -> None:
        """Replace the report's digests (scope None: all of them, else those of ``scope``); without
        digests, forget them all, so the next incremental day compares every person."""
        table = self.digests.c
        if digests is None or scope is None:
            conn.execute(self.digests.delete().where(table.report == report))
        else:
            keys = sorted(scope)
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                conn.execute(self.digests.delete().where(table.report == report, table.person_id.in_(chunk)))
        if digests is None:
            return
        chosen = digests if scope is None else {key: digests[key] for key in scope if key in digests}
        if chosen:
            conn.execute(
                self.digests.insert(),
                [{"report": report, "person_id": key, "digest": value} for key, value in chosen.items()],
            )

    def save_digests(self, report: str, digests: Mapping[str, str], scope: Collection[str]) -> None:
        """A day without changes for the department: the compared persons' rows are what it holds."""
        with self.engine.begin() as conn:
            self._write_digests(conn, report, digests, scope)

    def mark_full_pending(self, report: str) -> None:
        """A full delivery starts: until it is acknowledged the department's copy is uncertain, so the
        next run delivers in full again (a crash or failed batch in between cannot leave it short)."""
        with self.engine.begin() as conn:
            conn.execute(self.runs.update().where(self.runs.c.report == report).values(full_pending=True))

    def save(self, report: DepartmentReport, run_id: str, digests: Mapping[str, str] | None = None) -> int:
        """Replace the department's snapshot with ``report``'s rows (and the digests of the golden records
        they were built from), in one transaction."""
        name = report.spec.name
        records = [
            {"report": name, "sheet": table.sheet, "row_key": key, "position": position, "row": row}
            for table in report.tables
            for position, (key, row) in enumerate(table_row_texts(table).items())
        ]
        with self.engine.begin() as conn:
            conn.execute(self.rows.delete().where(self.rows.c.report == name))
            conn.execute(self.runs.delete().where(self.runs.c.report == name))
            if records:
                conn.execute(self.rows.insert(), records)
            self._write_digests(conn, name, digests, None)
            conn.execute(
                self.runs.insert().values(
                    report=name,
                    run_id=run_id,
                    as_of=report.as_of.isoformat(),
                    full_pending=False,
                    row_count=len(records),
                    written_at=datetime.now(UTC),
                )
            )
        return len(records)

    def save_changes(
        self,
        changes: ChangeSet,
        run_id: str,
        digests: Mapping[str, str] | None = None,
        scope: Collection[str] | None = None,
    ) -> int:
        """Bring the snapshot up to date with ``changes`` alone (rows removed, modified or added), in one
        transaction: a day with a few changes does not rewrite every row. ``scope``: the persons the
        report was built for (None: all), whose digests are replaced."""
        report = changes.report
        name, rows = report.spec.name, self.rows.c
        positions = {(t.sheet, key): i for t in report.tables for i, key in enumerate(t.keys)}
        stale = [change for change in changes.rows if change.change in (MODIFIED, REMOVED)]
        fresh = [
            {
                "report": name,
                "sheet": change.sheet,
                "row_key": change.key,
                "position": positions.get((change.sheet, change.key), 0),
                "row": json.dumps(change.after, ensure_ascii=False),
            }
            for change in changes.rows
            if change.after is not None
        ]
        with self.engine.begin() as conn:
            for change in stale:
                conn.execute(
                    self.rows.delete().where(
                        rows.report == name, rows.sheet == change.sheet, rows.row_key == change.key
                    )
                )
            if fresh:
                conn.execute(self.rows.insert(), fresh)
            self._write_digests(conn, name, digests, scope)
            held = conn.execute(sa.select(sa.func.count()).select_from(self.rows).where(rows.report == name)).scalar()
            conn.execute(
                self.runs.update()
                .where(self.runs.c.report == name)
                .values(
                    run_id=run_id,
                    as_of=report.as_of.isoformat(),
                    full_pending=False,
                    row_count=int(held or 0),
                    written_at=datetime.now(UTC),
                )
            )
        return len(stale) + len(fresh)


@dataclass(frozen=True)
class RowChange:
    """One row added, modified or removed; ``fields`` are the headers whose value changed."""

    sheet: str
    key: str
    change: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdChange:
    """Person ids this run merged (``from_ids`` retired into ``person_id``) or split (``person_id`` new)."""

    change: str
    person_id: str
    from_ids: tuple[str, ...]


@dataclass
class ChangeSet:
    report: DepartmentReport
    baseline: Snapshot
    rows: list[RowChange] = field(default_factory=list)
    ids: list[IdChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows and not self.ids

    def counts(self) -> dict[str, int]:
        """Rows (persons, incidents) per change type, and merged / split person ids."""
        counts = dict.fromkeys(CHANGE_TYPES, 0)
        for row in self.rows:
            counts[row.change] += 1
        for change in self.ids:
            counts[change.change] += 1
        return counts

    def for_sheet(self, sheet: str) -> list[RowChange]:
        return [row for row in self.rows if row.sheet == sheet]


def id_changes(engine: sa.Engine, run_id: str) -> list[IdChange]:
    """The merges and splits of person ids this run recorded in the id history."""
    if not sa.inspect(engine).has_table(ID_HISTORY_TABLE):
        return []
    query = sa.text(
        f"select person_id, change, detail from {ID_HISTORY_TABLE} "
        "where run_id = :run and change in ('merged', 'split') order by id"
    )
    merged: dict[str, list[str]] = {}
    changes: list[IdChange] = []
    with engine.connect() as conn:
        for person_id, change, detail in conn.execute(query, {"run": run_id}):
            facts = json.loads(detail) if detail else {}
            if change == "merged" and facts.get("into_id"):
                merged.setdefault(str(facts["into_id"]), []).append(str(person_id))
            elif change == "split":
                sources = tuple(part for part in str(facts.get("from_ids") or "").split(";") if part)
                changes.append(IdChange(SPLIT, str(person_id), sources))
    changes += [IdChange(MERGED, into, tuple(sorted(retired))) for into, retired in merged.items()]
    return sorted(changes, key=lambda item: (item.person_id, item.change))


def diff_report(report: DepartmentReport, baseline: Snapshot, ids: Iterable[IdChange] = ()) -> ChangeSet:
    """Today's rows of ``report`` against what the department last received; the id merges and splits
    kept are those touching a person the department holds or receives now."""
    changes = ChangeSet(report, baseline)
    touched: set[str] = set()
    for table in report.tables:
        before = baseline.sheets.get(table.sheet, {})
        after = table_rows(table)
        if table.covers == "persons":
            touched |= set(before) | set(after)
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            if old is None:
                changes.rows.append(RowChange(table.sheet, key, ADDED, None, new))
            elif new is None:
                changes.rows.append(RowChange(table.sheet, key, REMOVED, old, None))
            elif old != new:
                fields = tuple(header for header in new if old.get(header) != new.get(header))
                changes.rows.append(RowChange(table.sheet, key, MODIFIED, old, new, fields))
    changes.ids = [change for change in ids if {change.person_id, *change.from_ids} & touched]
    return changes


def key_header(section: Section) -> str | None:
    """The column holding the row key (person or incident id), which a change batch matches rows on."""
    wanted = KEY_FIELDS[section.covers]
    return next((column.header for column in section.columns if column.field == wanted), None)


def incremental_blocker(spec: ReportSpec) -> str:
    """Why this department cannot take change batches ('' when it can): each sheet needs its key
    column, unmasked."""
    for section in spec.sections:
        if key_header(section) is None or KEY_FIELDS[section.covers] not in spec.entitled:
            return f"sheet {section.sheet} shows no unmasked {KEY_FIELDS[section.covers]} column to match changes on"
    return ""


def shown_key(spec: ReportSpec, key: str) -> str:
    return key if "person_id" in spec.entitled else spec.mask_for("person_id").apply(key) or ""


def detail_rows(spec: ReportSpec, changes: ChangeSet, sheets: Sequence[str], with_sheet: bool) -> list[list[Any]]:
    """One line per changed value: a modified person's changed columns (old -> new), an added
    person's filled columns (new), a removed person's columns (old), an id merge or split."""
    lines: list[list[Any]] = []
    for sheet in sheets:
        for row in changes.for_sheet(sheet):
            prefix = [sheet] if with_sheet else []
            if row.change == MODIFIED:
                assert row.before is not None and row.after is not None
                values = [(header, row.before.get(header), row.after.get(header)) for header in row.fields]
            elif row.change == ADDED:
                assert row.after is not None
                values = [(header, None, value) for header, value in row.after.items() if plain_text(value)]
            else:
                assert row.before is not None
                values = [(header, value, None) for header, value in row.before.items() if plain_text(value)]
            for header, old, new in values:
                lines.append([*prefix, shown_key(spec, row.key), row.change, header, plain_text(old), plain_text(new)])
    return lines


def id_lines(spec: ReportSpec, changes: ChangeSet, with_sheet: bool, header: str) -> list[list[Any]]:
    lines = []
    for change in changes.ids:
        prefix = [""] if with_sheet else []
        old = "、".join(shown_key(spec, pid) for pid in change.from_ids)
        new = shown_key(spec, change.person_id)
        lines.append([*prefix, new, change.change, header, old, new])
    return lines


def change_sheets(changes: ChangeSet) -> list[TableSheet]:
    """The detail sheets: persons' changes in 变更明细 (with the id merges and splits), incidents' in
    事件变更明细; a 工作表 column when a department has several sheets of one kind."""
    spec = changes.report.spec
    sheets = []
    for covers, (title, key_title) in DETAIL_SHEETS.items():
        names = [table.sheet for table in changes.report.tables if table.covers == covers]
        if not names:
            continue
        with_sheet = len(names) > 1
        headers = [*(["工作表"] if with_sheet else []), key_title, *DETAIL_COLUMNS]
        lines = detail_rows(spec, changes, names, with_sheet)
        if covers == "persons":
            lines += id_lines(spec, changes, with_sheet, key_title)
        frame = pd.DataFrame(lines, columns=headers, dtype=object)
        sheets.append(TableSheet(title, frame, text_columns=frozenset(headers)))
    return sheets


def change_cover(changes: ChangeSet, *, run_id: str, generated_at: datetime) -> CoverSheet:
    spec, report = changes.report.spec, changes.report
    counts = changes.counts()
    facts: list[tuple[str, Any]] = [
        ("报表", f"{spec.title}（变更）"),
        ("接收单位", spec.recipient),
        ("运行编号", run_id),
        ("生成时间", local_time(generated_at, spec.execution_timezone)),
        ("统计日期", report.as_of.isoformat()),
        ("对比基准", f"上次交付（统计日期 {changes.baseline.as_of}，运行编号 {changes.baseline.run_id}）"),
    ]
    facts += [
        (f"{change}（{'人员编号' if change in (MERGED, SPLIT) else '行'}数）", counts[change])
        for change in CHANGE_TYPES
    ]
    masked = [s.header for table in report.tables for s in table.column_sources if "脱敏" in s.treatment]
    facts.append(("脱敏列", "、".join(masked) if masked else "无"))
    if report.verification is not None:
        facts.append((f"{report.verification.sheet} 行数", str(len(report.verification.frame))))
    rows = []
    for table in report.tables:
        per_type = {change: 0 for change in (ADDED, MODIFIED, REMOVED)}
        for row in changes.for_sheet(table.sheet):
            per_type[row.change] += 1
        rows += [[table.sheet, change, count] for change, count in per_type.items()]
    return CoverSheet(
        title=f"{spec.title}（变更）", facts=facts, table_headers=("工作表", "变更类型", "行数"), table_rows=rows
    )


def change_workbook_path(spec: ReportSpec, out_dir: Path, as_of_text: str) -> Path:
    """The full workbook's name with 变更 before the date: civil_民政_变更_2026-03-10.xlsx."""
    delivery = next((item for item in spec.deliveries if item.kind == "workbook"), None)
    folder, pattern = (delivery.folder, delivery.file) if delivery else ("reports", "{department}_{date}.xlsx")
    if "{date}" in pattern:
        pattern = pattern.replace("{date}", f"{CHANGE_MARK}_{{date}}")
    else:
        pattern = pattern.replace(".xlsx", f"_{CHANGE_MARK}.xlsx")
    name = pattern.format(department=spec.department, date=as_of_text, group=safe_file_part(spec.department))
    return Path(out_dir) / folder / name


def write_change_workbook(changes: ChangeSet, out_dir: Path, *, run_id: str, generated_at: datetime) -> Path:
    """The 变更 workbook: cover, the change details, then the department's current 核验 sheet (as in
    its full workbook), so its alerts and their dropdown reach it on incremental days too."""
    path = change_workbook_path(changes.report.spec, out_dir, changes.report.as_of.isoformat())
    cover = change_cover(changes, run_id=run_id, generated_at=generated_at)
    verification = changes.report.verification
    extra = split_table(verification).sheets() if verification is not None else []
    return save_workbook_atomically(path, [*change_sheets(changes), *extra], cover)


def change_payload_rows(changes: ChangeSet, table: ReportTable, key_column: str) -> list[dict[str, Any]]:
    """The change rows of one sheet as the department's inbox applies them (whole new rows, keys of
    removed rows), then the id merges and splits for a persons sheet."""
    rows: list[dict[str, Any]] = []
    for row in changes.for_sheet(table.sheet):
        entry: dict[str, Any] = {"变更类型": row.change, key_column: row.key}
        if row.after is not None:
            entry["行"] = dict(row.after)
        if row.fields:
            entry["变更字段"] = list(row.fields)
        rows.append(entry)
    if table.covers == "persons":
        rows += [
            {"变更类型": change.change, key_column: change.person_id, "原编号": list(change.from_ids)}
            for change in changes.ids
        ]
    return rows


@dataclass
class DailyOutcome(DeliveryOutcome):
    """One department's delivery of a daily run: full or changes only, and what changed."""

    full: bool = False
    reason: str = ""
    change_workbooks: list[Path] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)
    change_rows_pushed: int = 0
    snapshot_saved: bool = False

    def summary(self) -> dict[str, Any]:
        """What the department received, in words and counts (metadata, summary.json)."""
        return {
            "delivery": "full" if self.full else "changes",
            "reason": self.reason,
            "changes": self.changes,
            "change_workbooks": [path.name for path in self.change_workbooks],
            "change_rows_pushed": self.change_rows_pushed,
            "nothing_to_deliver": not self.full and not any(self.changes.values()),
        }


def delivery_mode(spec: ReportSpec, mode: str, baseline: Snapshot | None, as_of_day: Any) -> tuple[bool, str]:
    """Whether the department gets its full report today, and why (or why only its changes)."""
    if mode == "full":
        return True, "full run (--full)"
    if baseline is None:
        return True, "first delivery: the department holds nothing from the hub yet"
    if baseline.full_pending:
        return True, "the last full delivery was not acknowledged completely"
    if spec.is_full_day(as_of_day):
        return True, f"full day by the department's full_schedule ({spec.full_schedule})"
    blocker = incremental_blocker(spec)
    if blocker:
        return True, blocker
    return False, "incremental day: only the changes since the last delivery"


def report_digests(spec: ReportSpec, golden_digests: Mapping[str, str]) -> dict[str, str]:
    """Each person's golden digest bound to the report specification: a changed specification (columns,
    masks, coverage) makes every person's rows worth comparing again."""
    canonical = json.dumps(dataclasses.asdict(spec), sort_keys=True, ensure_ascii=False, default=_canonical)
    bound = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    return {person: f"{digest}:{bound}" for person, digest in golden_digests.items()}


def _canonical(value: Any) -> Any:
    """Sets in a fixed order (their own order changes with each process's string hashing)."""
    if isinstance(value, set | frozenset):
        return sorted(map(str, value))
    return str(value)


def uses_age(spec: ReportSpec) -> bool:
    """Whether any sheet shows or selects by age, which changes with the report date alone."""
    return any(
        column.field == "age" for section in spec.sections for column in section.columns
    ) or any("age" in repr(section.include) for section in spec.sections)


def persons_to_compare(
    spec: ReportSpec,
    persons: pd.DataFrame,
    digests: Mapping[str, str],
    stored: Mapping[str, str],
    held_as_of: str,
    as_of: date,
) -> set[str]:
    """The persons whose rows may differ from what the department holds: golden record changed (or new,
    or gone) since its rows were built, or, for a report with ages, a birthday since the date it holds."""
    scope = {person for person, digest in digests.items() if stored.get(person) != digest}
    scope |= set(stored) - set(digests)
    if uses_age(spec) and held_as_of != as_of.isoformat():
        then, now = RecordView(persons, date.fromisoformat(held_as_of)), RecordView(persons, as_of)
        aged = then.values("age").to_numpy() != now.values("age").to_numpy()
        scope |= set(persons["person_id"].astype(str).to_numpy()[aged])
    return scope


@dataclass(frozen=True)
class ReportPlan:
    """Today's report of a department, built for every person (scope None) or, on its incremental
    days, for the persons whose rows may have changed; with the digests to keep with its snapshot."""

    report: DepartmentReport
    digests: dict[str, str]
    scope: set[str] | None


def plan_report(
    spec: ReportSpec,
    persons: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    engine: sa.Engine,
    mode: str,
    as_of: date,
    golden_digests: Mapping[str, str],
    verification: Callable[[], ReportTable | None] = lambda: None,
) -> ReportPlan:
    """Build the department's report as deliver_daily will need it: in full on its full days, else only
    the rows of persons_to_compare (the 核验 sheet goes only into full workbooks)."""
    store = SnapshotStore(engine)
    digests = report_digests(spec, golden_digests)
    head = store.head(spec.name)
    if head is None or delivery_mode(spec, mode, head, as_of)[0]:
        return ReportPlan(build_department_report(spec, persons, incidents, as_of=as_of, verification=verification()),
                          digests, None)  # fmt: skip
    scope = persons_to_compare(spec, persons, digests, store.stored_digests(spec.name), head.as_of, as_of)
    chosen = persons[persons["person_id"].astype(str).isin(scope).to_numpy()]
    return ReportPlan(build_department_report(spec, chosen, incidents, as_of=as_of), digests, scope)


def deliver_daily(
    report: DepartmentReport,
    *,
    out_dir: Path,
    run_id: str,
    engine: sa.Engine,
    mode: str = "incremental",
    ids: Iterable[IdChange] = (),
    generated_at: datetime | None = None,
    env: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    attempts: int = 5,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    digests: Mapping[str, str] | None = None,
    scope: Collection[str] | None = None,
) -> DailyOutcome:
    """Deliver one department's report for a daily run (see the module docstring); the snapshot of what
    it received is replaced only when every delivery went through.

    ``digests`` (report_digests) are kept with the snapshot; ``scope``: the persons ``report`` was built
    for on an incremental day (persons_to_compare), None when it holds every person. Only their rows
    are compared; everyone else's rows are what the department holds.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    generated_at = generated_at or datetime.now(UTC)
    spec = report.spec
    store = SnapshotStore(engine)
    person_sheets = [table.sheet for table in report.tables if table.covers == "persons"]
    baseline = store.load(spec.name, persons=scope, person_sheets=person_sheets)
    full, reason = delivery_mode(spec, mode, baseline, report.as_of)
    if full and scope is not None:
        raise ValueError(f"report {spec.name} was built for some persons only; a full delivery needs every person")
    changes = diff_report(report, baseline, ids) if baseline is not None else None
    outcome = DailyOutcome(full=full, reason=reason, changes=changes.counts() if changes else {})
    if changes is not None and not changes.empty:
        path = write_change_workbook(changes, out_dir, run_id=run_id, generated_at=generated_at)
        outcome.change_workbooks.append(path)
    if full:
        if baseline is not None:
            store.mark_full_pending(spec.name)
        delivered = deliver_report(
            report,
            out_dir=out_dir,
            run_id=run_id,
            engine=engine,
            generated_at=generated_at,
            env=env,
            session=session,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
        )
        outcome.workbooks, outcome.pushes, outcome.not_attempted = (
            delivered.workbooks,
            delivered.pushes,
            delivered.not_attempted,
        )
    elif changes is not None and not changes.empty:
        push_changes(
            changes,
            outcome,
            run_id=run_id,
            engine=engine,
            env=env,
            session=session,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
        )
    if outcome.not_attempted:
        return outcome
    if full or changes is None:
        store.save(report, run_id, digests)
        outcome.snapshot_saved = True
    elif not changes.empty:
        store.save_changes(changes, run_id, digests, scope)
        outcome.snapshot_saved = True
    elif digests is not None:
        store.save_digests(spec.name, digests, scope if scope is not None else digests.keys())
    return outcome


def push_changes(
    changes: ChangeSet,
    outcome: DailyOutcome,
    *,
    run_id: str,
    engine: sa.Engine,
    env: Mapping[str, str] | None,
    session: requests.Session | None,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> None:
    """Push each sheet's change rows to every HTTP delivery of the department. Before a sheet's changes
    go out, the positions of its full report are forgotten: the department's copy no longer matches
    them, so the next full delivery sends every batch."""
    spec = changes.report.spec
    log = DeliveryLog(engine, create=False)
    failures: list[str] = []
    for delivery in spec.deliveries:
        if delivery.kind != "http":
            continue
        url = delivery.resolved_url(env)
        if url is None:
            outcome.not_attempted.append(f"{spec.name}: HTTP delivery skipped ({delivery.url} has an unset variable)")
            continue
        for table, section in zip(changes.report.tables, spec.sections, strict=True):
            key_column = key_header(section)
            assert key_column is not None  # incremental_blocker lets no such department through
            rows = change_payload_rows(changes, table, key_column)
            if not rows:
                continue
            full_name = f"{spec.name}/{table.sheet}"
            log.forget(full_name)
            try:
                outcome.pushes.append(
                    push_batches(
                        log,
                        report=f"{full_name}/{CHANGE_MARK}",
                        run_id=run_id,
                        url=url,
                        rows=rows,
                        batch_size=delivery.batch_size,
                        session=session,
                        attempts=attempts,
                        backoff=backoff,
                        sleep=sleep,
                        payload_extra={"kind": "changes", "applies_to": full_name, "key_column": key_column},
                    )
                )
                outcome.change_rows_pushed += len(rows)
            except DeliveryError as exc:
                failures.append(str(exc))
    if failures:
        raise DeliveryError(" | ".join(failures))
