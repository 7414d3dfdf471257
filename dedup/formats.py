"""Per-column day/month order of numeric dates, inferred from the values that cannot be read two ways.

A date such as 05/06/1994 is May 6th in a US file and 5 June in a European one; the value alone
cannot tell, but its column can: 11/23/1994 in the same column is month-first, 23/11/1994 day-first.
The majority of such telling values decides the column, and its ambiguous values are read that way.
A column with no telling values (or a tie) is left as it is, for the normalizer's own reading.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

MONTH_FIRST = "month_first"
DAY_FIRST = "day_first"
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{4})(?P<rest>(?:[ T].*)?)$")


@dataclass(frozen=True)
class DateOrder:
    """A column's inferred order (None when it cannot be told) and the evidence for it."""

    order: str | None
    month_first_values: int
    day_first_values: int
    ambiguous_values: int

    def describe(self) -> str:
        """One line for a person: what was inferred, from how many values, and what it changed."""
        told = f"{self.month_first_values} month-first and {self.day_first_values} day-first values"
        if self.order == MONTH_FIRST:
            return f"month-first (MM/DD/YYYY): {told}; {self.ambiguous_values} ambiguous values read month-first"
        if self.order == DAY_FIRST:
            return f"day-first (DD/MM/YYYY): {told}; {self.ambiguous_values} ambiguous values read day-first"
        if self.month_first_values or self.day_first_values:
            return f"day/month order undecided ({told}); ambiguous values read day-first"
        if self.ambiguous_values:
            return f"no value tells day from month; {self.ambiguous_values} ambiguous values read day-first"
        return "no day/month numeric dates (year-first or written out)"


def _parts(value: str) -> tuple[int, int, int, str] | None:
    match = _NUMERIC_DATE.match(unicodedata.normalize("NFKC", value))
    if not match:
        return None
    return int(match.group(1)), int(match.group(3)), int(match.group(4)), match.group("rest")


def infer_date_order(column: pd.Series) -> DateOrder:
    """Count the values whose first part (> 12) or second part (> 12) shows the order; majority wins."""
    month_first = day_first = ambiguous = 0
    for value, count in column.astype(str).value_counts().items():
        parts = _parts(str(value))
        if parts is None:
            continue
        first, second, _, _ = parts
        if first > 12 >= second:
            day_first += int(count)
        elif second > 12 >= first:
            month_first += int(count)
        elif first <= 12 and second <= 12 and first != second:
            ambiguous += int(count)
    order = None
    if month_first > day_first:
        order = MONTH_FIRST
    elif day_first > month_first:
        order = DAY_FIRST
    return DateOrder(order, month_first, day_first, ambiguous)


def apply_date_order(column: pd.Series, order: str | None) -> pd.Series:
    """Rewrite the ambiguous numeric dates of a column as ISO in the inferred order; others unchanged."""
    if order is None:
        return column
    rewritten: dict[str, str] = {}
    for value in column.astype(str).unique():
        parts = _parts(value)
        if parts is None:
            continue
        first, second, year, rest = parts
        if first > 12 or second > 12:
            continue
        month, day = (first, second) if order == MONTH_FIRST else (second, first)
        rewritten[value] = f"{year:04d}-{month:02d}-{day:02d}{rest}"
    if not rewritten:
        return column
    return column.astype(str).map(lambda value: rewritten.get(value, value))
