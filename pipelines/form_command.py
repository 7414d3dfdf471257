"""`hub form send | list | collect | remind`: department forms from the command line.

`send` writes one pre-filled workbook per community and records the send; `collect` reads the
returns waiting in the community inbox and writes the consolidation (what the next run does too);
`remind` re-sends the rows still unanswered; `list` is the catalogue: every registered form, its
fields, and for each known field the source it comes from (一数一源).
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path

import pandas as pd

from pipelines.forms.returns import collect_returns
from pipelines.forms.run import consolidate_form, send_reminders
from pipelines.forms.send import send_form
from pipelines.forms.spec import FormSpec, load_form_spec, load_form_specs
from pipelines.reporting import describe_rule, parse_json_object, today_in_china
from pipelines.settings import default_database_url
from pipelines.survivorship import load_survivorship_rules
from pipelines.warehouse import Warehouse

DERIVED = {"age": "由出生日期按统计日计算", "person_id": "数据中心人员编号", "addr_community": "由现住址解析"}


def golden_persons(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.read_table("golden_persons")


def locked_warehouse(command: str) -> tuple[Warehouse, AbstractContextManager[None]]:
    """The warehouse and its run lock: a form command never interleaves with a run (a return read by
    both would otherwise be applied twice)."""
    warehouse = Warehouse.from_url(default_database_url())
    return warehouse, warehouse.run_lock(f"hub-form-{command}-{os.getpid()}")


def run_send(spec_path: Path, out: Path) -> list[str]:
    spec = load_form_spec(spec_path)
    warehouse, lock = locked_warehouse("send")
    with lock:
        outcome = send_form(spec, golden_persons(warehouse), warehouse.engine, out, as_of=today_in_china())
    lines = outcome.lines()
    lines += [
        f"  {community}: {outcome.persons[community]} person(s) -> {path}"
        for community, path in sorted(outcome.workbooks.items())
    ]
    if spec.form not in load_form_specs():
        lines.append(
            f"  note: {spec_path} is not in the forms catalogue (pipelines/forms/ or HUB_FORMS_DIR): "
            "its returns are read only once it is"
        )
    return lines


def run_collect(inbox: Path, out: Path) -> list[str]:
    specs = load_form_specs()
    warehouse, lock = locked_warehouse("collect")
    lines = []
    with lock:
        outcomes = collect_returns(specs, warehouse, inbox)
        persons = golden_persons(warehouse)
        done = {
            name: consolidate_form(spec, warehouse.engine, persons, out, as_of=today_in_china(),
                                   run_id="hub-form-collect")
            for name, spec in specs.items()
        }
    for outcome in outcomes:
        lines.append(
            f"return {outcome.file}: {outcome.status}, community {outcome.community}, {outcome.answered} answered, "
            f"{outcome.rejected} rejected, {outcome.added} added, {outcome.corrections} correction(s)"
            + (f"; rejection workbook {outcome.rejection_file}" if outcome.rejection_file else "")
            + (f"; added persons to intake {outcome.intake_file}" if outcome.intake_file else "")
        )
    for name, consolidated in done.items():
        lines.append(f"form {name}: {consolidated.progress.figures()} -> {consolidated.workbook}")
        if consolidated.push is not None:
            lines.append(f"  pushed {len(consolidated.push.delivered)} batch(es), "
                         f"{len(consolidated.push.skipped)} already held")
    return lines


def run_remind(spec_path: Path, out: Path) -> list[str]:
    spec = load_form_spec(spec_path)
    warehouse, lock = locked_warehouse("remind")
    with lock:
        return send_reminders(spec, warehouse.engine, golden_persons(warehouse), out, as_of=today_in_china()).lines()


def field_sources(warehouse: Warehouse | None) -> dict[str, Counter[str]]:
    """Per golden field, how many persons took it from each source (from the golden provenance)."""
    counts: dict[str, Counter[str]] = {}
    if warehouse is None or not warehouse.has_table("golden_persons"):
        return counts
    for raw in warehouse.read_table("golden_persons")["provenance"]:
        for name, origin in parse_json_object(raw).items():
            if isinstance(origin, dict) and origin.get("source"):
                counts.setdefault(name.removeprefix("attributes."), Counter())[str(origin["source"])] += 1
    return counts


def catalogue_lines(specs: dict[str, FormSpec], sources: dict[str, Counter[str]]) -> list[str]:
    authority = load_survivorship_rules()["authority"]
    lines = []
    for spec in specs.values():
        lines.append(
            f"{spec.form}: {spec.title} ({spec.department} -> {spec.department_spec.recipient}), "
            f"due {spec.due.isoformat()}, reminders '{spec.remind}', file {spec.path}"
        )
        lines.append(f"  population: {describe_rule(spec.population)}")
        for known in spec.known:
            order = " > ".join(authority.get(known.name, [])) or DERIVED.get(
                known.name, "各来源的附加属性，按来源优先级合并"
            )
            taken = sources.get(known.name)
            measured = (
                ("; golden records now: " + ", ".join(f"{s} {n}" for s, n in taken.most_common())) if taken else ""
            )
            shown = "masked on the community copy" if spec.mask_for(known.name) is not None else "shown in full"
            lines.append(f"  known {known.header} ({known.name}): source {order}{measured}; {shown}")
        for ask in spec.ask:
            extra = f" [{'/'.join(ask.choices)}]" if ask.choices else ""
            lines.append(f"  ask   {ask.header}: {ask.type}{extra}{', required' if ask.required else ''}")
    return lines


def run_list() -> list[str]:
    url = default_database_url()
    warehouse = None
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists():
        warehouse = Warehouse.from_url(url)
    return catalogue_lines(load_form_specs(), field_sources(warehouse))
