"""Survivorship rules are data: authority per field, the recency column, fields where the latest wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub_errors import ConfigError
from pipelines.survivorship import load_survivorship_rules


def test_survivorship_file_names_the_recency_column_and_latest_fields(tmp_path: Path) -> None:
    rules = load_survivorship_rules()
    assert rules["recency"] == "updated_at" and rules["prefer"]["phone"] == "latest"
    bad = tmp_path / "survivorship.yaml"
    bad.write_text("authoritative: {phone: [grid]}\nprefer: {phone: newest}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="phone"):
        load_survivorship_rules(bad)


def test_community_verified_contact_and_residence_facts_are_data(tmp_path: Path) -> None:
    rules = load_survivorship_rules()
    assert {field: rules["verified"][field] for field in ("phone", "address", "grid")} == {
        "phone": ["community"], "address": ["community"], "grid": ["community"]
    }
    assert "name" not in rules["verified"], "identity facts stay with the departments' ID-checked records"
    bad = tmp_path / "survivorship.yaml"
    bad.write_text("authoritative: {phone: [grid]}\nverified: {phone: community}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="verified"):
        load_survivorship_rules(bad)
