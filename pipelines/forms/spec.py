"""Form specifications: one YAML file per department form, checked on load with file and line.

A department's new form is data, not code: who asks, which persons it covers (the report specs'
include rules), which fields the hub already knows and pre-fills, what community staff are asked,
and by when. Files in ``pipelines/forms`` whose name starts with an underscore are not forms
(``_fields.yaml`` is the catalogue of fields a form may pre-fill).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from dagster._utils.schedules import is_valid_cron_string

from hub_errors import ConfigError
from pipelines.departments import Mask, ReportSpec, load_report_specs, validate_filter

FORM_FOLDER = Path(__file__).resolve().parent
FORMS_DIR_VARIABLE = "HUB_FORMS_DIR"
FIELD_CATALOGUE = FORM_FOLDER / "_fields.yaml"
ASK_TYPES = ("choice", "text", "phone", "date", "number")
KNOWN_KINDS = ("name", "id_no", "gender", "date", "phone", "address", "text")
SPEC_KEYS = ("form", "title", "department", "population", "known", "ask", "due", "remind")
REQUIRED_KEYS = ("form", "title", "department", "population", "known", "ask", "due")
ASK_KEYS = ("header", "type", "choices", "required", "hint")
DEFAULT_REMIND = "0 9 * * 1"  # Mondays 09:00 in the department's time zone
FORM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
COMMUNITY_SPEC = "community"  # the roster spec: what community staff may see in full

Path_ = tuple[Any, ...]


class FormSpecError(ConfigError):
    """A form specification that cannot be used as written (names the file and the line)."""


@dataclass(frozen=True)
class KnownField:
    """A pre-filled column: the golden field it shows and how staff read and correct it."""

    name: str
    header: str
    kind: str
    text: bool = False
    codes: Mapping[str, str] | None = None
    date: str | None = None
    correctable: bool = True


@dataclass(frozen=True)
class AskField:
    """A column community staff fill in."""

    header: str
    type: str
    choices: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""


@dataclass(frozen=True)
class FormSpec:
    form: str
    title: str
    department: str
    population: Any
    known: tuple[KnownField, ...]
    ask: tuple[AskField, ...]
    due: date
    remind: str
    department_spec: ReportSpec
    shown_in_full: frozenset[str]
    path: Path | None = None

    @property
    def headers(self) -> list[str]:
        return [field.header for field in self.known] + [field.header for field in self.ask]

    def mask_for(self, name: str) -> Mask | None:
        """The mask of a known field on the community's copy; None when shown in full."""
        return None if name in self.shown_in_full else self.department_spec.mask_for(name)


class LineMap:
    """Line numbers (1-based) of every key and item of a YAML document, by path."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.lines: dict[Path_, int] = {}
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                self.lines[child] = key.start_mark.line + 1
                self._walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def line(self, *path: Any) -> int:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        key: Path_ = tuple(path)
        while key not in self.lines and key:
            key = key[:-1]
        return self.lines.get(key, 1)


def load_with_lines(path: Path) -> tuple[Any, LineMap]:
    """The document and where each part of it stands in the file (PyYAML's composed nodes keep marks)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormSpecError(f"form specification {path}: cannot be read ({exc}).") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise FormSpecError(f"form specification {path}, line {line}: not valid YAML ({exc.problem}).") from None
    finally:
        loader.dispose()
    return data, LineMap(node)


@lru_cache(maxsize=4)
def field_catalogue(path: Path = FIELD_CATALOGUE) -> dict[str, KnownField]:
    """The fields a form may pre-fill (``_fields.yaml``)."""
    raw, lines = load_with_lines(path)
    if not isinstance(raw, Mapping):
        raise FormSpecError(f"field catalogue {path}, line 1: must map field names to header and kind.")
    fields = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping) or "header" not in entry or entry.get("kind") not in KNOWN_KINDS:
            raise FormSpecError(
                f"field catalogue {path}, line {lines.line(name)}: {name} needs a header and a kind of {KNOWN_KINDS}."
            )
        codes = entry.get("codes")
        fields[str(name)] = KnownField(
            name=str(name),
            header=str(entry["header"]),
            kind=str(entry["kind"]),
            text=bool(entry.get("text", False)),
            codes={str(k): str(v) for k, v in codes.items()} if isinstance(codes, Mapping) else None,
            date=entry.get("date"),
            correctable=bool(entry.get("correctable", True)),
        )
    return fields


class _Checker:
    """Raises FormSpecError naming the file and the line of the part at fault."""

    def __init__(self, path: Path, lines: LineMap) -> None:
        self.path, self.lines = path, lines

    def fail(self, problem: str, *where: Any) -> FormSpecError:
        return FormSpecError(
            f"form specification {self.path}, line {self.lines.line(*where)}: {problem}. Fix the file and run again."
        )


