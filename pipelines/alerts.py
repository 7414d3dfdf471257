"""Cross-department verification (核验): records one department holds that another's contradict.

The rules are data (pipelines/config/alerts.yaml, its header describes the small vocabulary): each
flags records of one source, for the department that holds the record and can fix it, using what the
other departments' records of the same person say. This module only knows how to apply them to the
standardized records and the person lineage; the warehouse keeps each alert's state across runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from connectors.spreadsheet import WorkbookRejected, open_workbook, sheet_values
from connectors.text import value_as_text
from hub_errors import ConfigError, HubError
from pipelines.departments import ReportSpec
from pipelines.metadata import mask_text
from pipelines.reporting import (
    ColumnSource,
    ReportTable,
    age_on,
    is_missing,
    parse_json_object,
    plain_text,
    today_in_china,
)
from pipelines.warehouse import Warehouse
from schemas.normalize.dates import normalize_date
from schemas.normalize.id_number import birth_from_id

RULES_FILE = Path(__file__).resolve().parent / "config" / "alerts.yaml"
REFERENCE_DATE_ENV = "HUB_REFERENCE_DATE"
ALERT_COLUMNS = ["alert_id", "kind", "source", "record_id", "person_id", "detail", "context"]
CSV_COLUMNS = ["kind", "source", "record_id", "person_id", "detail"]
CONDITIONS = ("value_in", "not_value_in", "present", "absent", "other_record", "repeated", "age_below")
OTHER_RECORD_TESTS = ("present", "has_date", "value_in")
# Placeholders that stand for a golden field when a department's entitlements are applied.
ENTITLEMENT_FIELD = {"consensus_birth": "birth", "age": "age"}
ALWAYS_SHOWN = frozenset({"record_id", "others", "evidence_record_id", "evidence_source"})
CORE_COLUMNS = ("name", "id_no", "gender", "birth", "phone", "address", "grid")


@dataclass(frozen=True)
class AlertRule:
    """One kind of alert: which source's records it flags, when, and how it is worded."""

    kind: str
    title: str
    source: str
    when: tuple[tuple[str, Any], ...]
    detail: str
    evidence: tuple[str, ...] = ()

    def fields(self) -> set[str]:
        """The record fields and attributes the conditions read."""
        names: set[str] = set()
        for name, value in self.when:
            if name in ("value_in", "not_value_in"):
                names.update(value)
            elif name in ("present", "absent"):
                names.add(value)
            elif name == "repeated":
                names.update(value)
            elif name == "other_record":
                names.add(other_record_field(value))
        names.update(
            placeholder.removeprefix("evidence_")
            for placeholder in placeholders(self.detail)
            if placeholder not in ALWAYS_SHOWN and placeholder not in ENTITLEMENT_FIELD
        )
        return names


@dataclass(frozen=True)
class AlertRules:
    rules: tuple[AlertRule, ...]
    reference_date: str = "today"
    answers: tuple[str, ...] = ()
    answer_within_days: int = 30
    departments: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    shown_to_all: frozenset[str] = frozenset()
    """Fields every department's 核验 sheet shows unmasked: facts about a check, not about a resident."""
    path: Path | None = None

    def as_of(self) -> date:
        """The reference date for ages and dates: HUB_REFERENCE_DATE, the file's date, or today."""
        raw = os.environ.get(REFERENCE_DATE_ENV) or self.reference_date
        if str(raw).strip().lower() == "today":
            return today_in_china()
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            where = REFERENCE_DATE_ENV if os.environ.get(REFERENCE_DATE_ENV) else f"{self.path} reference_date"
            raise ConfigError(f"{where}：核验基准日“{raw}”不是 YYYY-MM-DD 格式的日期（或 today）") from None

    def sources(self) -> list[str]:
        """The departments that receive alerts, in rule order."""
        return list(dict.fromkeys(rule.source for rule in self.rules))

    def label(self, name: str) -> str:
        return self.labels.get(name) or self.labels.get(name.removeprefix("evidence_")) or name


def other_record_field(spec: Mapping[str, Any]) -> str:
    """The field an other_record condition tests on the other record."""
    if "value_in" in spec:
        return str(next(iter(spec["value_in"])))
    return str(spec.get("present") or spec["has_date"])


def placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _fail(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"核验规则文件 {path}：{problem}。请修改该文件后重新运行。")


