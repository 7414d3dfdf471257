"""Report specifications, one YAML file per department, loaded into typed objects.

A department's report is data, not code: who receives it, which persons or incidents it covers,
its columns in the department's own names, order and formats, the fields it may see unmasked, its
schedule and its deliveries. Adding a department means adding a file here. Files whose name starts
with an underscore are not specifications.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from dagster._utils.schedules import get_next_cron_tick, is_valid_cron_string

from hub_errors import ConfigError

SPEC_FOLDER = Path(__file__).resolve().parent
COVERS = ("persons", "incidents")
KINDS = ("department", "roster")
COLUMN_TYPES = ("auto", "text", "number")
DELIVERY_KINDS = ("workbook", "http")
FILTER_KEYS: dict[str, type] = {
    "source": str,  # the record came (also) from this source system
    "age_at_least": int,  # age in whole years on the report date
    "attribute_present": str,  # the attributes JSON has a non-empty value for this key
    "field_present": str,  # the column (or attribute) is not empty
    "value_in": dict,  # {field: [values...]}
    "any": list,
    "all": list,
    "not": dict,
}
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Mask:
    """Keep the first and last characters, hide the middle: 350603************."""

    keep_start: int = 0
    keep_end: int = 0
    char: str = "*"

    @property
    def hides_all(self) -> bool:
        return not self.keep_start and not self.keep_end

    def shown(self, length: int) -> tuple[bool, ...]:
        """Which positions of a value of ``length`` characters stay readable."""
        if self.hides_all or length <= self.keep_start + self.keep_end:
            return (False,) * length
        return tuple(i < self.keep_start or i >= length - self.keep_end for i in range(length))

    def apply(self, text: str | None) -> str | None:
        """Mask ``text``. A value hidden entirely becomes a fixed ``***``, empty or not, so neither
        its length nor its presence (who receives aid, who has a chronic disease) leaks."""
        if self.hides_all:
            return self.char * 3
        if not text:
            return text
        if len(text) <= self.keep_start + self.keep_end:
            return self.char * len(text)
        end = text[len(text) - self.keep_end :] if self.keep_end else ""
        return text[: self.keep_start] + self.char * (len(text) - self.keep_start - self.keep_end) + end


# GB 11643: 6 digits county, 8 birth date, 3 order code (odd for men), 1 check character over the 17.
ID_LENGTH = 18
ID_WEIGHTS = tuple(pow(2, ID_LENGTH - 1 - i, 11) for i in range(ID_LENGTH - 1))
ID_CHECK_BY_RESIDUE = "10X98765432"  # check character for (weighted sum of the 17 digits) mod 11
DIGITS = "0123456789"


def id_candidates(allowed: Sequence[str], start_residue: int = 0, start: int = 0) -> int:
    """How many ID numbers fit per-position allowed characters (``allowed[i]`` for position
    ``start + i``; the last one is the check position) and have a correct check character.
    ``start_residue`` is the weighted sum mod 11 of the positions before ``start``."""
    counts = [0] * 11
    counts[start_residue] = 1
    for offset, chars in enumerate(allowed[:-1]):
        weight = ID_WEIGHTS[start + offset]
        following = [0] * 11
        for residue, count in enumerate(counts):
            if count:
                for char in chars:
                    following[(residue + int(char) * weight) % 11] += count
        counts = following
    return sum(count for residue, count in enumerate(counts) if ID_CHECK_BY_RESIDUE[residue] in allowed[-1])


def fewest_id_candidates(mask: Mask) -> int:
    """The fewest ID numbers a reader of a masked 18-character number cannot tell apart, at worst.

    The reader is taken to know the county and the birth date (the address and birth columns give
    them away) and the sex (the parity of the order code) even where the mask hides them, so only
    what the mask shows of the order code and the check character narrows the candidates.
    """
    tail = mask.shown(ID_LENGTH)[14:]  # the order code's three digits and the check character
    fewest = 10**ID_LENGTH
    for residue, odd in itertools.product(range(11), (0, 1)):
        choices = (DIGITS, DIGITS, DIGITS[odd::2], ID_CHECK_BY_RESIDUE)
        # a shown position is one known character; a hidden one allows every choice
        views = [list(options) if shown else [options] for options, shown in zip(choices, tail, strict=True)]
        for view in itertools.product(*views):
            count = id_candidates(view, residue, 14)
            if count:
                fewest = min(fewest, count)
                if fewest == 1:
                    return fewest
    return fewest


DEFAULT_MASKS = {
    "id_no": Mask(6, 0),
    "phone": Mask(3, 4),
    "name": Mask(1, 0),
}
FULL_MASK = Mask(0, 0)
POLICY_FILE = SPEC_FOLDER / "_privacy.yaml"
LABELS_FILE = SPEC_FOLDER / "_labels.yaml"


@dataclass(frozen=True)
class Labels:
    """The hub's own names as staff read them (_labels.yaml): source systems, fields, code meanings."""

    sources: Mapping[str, str]
    fields: Mapping[str, str]
    values: Mapping[str, Mapping[str, str]]

    def source(self, name: str) -> str:
        return self.sources.get(name, name)

    def field(self, name: str) -> str:
        return self.fields.get(name, name)


