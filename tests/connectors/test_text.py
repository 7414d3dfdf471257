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
        (1.5e17, "150000000000000000"),
        (0.1, "0.1"),
        (Decimal("680.00"), "680"),
        (datetime(1936, 10, 1), "1936-10-01"),
        (datetime(2026, 3, 1, 8, 30), "2026-03-01 08:30:00"),
        ("0596-1234567", "0596-1234567"),
    ],
)
def test_value_as_text(value: object, text: str) -> None:
    assert value_as_text(value) == text


def test_api_numbers_arrive_as_the_digits_a_person_would_read() -> None:
    from connectors.http import as_raw_row

    row = as_raw_row({"id": 3.50604e17, "n": 12, "ok": True, "none": None}, source="grid", url="u")
    assert row == {"id": "350604000000000000", "n": "12", "ok": "TRUE", "none": ""}
