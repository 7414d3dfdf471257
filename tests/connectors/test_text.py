"""value_as_text: cells and columns as the text a person saw, never a float's rendering."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from connectors.text import value_as_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (12, "12"),
        (13912345678, "13912345678"),
        (13912345678.0, "13912345678"),
        (99999999999999, "99999999999999"),
        # 15 digits or more: an ID number stored as a number keeps a numeric form, every digit kept
        (1.5e17, "1.5E+17"),
        (3.50604198001010e17, "3.5060419800101E+17"),
        (350604198001010023, "3.50604198001010023E+17"),
        (110105491231002, "1.10105491231002E+14"),
        (Decimal("350604198001010023"), "3.50604198001010023E+17"),
        (0.1, "0.1"),
        (Decimal("680.00"), "680"),
        (datetime(1936, 10, 1), "1936-10-01"),
        (datetime(2026, 3, 1, 8, 30), "2026-03-01 08:30:00"),
        ("0596-1234567", "0596-1234567"),
    ],
)
def test_value_as_text(value: object, text: str) -> None:
    assert value_as_text(value) == text


def test_a_database_integer_column_keeps_its_digits_but_a_float_column_does_not() -> None:
    assert value_as_text(350604198001010023, exact_integers=True) == "350604198001010023"
    assert value_as_text(Decimal("350604198001010023"), exact_integers=True) == "350604198001010023"
    assert value_as_text(3.50604198001010e17, exact_integers=True) == "3.5060419800101E+17"


def test_api_numbers_keep_a_numeric_form_when_long() -> None:
    import json

    from connectors.http import as_raw_row

    item = json.loads('{"id": 3.50604e17, "id2": 350604198001010023, "n": 12, "phone": 13912345678, "ok": true}')
    row = as_raw_row({**item, "none": None}, source="grid", url="u")
    assert row == {
        "id": "3.50604E+17",
        "id2": "3.50604198001010023E+17",
        "n": "12",
        "phone": "13912345678",
        "ok": "TRUE",
        "none": "",
    }
