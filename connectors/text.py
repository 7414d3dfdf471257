"""Values from department sources (spreadsheet cells, database columns) as the text a person saw.

Every connector keeps source values as text, so an ID number or a phone number never passes
through a float on its way into the hub.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

RawRow = dict[str, str]
"""One source record: the source's own column names, every value as text ('' for empty)."""


def value_as_text(value: object) -> str:
    """A cell or column value as the text a person saw; numbers without '.0' or exponent notation.

    A numeric ID mangled by Excel (3.50604E+17) comes out as its digits (350604000000000000), so the
    schema can still recognise and flag it rather than see scientific notation.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