@lru_cache(maxsize=1)
def load_labels(path: Path = LABELS_FILE) -> Labels:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Labels(
            sources={str(k): str(v) for k, v in (raw.get("sources") or {}).items()},
            fields={str(k): str(v) for k, v in (raw.get("fields") or {}).items()},
            values={
                str(name): {str(k): str(v) for k, v in table.items()}
                for name, table in (raw.get("values") or {}).items()
            },
        )
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ConfigError(f"labels {path} cannot be read ({exc}). Fix the file and run again.") from None


@dataclass(frozen=True)
class ColumnSpec:
    """One department column: which golden field feeds it and how its values are written."""

    header: str
    field: str | None
    type: str = "auto"
    codes: Mapping[str, str] | None = None
    default: str | None = None
    date: str | None = None
    datetime: str | None = None
    number_format: str | None = None
    choices: tuple[str, ...] = ()
    """A dropdown of the values a recipient may pick in this column (a blank column to fill in)."""

    @property
    def blank(self) -> bool:
        """A column left empty for the recipient to fill in (a check mark, a correction)."""
        return self.field is None


@dataclass(frozen=True)
class Section:
    """One sheet of a report: what it covers, which rows it keeps, its columns in order."""

    sheet: str
    covers: Literal["persons", "incidents"]
    include: Any
    columns: tuple[ColumnSpec, ...]
    sort_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """Where a report goes: a workbook in a folder, or batches POSTed to an endpoint."""

    kind: Literal["workbook", "http"]
    folder: str = "reports"
    file: str = "{department}_{date}.xlsx"
    url: str = ""
    batch_size: int = 500

    def resolved_url(self, env: Mapping[str, str] | None = None) -> str | None:
        """The URL with ${VAR} taken from the environment; None when a variable is unset."""
        values = os.environ if env is None else env
        missing = [name for name in ENV_REFERENCE.findall(self.url) if not values.get(name)]
        if missing:
            return None
        return ENV_REFERENCE.sub(lambda match: values[match.group(1)].rstrip("/"), self.url)


@dataclass(frozen=True)
class Schedule:
    cron: str
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class ReportSpec:
    """A department's report (kind ``department``) or the per-community roster (kind ``roster``)."""

    name: str
    department: str
    kind: Literal["department", "roster"]
    title: str
    recipient: str
    schedule: Schedule
    entitled: frozenset[str]
    sections: tuple[Section, ...]
    deliveries: tuple[Delivery, ...]
    masks: Mapping[str, Mask] = field(default_factory=dict)
    group_by: str | None = None
    path: Path | None = None
    full_schedule: str | None = None
    unplaced_recipient: str = ""

    def recipient_for(self, group: str, unplaced: bool = False) -> str:
        """Who receives one group's roster: ``recipient`` with {group} filled in; the roster of the
        persons no group holds goes to ``unplaced_recipient`` when the file names one."""
        if unplaced and self.unplaced_recipient:
            return self.unplaced_recipient
        return self.recipient.replace("{group}", group)

    @property
    def cron_schedule(self) -> str:
        return self.schedule.cron

    @property
    def execution_timezone(self) -> str:
        return self.schedule.timezone

    def mask_for(self, field_name: str) -> Mask:
        return self.masks.get(field_name) or DEFAULT_MASKS.get(field_name, FULL_MASK)

    def is_full_day(self, as_of: date) -> bool:
        """Whether the department receives its full workbook on ``as_of``: its ``full_schedule`` cron
        fires on that day (in its time zone). Without one, every run is a full day."""
        if self.full_schedule is None:
            return True
        zone = ZoneInfo(self.execution_timezone)
        start = datetime.combine(as_of, time.min, zone)
        tick = get_next_cron_tick(self.full_schedule, start - timedelta(microseconds=1), self.execution_timezone)
        return tick.astimezone(zone).date() == as_of


def _fail(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"report specification {path}: {problem}. Fix the file and run again.")