def _condition(raw: Any, path: Path, where: str) -> tuple[str, Any]:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise _fail(path, f"{where} 应为只有一个键的条件，可用 {', '.join(CONDITIONS)}")
    ((name, value),) = raw.items()
    if name not in CONDITIONS:
        raise _fail(path, f"{where} 未知条件 {name}，可用 {', '.join(CONDITIONS)}")
    if name in ("value_in", "not_value_in"):
        if not isinstance(value, Mapping) or not all(isinstance(v, list) for v in value.values()):
            raise _fail(path, f"{where} {name} 应为“字段: [取值, ...]”")
        return name, {str(k): frozenset(map(str, v)) for k, v in value.items()}
    if name in ("present", "absent"):
        return name, str(value)
    if name == "repeated":
        if not isinstance(value, list) or not value:
            raise _fail(path, f"{where} repeated 应为字段列表")
        return name, tuple(map(str, value))
    if name == "age_below":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(path, f"{where} age_below 应为整数年龄")
        return name, value
    keys = set(value) if isinstance(value, Mapping) else set()
    tests = keys & set(OTHER_RECORD_TESTS)
    if "source" not in keys or len(tests) != 1 or keys - {"source", *OTHER_RECORD_TESTS}:
        raise _fail(path, f"{where} other_record 应写 source 以及 present、has_date 或 value_in 之一")
    if "value_in" in tests:
        allowed = value["value_in"]
        if not isinstance(allowed, Mapping) or len(allowed) != 1 or not isinstance(next(iter(allowed.values())), list):
            raise _fail(path, f"{where} other_record.value_in 应为“字段: [取值, ...]”（一个字段）")
        ((field_name, values),) = allowed.items()
        return name, {"source": str(value["source"]), "value_in": {str(field_name): frozenset(map(str, values))}}
    return name, {str(k): str(v) for k, v in value.items()}


def _rules(raw: Any, path: Path, index: int) -> list[AlertRule]:
    """One rule per source it flags: ``source`` may list several departments (each that still
    carries the person gets its own alert, worded the same)."""
    if isinstance(raw, Mapping) and isinstance(raw.get("source"), list):
        if not raw["source"]:
            raise _fail(path, f"rules[{index}] 的 source 列表为空")
        return [_rule({**raw, "source": source}, path, index) for source in raw["source"]]
    return [_rule(raw, path, index)]


def _rule(raw: Any, path: Path, index: int) -> AlertRule:
    where = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(path, f"{where} 应为映射表")
    for key in ("kind", "title", "source", "when", "detail"):
        if not raw.get(key):
            raise _fail(path, f"{where} 缺少 {key}")
    if not isinstance(raw["when"], list):
        raise _fail(path, f"{where}.when 应为条件列表")
    when = tuple(_condition(item, path, f"{where}.when[{i}]") for i, item in enumerate(raw["when"]))
    detail = str(raw["detail"])
    try:
        placeholders(detail)
    except ValueError as exc:
        raise _fail(path, f"{where}.detail 格式有误（{exc}）") from None
    return AlertRule(
        kind=str(raw["kind"]),
        title=str(raw["title"]),
        source=str(raw["source"]),
        when=when,
        detail=detail,
        evidence=tuple(map(str, raw.get("evidence") or ())),
    )


def parse_alert_rules(data: Any, path: Path) -> AlertRules:
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise _fail(path, "应为含 rules 列表的映射表")
    rules = tuple(rule for index, raw in enumerate(data["rules"]) for rule in _rules(raw, path, index))
    kinds = [(rule.kind, rule.source) for rule in rules]
    if len(set(kinds)) != len(kinds):
        raise _fail(path, "rules 中 kind 重复（同一 kind 对同一 source 只能有一条规则）")
    return AlertRules(
        rules=rules,
        reference_date=str(data.get("reference_date") or "today"),
        answers=tuple(map(str, data.get("answers") or ())),
        answer_within_days=int(data.get("answer_within_days", 30)),
        departments={str(k): str(v) for k, v in (data.get("departments") or {}).items()},
        labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
        shown_to_all=frozenset(map(str, data.get("shown_to_all") or ())),
        path=path,
    )


