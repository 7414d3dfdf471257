"""Values from department sources (spreadsheet cells, database columns) as the text a person saw.

Every connector keeps source values as text, so an ID number or a phone number never passes
through a float on its way into the hub; a long number that arrived as a number stays recognisable
as one (exponent notation), so the schema never takes it for an identity.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

RawRow = dict[str, str]
"""One source record: the source's own column names, every value as text ('' for empty)."""


LONG_NUMBER = 10**14
"""Numbers of 15 digits or more (ID numbers, never amounts or phone numbers) keep a numeric form."""


def value_as_text(value: object, *, exact_integers: bool = False) -> str:
    """A cell or column value as the text a person saw; numbers without '.0'.

    A number of 15 digits or more comes out in exponent notation with every digit it holds
    (a numeric Excel cell 3.50604198001010E+17, a JSON number 350604198001010023 ->
    3.50604198001010023E+17), as a spreadsheet shows it. Such a value was an ID number stored as a
    number: Excel keeps 15 significant digits, a JSON client 17, so its last digits cannot be
    trusted, and the schema must be able to see that it arrived as a number rather than as text.
    ``exact_integers`` is for a database's integer and decimal columns, which hold every digit:
    whole numbers there come out as plain digits (a float column still gives exponent notation).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value) if exact_integers or abs(value) < LONG_NUMBER else _exponent_notation(Decimal(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        exact_integers = False
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if value.is_finite() and abs(value) >= LONG_NUMBER and not exact_integers:
            return _exponent_notation(value)
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _exponent_notation(value: Decimal) -> str:
    """3.50604198001010023E+17: every significant digit, then the exponent (Excel's form)."""
    return format(value.normalize(), "E")