def _require(raw: Mapping[str, Any], key: str, path: Path, where: str) -> Any:
    if key not in raw or raw[key] in (None, ""):
        raise _fail(path, f"{where} lacks '{key}'")
    return raw[key]


def validate_filter(raw: Any, path: Path, where: str) -> Any:
    """Check a row filter's shape now, so a typo fails at load time rather than mid-run."""
    if raw == "all":
        return raw
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _fail(path, f"{where}: a filter is 'all' or a mapping with one key of {sorted(FILTER_KEYS)}")
    key, value = next(iter(raw.items()))
    expected = FILTER_KEYS.get(key)
    if expected is None:
        raise _fail(path, f"{where}: unknown filter '{key}' (known: {', '.join(sorted(FILTER_KEYS))})")
    if not isinstance(value, expected):
        raise _fail(path, f"{where}: filter '{key}' expects a {expected.__name__}, got {value!r}")
    if key in ("any", "all"):
        parts: list[Any] = raw[key]
        for index, part in enumerate(parts):
            validate_filter(part, path, f"{where}.{key}[{index}]")
    if key == "not":
        validate_filter(value, path, f"{where}.not")
    return raw


def _column(raw: Any, path: Path, where: str) -> ColumnSpec:
    if not isinstance(raw, Mapping):
        raise _fail(path, f"{where} must be a mapping with header and field")
    header = str(_require(raw, "header", path, where))
    blank = bool(raw.get("blank", False))
    field_name = None if blank else str(_require(raw, "field", path, f"{where} ({header})"))
    column_type = str(raw.get("type", "auto"))
    if column_type not in COLUMN_TYPES:
        raise _fail(path, f"{where} ({header}): type must be one of {COLUMN_TYPES}, got {column_type!r}")
    codes = raw.get("codes")
    if codes is not None and not isinstance(codes, Mapping):
        raise _fail(path, f"{where} ({header}): codes must map golden values to the department's codes")
    for key in ("date", "datetime"):
        pattern = raw.get(key)
        if pattern is not None:
            try:
                str(pattern).format(year=2000, month=1, day=2, hour=3, minute=4, second=5)
            except (KeyError, ValueError, IndexError) as exc:
                raise _fail(path, f"{where} ({header}): bad {key} pattern {pattern!r} ({exc})") from None
    choices = raw.get("choices") or ()
    if not isinstance(choices, list | tuple) or any("," in str(choice) for choice in choices):
        raise _fail(path, f"{where} ({header}): choices must be a list of values without commas")
    return ColumnSpec(
        header=header,
        field=field_name,
        type=column_type,
        codes={str(k): str(v) for k, v in codes.items()} if codes else None,
        default=None if raw.get("default") is None else str(raw["default"]),
        date=raw.get("date"),
        datetime=raw.get("datetime"),
        number_format=raw.get("number_format"),
        choices=tuple(str(choice) for choice in choices),
    )


def _section(raw: Any, path: Path, index: int) -> Section:
    where = f"sections[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(path, f"{where} must be a mapping")
    covers = _require(raw, "covers", path, where)
    if covers not in COVERS:
        raise _fail(path, f"{where}: covers must be one of {COVERS}, got {covers!r}")
    columns_raw = _require(raw, "columns", path, where)
    columns = tuple(_column(column, path, f"{where}.columns[{i}]") for i, column in enumerate(columns_raw))
    headers = [column.header for column in columns]
    if len(set(headers)) != len(headers):
        raise _fail(path, f"{where}: column headers repeat")
    return Section(
        sheet=str(_require(raw, "sheet", path, where)),
        covers=covers,
        include=validate_filter(raw.get("include", "all"), path, f"{where}.include"),
        columns=columns,
        sort_by=tuple(raw.get("sort_by") or ()),
    )


def _delivery(raw: Any, path: Path, index: int) -> Delivery:
    where = f"deliveries[{index}]"
    if not isinstance(raw, Mapping) or raw.get("kind") not in DELIVERY_KINDS:
        raise _fail(path, f"{where}: kind must be one of {DELIVERY_KINDS}")
    if raw["kind"] == "http":
        _require(raw, "url", path, where)
    batch_size = int(raw.get("batch_size", 500))
    if batch_size < 1:
        raise _fail(path, f"{where}: batch_size must be at least 1")
    known = {key: raw[key] for key in ("folder", "file", "url") if key in raw}
    return Delivery(kind=raw["kind"], batch_size=batch_size, **{k: str(v) for k, v in known.items()})