@lru_cache(maxsize=8)
def load_alert_rules(path: Path = RULES_FILE) -> AlertRules:
    """The verification rules of ``path`` (default pipelines/config/alerts.yaml)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"无法读取核验规则文件 {path}：{exc}") from exc
    return parse_alert_rules(data, Path(path))


def alert_id(kind: str, source: str, record_id: str) -> str:
    """A stable id for the alert on one record: the same record and kind get it in every run."""
    digest = hashlib.sha1(f"{kind}\x1f{source}\x1f{record_id}".encode()).hexdigest()
    return "HY" + digest[:10].upper()


def record_view(records: pd.DataFrame, lineage: pd.DataFrame, names: set[str]) -> pd.DataFrame:
    """source, record_id, person_id, birth, the ID's birth where its check digit holds, and every
    field or attribute in ``names`` as text (None when empty), one row per linked record."""
    keys = lineage[["source", "record_id", "person_id"]].astype(str)
    frame = records.assign(source=records["source"].astype(str), record_id=records["record_id"].astype(str))
    frame = frame.merge(keys, on=["source", "record_id"], how="inner").reset_index(drop=True)
    attributes = [parse_json_object(raw) for raw in frame["attributes"]] if "attributes" in frame else []
    view = pd.DataFrame({"source": frame["source"], "record_id": frame["record_id"], "person_id": frame["person_id"]})
    flags = frame["quality_flags"] if "quality_flags" in frame else pd.Series("", index=frame.index)
    flags = flags.fillna("").astype(str)
    ids = frame["id_no"] if "id_no" in frame else pd.Series(None, index=frame.index, dtype=object)
    view["id_birth"] = [
        None if is_missing(no) or "id_checksum" in flag.split(";") else birth_from_id(str(no))
        for no, flag in zip(ids, flags, strict=True)
    ]
    for name in sorted(names | {"birth"}):
        if name in frame.columns and name in CORE_COLUMNS:
            values = frame[name].astype(object)
        else:
            values = pd.Series([attrs.get(name) for attrs in attributes] if attributes else [None] * len(frame))
        view[name] = values.map(plain_text).to_numpy(dtype=object)
    return view


def consensus_births(view: pd.DataFrame) -> pd.Series:
    """Per person, the birth date most of the person's records give; a tie goes to the date more ID
    numbers with a correct check digit carry; a tie still is no date (person_id -> ISO date)."""
    votes = view.dropna(subset=["birth"]).groupby(["person_id", "birth"]).size().rename("votes")
    if votes.empty:
        return pd.Series(dtype=object)
    by_id = view.dropna(subset=["id_birth"]).groupby(["person_id", "id_birth"]).size()
    by_id.index = by_id.index.set_names(["person_id", "birth"])
    table = votes.to_frame().join(by_id.rename("id_votes"), how="left").fillna({"id_votes": 0}).reset_index()
    table = table.sort_values(["person_id", "votes", "id_votes"], ascending=[True, False, False], kind="stable")
    first = table.drop_duplicates("person_id", keep="first").set_index("person_id")
    second = table[table.duplicated("person_id", keep="first")].drop_duplicates("person_id").set_index("person_id")
    second = second.reindex(first.index)
    tied = (second["votes"] == first["votes"]) & (second["id_votes"] == first["id_votes"])
    return first["birth"].where(~tied.fillna(False).astype(bool)).dropna()


def _other_record_evidence(
    view: pd.DataFrame, spec: Mapping[str, Any], as_of: date, shown: Sequence[str] = ()
) -> pd.DataFrame:
    """The first record (by id) of each person from spec's source meeting spec's test, as evidence_*
    (the tested field and the other fields in ``shown``)."""
    name = other_record_field(spec)
    pool = view[(view["source"] == spec["source"]) & view[name].notna()]
    if "value_in" in spec:
        pool = pool[pool[name].isin(spec["value_in"][name])]
    if "has_date" in spec and not pool.empty:
        dates = pool[name].map(lambda text: normalize_date(text).value)
        pool = pool.assign(**{name: dates})
        pool = pool[pool[name].notna() & (pool[name] <= as_of.isoformat())]
    pool = pool.sort_values("record_id", kind="stable").drop_duplicates("person_id")
    evidence = {
        "person_id": pool["person_id"].to_numpy(),
        "evidence_source": pool["source"].to_numpy(),
        "evidence_record_id": pool["record_id"].to_numpy(),
    }
    for column in dict.fromkeys([name, *shown]):
        if column in pool.columns:
            evidence[f"evidence_{column}"] = pool[column].to_numpy()
    return pd.DataFrame(evidence)


def _repeated(view: pd.DataFrame, candidates: pd.DataFrame, fields: Sequence[str]) -> pd.DataFrame:
    """Candidates sharing person and the fields' values with another record of their source; `others`
    lists those records' ids."""
    pool = view[view["source"].isin(candidates["source"].unique())].dropna(subset=list(fields))
    keys = ["source", "person_id", *fields]
    groups = pool.groupby(keys, sort=False)["record_id"].agg(lambda ids: sorted(ids)).rename("group_ids").reset_index()
    groups = groups[groups["group_ids"].map(len) > 1]
    merged = candidates.merge(groups, on=keys, how="inner")
    merged["others"] = [
        "、".join(other for other in ids if other != own)
        for own, ids in zip(merged["record_id"], merged["group_ids"], strict=True)
    ]
    return merged.drop(columns=["group_ids"])