def _ask_field(raw: Any, index: int, check: _Checker) -> AskField:
    where = ("ask", index)
    if not isinstance(raw, Mapping):
        raise check.fail(f"ask[{index}] must be a mapping with header and type", *where)
    for key in raw:
        if key not in ASK_KEYS:
            raise check.fail(f"ask[{index}]: unknown key '{key}' (known: {', '.join(ASK_KEYS)})", *where, key)
    header = str(raw.get("header") or "").strip()
    if not header:
        raise check.fail(f"ask[{index}] lacks 'header'", *where)
    kind = raw.get("type", "text")
    if kind not in ASK_TYPES:
        raise check.fail(
            f"ask[{index}] ({header}): type must be one of {', '.join(ASK_TYPES)}, got {kind!r}", *where, "type"
        )
    choices = raw.get("choices") or ()
    if kind == "choice":
        if not isinstance(choices, list) or not choices:
            raise check.fail(f"ask[{index}] ({header}): a choice needs a non-empty list of choices", *where, "choices")
        if any("," in str(choice) for choice in choices):
            raise check.fail(f"ask[{index}] ({header}): a choice may not contain a comma", *where, "choices")
    elif choices:
        raise check.fail(f"ask[{index}] ({header}): choices belong to type choice only", *where, "choices")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise check.fail(f"ask[{index}] ({header}): required must be true or false", *where, "required")
    return AskField(header, str(kind), tuple(str(c) for c in choices), required, str(raw.get("hint") or ""))


def _due(raw: Any, check: _Checker) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise check.fail(f"due must be a date (YYYY-MM-DD), got {raw!r}", "due") from None


def load_form_spec(path: Path, departments: Mapping[str, ReportSpec] | None = None) -> FormSpec:
    """Read and check one form; any problem raises FormSpecError naming the file and the line."""
    path = Path(path)
    raw, lines = load_with_lines(path)
    check = _Checker(path, lines)
    if not isinstance(raw, Mapping):
        raise check.fail("must be a mapping with the keys " + ", ".join(REQUIRED_KEYS))
    for key in raw:
        if key not in SPEC_KEYS:
            raise check.fail(f"unknown key '{key}' (known: {', '.join(SPEC_KEYS)})", key)
    for key in REQUIRED_KEYS:
        if raw.get(key) in (None, "", []):
            raise check.fail(f"lacks '{key}'")
    form = str(raw["form"])
    if not FORM_NAME.match(form):
        raise check.fail(f"form must be a lower-case name (letters, digits, _), got {form!r}", "form")
    specs = departments if departments is not None else load_report_specs()
    by_department = {spec.department: spec for spec in specs.values() if spec.kind == "department"}
    department = str(raw["department"])
    if department not in by_department:
        raise check.fail(f"unknown department {department!r} (known: {', '.join(sorted(by_department))})", "department")
    department_spec = by_department[department]
    try:
        population = validate_filter(raw["population"], path, "population")
    except ConfigError as exc:
        problem = str(exc).split(": ", 1)[-1].removesuffix(". Fix the file and run again.")
        raise check.fail(problem, "population") from None
    catalogue = field_catalogue()
    if not isinstance(raw["known"], list):
        raise check.fail("known must be a list of field names", "known")
    known = []
    for index, name in enumerate(raw["known"]):
        name = str(name)
        if name not in catalogue:
            raise check.fail(
                f"known[{index}]: unknown field {name!r} (known fields: {', '.join(catalogue)})", "known", index
            )
        if name not in department_spec.entitled:
            raise check.fail(
                f"known[{index}]: department {department} is not entitled to {name!r} "
                f"(its report specification {department_spec.path.name if department_spec.path else ''} lists "
                f"{', '.join(sorted(department_spec.entitled))})",
                "known",
                index,
            )
        known.append(catalogue[name])
    if len({field.name for field in known}) != len(known):
        raise check.fail("known lists a field twice", "known")
    if not isinstance(raw["ask"], list):
        raise check.fail("ask must be a list of columns (header, type)", "ask")
    ask = tuple(_ask_field(item, index, check) for index, item in enumerate(raw["ask"]))
    seen = {field.header for field in known}
    for index, field in enumerate(ask):
        if field.header in seen:
            raise check.fail(f"ask[{index}]: header {field.header!r} repeats a column", "ask", index)
        seen.add(field.header)
    remind = str(raw.get("remind") or DEFAULT_REMIND)
    if not is_valid_cron_string(remind):
        raise check.fail(f"remind must be a cron (minute hour day month weekday), got {remind!r}", "remind")
    community = specs.get(COMMUNITY_SPEC)
    community_entitled = community.entitled if community is not None else frozenset()
    return FormSpec(
        form=form,
        title=str(raw["title"]),
        department=department,
        population=population,
        known=tuple(known),
        ask=ask,
        due=_due(raw["due"], check),
        remind=remind,
        department_spec=department_spec,
        shown_in_full=frozenset(department_spec.entitled & community_entitled),
        path=path,
    )


def form_folders() -> list[Path]:
    """Where registered forms live: this package, and ``HUB_FORMS_DIR`` when set (a deployment's own)."""
    extra = os.environ.get(FORMS_DIR_VARIABLE, "").strip()
    return [FORM_FOLDER, *([Path(extra)] if extra else [])]


def load_form_specs(folder: Path | None = None) -> dict[str, FormSpec]:
    """Every form in ``folder`` (default: the registered folders), keyed by its ``form`` name."""
    folders = [Path(folder)] if folder is not None else form_folders()
    specs: dict[str, FormSpec] = {}
    departments = load_report_specs()
    paths = [p for f in folders for p in sorted(f.glob("*.yaml")) if not p.name.startswith("_")]
    for path in paths:
        spec = load_form_spec(path, departments)
        if spec.form in specs:
            raise FormSpecError(
                f"form specification {path}, line 1: form {spec.form!r} is also defined in {specs[spec.form].path}."
            )
        specs[spec.form] = spec
    return specs
