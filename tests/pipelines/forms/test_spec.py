"""Form specifications: the shipped example loads, and each kind of mistake is named with file and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.forms.spec import FormSpecError, load_form_spec, load_form_specs

GOOD = """\
form: check_form
title: 测试表
department: civil
population: {age_at_least: 60}
known: [name, id_no, phone, grid]
ask:
  - {header: 是否独居, type: choice, choices: [是, 否], required: true}
  - {header: 紧急联系人电话, type: phone}
due: 2026-12-15
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "check_form.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_example_loads_with_its_fields() -> None:
    spec = load_form_specs()["elderly_living_alone"]
    assert [k.name for k in spec.known] == ["name", "id_no", "gender", "birth", "phone", "address", "grid"]
    assert [a.header for a in spec.ask] == ["是否独居", "紧急联系人电话", "备注"]
    assert spec.ask[0].choices == ("是", "否") and spec.ask[0].required
    assert spec.due == date(2026, 12, 15)
    # the community copy: the ID number and phone are masked (community staff are not entitled to them)
    assert spec.mask_for("id_no") is not None and spec.mask_for("phone") is not None
    assert spec.mask_for("name") is None


def test_good_spec_loads(tmp_path: Path) -> None:
    spec = load_form_spec(write(tmp_path, GOOD))
    assert spec.form == "check_form" and spec.department_spec.department == "civil"


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("known: [name, id_no, phone, grid]", "known: [name, id_no, shoe_size, grid]", 5, "unknown field 'shoe_size'"),
        ("known: [name, id_no, phone, grid]", "known: [name, chronic]", 5, "not entitled to 'chronic'"),
        ("type: phone}", "type: telephone}", 8, "type must be one of"),
        ("choices: [是, 否], ", "", 7, "a choice needs a non-empty list"),
        ("population: {age_at_least: 60}", "population: {age_over: 60}", 4, "unknown filter 'age_over'"),
        ("department: civil", "department: tax", 3, "unknown department 'tax'"),
        ("due: 2026-12-15", "due: next week", 9, "due must be a date"),
        ("due: 2026-12-15", "due: 2026-12-15\ncolour: red", 10, "unknown key 'colour'"),
        ("type: phone}", "type: phone, hnit: x}", 8, "unknown key 'hnit'"),
        ("header: 紧急联系人电话", "header: 是否独居", 8, "repeats a column"),
        ("title: 测试表\n", "", 1, "lacks 'title'"),
        ("due: 2026-12-15", "due: 2026-12-15: x", 9, "not valid YAML"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(FormSpecError) as raised:
        load_form_spec(path)
    message = str(raised.value)
    assert str(path) in message
    assert f"line {line}:" in message, message
    assert words in message
