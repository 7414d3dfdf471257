"""One form's round after the returns were read: progress, the consolidated workbook, the push,
and the reminders of what is still unanswered. Plain functions the Dagster assets and `hub form` call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from connectors.push import PushResult
from pipelines.forms.consolidate import FormProgress, build_progress, push_consolidation, write_consolidation
from pipelines.forms.send import SendOutcome, population, write_sends
from pipelines.forms.spec import FormSpec
from pipelines.reporting import plain_text


@dataclass
class Consolidated:
    progress: FormProgress
    workbook: Path
    push: PushResult | None


def consolidate_form(
    spec: FormSpec,
    engine: sa.Engine,
    persons: pd.DataFrame,
    out_dir: Path,
    *,
    as_of: date,
    run_id: str,
    env: Mapping[str, str] | None = None,
) -> Consolidated:
    """Write ``OUT/forms/<form>/汇总_<form>.xlsx`` and push its rows to the department."""
    progress = build_progress(spec, engine, persons, as_of)
    workbook = write_consolidation(spec, progress, out_dir, run_id=run_id)
    return Consolidated(progress, workbook, push_consolidation(spec, progress, engine, run_id=run_id, env=env))


def send_reminders(
    spec: FormSpec, engine: sa.Engine, persons: pd.DataFrame, out_dir: Path, *, as_of: date
) -> SendOutcome:
    """A fresh pre-filled workbook per community of the persons still unanswered (as the golden records
    hold them now), each a send of its own (kind reminder)."""
    progress = build_progress(spec, engine, persons, as_of)
    wanted = {person for people in progress.unanswered.values() for person in people}
    view = population(spec, persons, as_of)
    keep = view.values("person_id").map(lambda value: (plain_text(value) or "") in wanted)
    return write_sends(spec, engine, view.subset(keep), out_dir, as_of=as_of, kind="reminder")