def load_report_spec(path: Path) -> ReportSpec:
    """Read and check one specification file; any problem raises ConfigError naming file and key.

    One run reads the specifications from many steps (reports, guards, forms, schedules): a file is
    parsed again only when its modification time or size changed."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return _read_report_spec(path)  # raises the ConfigError naming the file
    return _report_spec_as_of(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _report_spec_as_of(path: Path, _mtime_ns: int, _size: int) -> ReportSpec:
    return _read_report_spec(path)


def _read_report_spec(path: Path) -> ReportSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(path, f"cannot be read ({exc})") from None
    if not isinstance(raw, Mapping):
        raise _fail(path, "must be a mapping")
    schedule_raw = _require(raw, "schedule", path, "the file")
    cron = str(_require(schedule_raw, "cron", path, "schedule"))
    if len(cron.split()) != 5:
        raise _fail(path, f"schedule.cron needs five fields (minute hour day month weekday), got {cron!r}")
    full_schedule = raw.get("full_schedule")
    if full_schedule is not None and not is_valid_cron_string(str(full_schedule)):
        raise _fail(path, f"full_schedule must be a cron (minute hour day month weekday), got {full_schedule!r}")
    kind = raw.get("kind", "department")
    if kind not in KINDS:
        raise _fail(path, f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "roster":
        _require(raw, "group_by", path, "a roster")
    masks = {str(name): _mask(mask, path, f"masks.{name}") for name, mask in (raw.get("masks") or {}).items()}
    sections_raw = _require(raw, "sections", path, "the file")
    deliveries_raw = raw.get("deliveries") or ()
    spec = ReportSpec(
        name=path.stem,
        department=str(_require(raw, "department", path, "the file")),
        kind=kind,
        title=str(_require(raw, "title", path, "the file")),
        recipient=str(raw.get("recipient", "")),
        schedule=Schedule(cron=cron, timezone=str(schedule_raw.get("timezone", "Asia/Shanghai"))),
        entitled=frozenset(str(name) for name in raw.get("entitled") or ()),
        sections=tuple(_section(section, path, index) for index, section in enumerate(sections_raw)),
        deliveries=tuple(_delivery(item, path, index) for index, item in enumerate(deliveries_raw)),
        masks=masks,
        group_by=raw.get("group_by"),
        path=path,
        full_schedule=None if full_schedule is None else str(full_schedule),
        unplaced_recipient=str(raw.get("unplaced_recipient") or ""),
    )
    _check_id_mask(spec, path)
    return spec


def _mask(raw: Any, path: Path, where: str) -> Mask:
    if not isinstance(raw, Mapping):
        raise _fail(path, f"{where} must be a mapping with keep_start, keep_end (and char)")
    try:
        mask = Mask(int(raw.get("keep_start", 0)), int(raw.get("keep_end", 0)), str(raw.get("char", "*")))
    except (TypeError, ValueError):
        raise _fail(path, f"{where}: keep_start and keep_end must be whole numbers") from None
    if mask.keep_start < 0 or mask.keep_end < 0 or len(mask.char) != 1:
        raise _fail(path, f"{where}: keep_start and keep_end must be 0 or more, char one character")
    return mask


@lru_cache(maxsize=1)
def min_id_candidates(policy: Path = POLICY_FILE) -> int:
    """The privacy rule of ``_privacy.yaml``: how many numbers a masked ID must leave possible."""
    try:
        raw = yaml.safe_load(policy.read_text(encoding="utf-8"))
        return int(raw["min_id_candidates"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"privacy rules {policy} cannot be read ({exc}). Fix the file and run again.") from None


def _check_id_mask(spec: ReportSpec, path: Path) -> None:
    """Refuse a specification whose ID mask, beside the columns a recipient sees, gives the number away."""
    shows_masked_id = "id_no" not in spec.entitled and any(
        column.field == "id_no" for section in spec.sections for column in section.columns
    )
    if not shows_masked_id:
        return
    mask = spec.mask_for("id_no")
    fewest, needed = fewest_id_candidates(mask), min_id_candidates()
    if fewest < needed:
        raise _fail(
            path,
            f"masks.id_no (keep_start {mask.keep_start}, keep_end {mask.keep_end}) leaves only {fewest} possible "
            f"ID number(s) to a reader who also sees the birth date, sex and address; at least {needed} are "
            "required (_privacy.yaml). Show no more than the first six characters",
        )


def load_report_specs(folder: Path | None = None) -> dict[str, ReportSpec]:
    """Every specification in ``folder`` (default: this package), keyed by file name without .yaml."""
    folder = Path(folder) if folder is not None else SPEC_FOLDER
    paths = sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_"))
    if not paths:
        raise ConfigError(f"no report specifications (*.yaml) found in {folder}.")
    return {path.stem: load_report_spec(path) for path in paths}