class _Context(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, context: Mapping[str, Any]) -> str:
    """The template filled from ``context`` (a missing or empty value as nothing), numbers masked."""
    values = _Context({key: "" if is_missing(value) else value for key, value in context.items()})
    return mask_text(string.Formatter().vformat(template, (), values))


def apply_rule(rule: AlertRule, view: pd.DataFrame, as_of: date, births: pd.Series | None = None) -> pd.DataFrame:
    """The records ``rule`` flags, with the values its wording and evidence use (one row each)."""
    candidates = view[view["source"] == rule.source]
    for name, value in rule.when:
        if candidates.empty:
            break
        if name == "value_in":
            for column, allowed in value.items():
                candidates = candidates[candidates[column].isin(allowed)]
        elif name == "not_value_in":
            for column, refused in value.items():
                candidates = candidates[~candidates[column].isin(refused)]
        elif name == "present":
            candidates = candidates[candidates[value].notna()]
        elif name == "absent":
            candidates = candidates[candidates[value].isna()]
        elif name == "other_record":
            shown = [key.removeprefix("evidence_") for key in (*placeholders(rule.detail), *rule.evidence)
                     if key.startswith("evidence_")]
            evidence = _other_record_evidence(view, value, as_of, shown)
            candidates = candidates.merge(evidence, on="person_id", how="inner")
        elif name == "repeated":
            candidates = _repeated(view, candidates, value)
        elif name == "age_below":
            births = consensus_births(view) if births is None else births
            candidates = candidates.assign(consensus_birth=candidates["person_id"].map(births))
            ages = [age_on(birth, as_of) if isinstance(birth, str) else None for birth in candidates["consensus_birth"]]
            candidates = candidates.assign(age=pd.Series(ages, index=candidates.index, dtype=object))
            candidates = candidates[[age is not None and age < value for age in ages]]
    return candidates.reset_index(drop=True)


def find_alerts(
    records: pd.DataFrame, lineage: pd.DataFrame, rules: AlertRules, *, as_of: date | None = None
) -> pd.DataFrame:
    """Every alert the rules raise on these records (ALERT_COLUMNS): ``context`` is JSON of the
    values behind the wording, from which each department's 核验 sheet is worded and masked."""
    as_of = as_of or rules.as_of()
    names = set().union(*(rule.fields() for rule in rules.rules)) if rules.rules else set()
    view = record_view(records, lineage, names)
    births = consensus_births(view)
    found = []
    for rule in rules.rules:
        flagged = apply_rule(rule, view, as_of, births)
        for row in flagged.drop(columns=["id_birth"]).astype(object).to_dict("records"):
            context = {str(key): plain_text(value) for key, value in row.items() if not is_missing(value)}
            found.append(
                [
                    alert_id(rule.kind, rule.source, str(row["record_id"])),
                    rule.kind,
                    rule.source,
                    str(row["record_id"]),
                    str(row["person_id"]),
                    render(rule.detail, context),
                    json.dumps(context, ensure_ascii=False, sort_keys=True),
                ]
            )
    frame = pd.DataFrame(found, columns=ALERT_COLUMNS)
    return frame.sort_values(["kind", "source", "record_id"], kind="stable").reset_index(drop=True)


def rule_of(rules: AlertRules, kind: str, source: str | None = None) -> AlertRule | None:
    return next(
        (rule for rule in rules.rules if rule.kind == kind and (source is None or rule.source == source)), None
    )


