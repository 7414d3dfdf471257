"""One inbox, one recogniser, one dispatcher: a returned roster, a returned form and an intake
workbook dropped together are each taken by their own reader, once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from connectors.intake_workbook import write_intake_template
from connectors.return_marker import FORM_KIND, recognise_return
from pipelines.community_returns import (
    APPLIED,
    RETURN_HANDLERS,
    SEPARATE_STEP_KINDS,
    process_returns,
    returned_files,
)
from pipelines.forms.returns import collect_returns
from pipelines.forms.send import send_form
from pipelines.forms.spec import load_form_specs
from pipelines.forms.store import form_answers
from pipelines.reporting import ROSTER_KIND
from pipelines.resources.community_inbox import CommunityInboxResource
from tests.pipelines.forms.test_returns import AS_OF, fill, person, sent_book, with_old_marker
from tests.pipelines.test_roster_returns import Hub, corrected_phones


def test_a_roster_a_form_and_an_intake_workbook_in_one_inbox_each_go_their_own_way(tmp_path: Path) -> None:
    hub = Hub(tmp_path)
    spec = load_form_specs()["elderly_living_alone"]
    persons = pd.DataFrame([person("F1", "王建华", "350602194002021512", "1940-02-02", "新华社区")])
    send_form(spec, persons, hub.warehouse.engine, tmp_path / "out", as_of=AS_OF)
    roster = hub.drop("名册_已核对.xlsx", corrected_phones())
    form = fill(sent_book(tmp_path / "out", "新华社区"), hub.inbox / "新华_已填.xlsx", {"F1": {"是否独居": "是"}})
    old_form = with_old_marker(
        fill(sent_book(tmp_path / "out", "新华社区"), hub.inbox / "新华_旧.xlsx", {"F1": {"是否独居": "否"}})
    )
    intake = hub.inbox / "一表通.xlsx"
    write_intake_template(intake)

    assert FORM_KIND in RETURN_HANDLERS and FORM_KIND in SEPARATE_STEP_KINDS
    kinds = {item.path.name: item.marker.kind for item in returned_files(hub.inbox)}
    assert kinds == {roster.name: ROSTER_KIND, form.name: FORM_KIND, old_form.name: FORM_KIND}
    assert CommunityInboxResource(path=str(hub.inbox)).scan().workbooks == [intake]

    # the community_corrections step: the roster only; the forms wait for their own step
    (done,) = process_returns(hub.inbox, hub.warehouse, "run-2")
    cells = len(corrected_phones())  # every changed cell is one correction
    assert (done.file_name, done.kind, done.outcome, done.corrections) == (roster.name, ROSTER_KIND, APPLIED, cells)
    assert form.exists() and old_form.exists() and not roster.exists()

    # the forms' step (asset returned_forms, hub form collect): both forms, new marker and old, not the intake
    outcomes = {o.file: o for o in collect_returns({spec.form: spec}, hub.warehouse, hub.inbox, "run-2")}
    assert {name: o.status for name, o in outcomes.items()} == {form.name: "accepted", old_form.name: "accepted"}
    with hub.warehouse.engine.connect() as conn:
        answers = [json.loads(a) for a in conn.execute(sa.select(form_answers.c.answers)).scalars()]
    assert sorted(a["是否独居"] for a in answers) == ["否", "是"]
    processed = sorted(p.name for p in (hub.inbox / "processed").iterdir())
    assert processed == sorted([roster.name, form.name, old_form.name])
    assert sorted(p.name for p in hub.inbox.glob("*.xlsx")) == [intake.name]
    assert recognise_return(intake) is None

    # nothing is applied twice: a second pass of either step finds nothing to do
    assert process_returns(hub.inbox, hub.warehouse, "run-3") == []
    assert collect_returns({spec.form: spec}, hub.warehouse, hub.inbox, "run-3") == []