def entitlement_field(placeholder: str) -> str | None:
    """The golden field a placeholder shows (None: always shown, the department's own or a record id)."""
    if placeholder in ALWAYS_SHOWN:
        return None
    return ENTITLEMENT_FIELD.get(placeholder, placeholder.removeprefix("evidence_"))


def open_counts(
    alerts: pd.DataFrame, sources: Sequence[str], overdue_before: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Per department: open, answered and overdue alerts (open, first seen before ``overdue_before``),
    and open ones per kind."""
    counts: dict[str, dict[str, int]] = {}
    for source in sources:
        mine = alerts[alerts["source"] == source]
        is_open = mine["status"] == "open"
        first_seen = pd.to_datetime(mine["first_seen_at"], utc=True) if len(mine) else pd.Series(dtype=object)
        overdue = is_open & (first_seen < overdue_before) if overdue_before is not None else is_open & False
        counts[source] = {
            "open": int(is_open.sum()),
            "answered": int((mine["status"] == "answered").sum()),
            "overdue": int(overdue.sum()),
            **{f"open_{kind}": int(n) for kind, n in mine[is_open]["kind"].value_counts().sort_index().items()},
        }
    return counts


def empty_alerts() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in ALERT_COLUMNS})


def as_csv_frame(alerts: pd.DataFrame) -> pd.DataFrame:
    """alerts.csv: kind, source, record_id, person_id, detail (detail already masked)."""
    frame = alerts[CSV_COLUMNS].copy() if len(alerts) else pd.DataFrame(columns=CSV_COLUMNS)
    frame["detail"] = frame["detail"].map(lambda text: mask_text(str(text)))
    return frame



STATUS_LABELS = {"open": "待核实", "answered": "已答复"}
VERIFICATION_SHEET = "核验"
VERIFICATION_HEADERS = (
    "核验编号",
    "核验类型",
    "记录编号",
    "人员编号",
    "姓名",
    "问题说明",
    "其他部门依据",
    "首次发现",
    "状态",
    "核验结果",
    "备注",
)
ANSWER_HEADER = "核验结果"
FIRST_SEEN_HEADER = "首次发现"


def first_seen_day(first_seen: Any) -> date | None:
    """The day an alert was first seen, as a date cell a clerk can sort by."""
    if is_missing(first_seen):
        return None
    try:
        return date.fromisoformat(str(first_seen)[:10])
    except ValueError:
        return None


def _shown(spec: ReportSpec, placeholder: str, value: Any, shown_to_all: frozenset[str] = frozenset()) -> Any:
    """A value as the department may see it: masked unless it is entitled to the field it shows (or
    the field is no personal data, ``shown_to_all``)."""
    name = entitlement_field(placeholder)
    if name is None or name in spec.entitled or name in shown_to_all or is_missing(value):
        return value
    return spec.mask_for(name).apply(str(value))


def verification_table(
    spec: ReportSpec, alerts: pd.DataFrame, persons: pd.DataFrame, rules: AlertRules | None = None
) -> ReportTable:
    """The department's 核验 sheet: each current alert on its records, worded from the values masked
    to its entitlements, with the evidence from the other departments and a dropdown for its answer."""
    rules = rules or load_alert_rules()
    mine = alerts[alerts["source"].astype(str) == spec.department] if len(alerts) else alerts
    mine = mine.sort_values(["kind", "record_id"], kind="stable") if len(mine) else mine
    names = dict(zip(persons["person_id"].astype(str), persons["name"], strict=False)) if len(persons) else {}
    name_mask = None if "name" in spec.entitled else spec.mask_for("name")
    rows = []
    for alert in mine.to_dict("records"):
        rule = rule_of(rules, str(alert["kind"]), str(alert["source"]))
        context = parse_json_object(alert.get("context"))
        shown = {key: _shown(spec, key, value, rules.shown_to_all) for key, value in context.items()}
        detail = render(rule.detail, shown) if rule else mask_text(str(alert["detail"]))
        keys = [key for key in (rule.evidence if rule else ()) if not is_missing(shown.get(key))]
        evidence = "；".join(f"{rules.label(key)}：{shown[key]}" for key in keys)
        name = plain_text(names.get(str(alert["person_id"])))
        first_seen = alert.get("first_seen_at")
        rows.append(
            [
                alert["alert_id"],
                rule.title if rule else alert["kind"],
                alert["record_id"],
                alert["person_id"],
                name_mask.apply(name) if name_mask else name,
                detail,
                mask_text(evidence),
                first_seen_day(first_seen),
                STATUS_LABELS.get(str(alert.get("status")), str(alert.get("status") or "")),
                None if is_missing(alert.get("answer")) else alert.get("answer"),
                None if is_missing(alert.get("answer_note")) else alert.get("answer_note"),
            ]
        )
    frame = pd.DataFrame(rows, columns=list(VERIFICATION_HEADERS))
    department = rules.departments.get(spec.department, spec.department)
    return ReportTable(
        sheet=VERIFICATION_SHEET,
        covers="alerts",
        frame=frame,
        column_sources=tuple(
            ColumnSource(VERIFICATION_SHEET, header, "", "跨部门核验规则（数据管理员维护）", "")
            for header in VERIFICATION_HEADERS
        ),
        text_columns=frozenset({"核验编号", "记录编号", "人员编号", ANSWER_HEADER, "备注"}),
        number_formats={FIRST_SEEN_HEADER: "yyyy-mm-dd"},
        date_layouts={FIRST_SEEN_HEADER: "{year:04d}-{month:02d}-{day:02d}"},
        coverage=f"{department}持有的记录中，与其他部门记录不一致的（待核实与已答复）",
        choices={ANSWER_HEADER: list(rules.answers)},
    )


@dataclass(frozen=True)
class ReturnedAnswer:
    """One answer a department chose in its returned workbook's 核验 sheet (row as staff see it)."""

    row: int
    alert_id: str
    answer: str
    note: str


def read_returned_answers(path: Path) -> list[ReturnedAnswer]:
    """The answered rows of a returned workbook's 核验 sheet (rows without an answer are skipped).

    A file that is not a readable workbook, or has no 核验 sheet with 核验编号 and 核验结果 columns,
    raises ConfigError naming the file, never a cell's content.
    """
    try:
        workbook = open_workbook(Path(path), source="answers")
    except WorkbookRejected as exc:
        raise ConfigError(f"{Path(path).name}：不是可读取的 .xlsx 工作簿，无法读取核验结果") from exc
    try:
        if VERIFICATION_SHEET not in workbook.sheetnames:
            raise ConfigError(f"{Path(path).name}：没有“{VERIFICATION_SHEET}”工作表")
        rows = sheet_values(Path(path), workbook, workbook[VERIFICATION_SHEET])
    finally:
        workbook.close()
    header = [value_as_text(value).strip() for value in (rows[0] if rows else [])]
    if "核验编号" not in header or ANSWER_HEADER not in header:
        raise ConfigError(f"{Path(path).name}：“{VERIFICATION_SHEET}”工作表缺少“核验编号”或“{ANSWER_HEADER}”列")
    at = {name: header.index(name) for name in ("核验编号", ANSWER_HEADER, "备注") if name in header}

    def cell(row: list[Any], name: str) -> str:
        index = at.get(name)
        return value_as_text(row[index]).strip() if index is not None and index < len(row) else ""

    return [
        ReturnedAnswer(number, cell(row, "核验编号"), cell(row, ANSWER_HEADER), cell(row, "备注"))
        for number, row in enumerate(rows[1:], start=2)
        if cell(row, "核验编号") and cell(row, ANSWER_HEADER)
    ]


@dataclass
class AnswersApplied:
    applied: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


def apply_returned_answers(
    warehouse: Warehouse, path: Path, *, by: str, rules: AlertRules | None = None
) -> AnswersApplied:
    """Record the answers of a returned workbook's 核验 sheet; a row that cannot be applied (unknown
    alert or answer, alert already closed) is reported by row number and the others still apply."""
    rules = rules or load_alert_rules()
    states = warehouse.alert_states().set_index("alert_id")
    outcome = AnswersApplied()
    for item in read_returned_answers(path):
        known = item.alert_id in states.index
        if known and states.loc[item.alert_id, "answer"] == item.answer and not item.note:
            outcome.unchanged += 1
            continue
        try:
            warehouse.answer_alert(item.alert_id, item.answer, by=by, note=item.note, allowed=rules.answers)
            outcome.applied += 1
        except HubError as exc:
            outcome.problems.append(f"{Path(path).name} 第 {item.row} 行：{exc}")
    return outcome
