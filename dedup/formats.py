"""Per-column day/month order of numeric dates, inferred from the values that cannot be read two ways.

A date such as 05/06/1994 is May 6th in a US file and 5 June in a European one; the value alone
cannot tell, but its column can: 11/23/1994 in the same column is month-first, 23/11/1994 day-first.
The majority of such telling values decides the column, and its ambiguous values are read that way.
A column with no telling values (or a tie) is left as it is, for the normalizer's own reading.

Two-digit years (38.10.15 in a Chinese list, 3/15/75 in an American one) are told the same way: the
values whose first or last part cannot be a day (> 31) show where the column keeps its year. The
century is the latest that does not put the date in the future, as befits birth dates.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, replace

import pandas as pd

MONTH_FIRST = "month_first"
DAY_FIRST = "day_first"
YEAR_FIRST = "year_first"
YEAR_LAST = "year_last"
_SHORT_YEAR_DATE = re.compile(r"^\s*(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{1,2})\s*$")
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


@dataclass(frozen=True)
class TwoDigitYears:
    """Where a column writes two-digit years (None when it has none or cannot be told) and the evidence."""

    position: str | None
    year_first_values: int
    year_last_values: int
    expanded_values: int = 0

    def describe(self) -> str:
        told = f"{self.year_first_values} year-first and {self.year_last_values} year-last values"
        if self.position is None:
            return f"two-digit years left unread ({told})"
        where = "first" if self.position == YEAR_FIRST else "last"
        return f"{self.expanded_values} two-digit years (written {where}; {told}) read as the latest past century"


def _short_year_parts(value: str) -> tuple[str, str, str, str] | None:
    match = _SHORT_YEAR_DATE.match(unicodedata.normalize("NFKC", value))
    if not match:
        return None
    return match.group(1), match.group(2), match.group(3), match.group(4)


def infer_two_digit_years(column: pd.Series) -> TwoDigitYears:
    """Count the values whose year can only be the first part (two digits and > 31, or the last part
    too short to be a year) or only the last; majority wins."""
    first_votes = last_votes = 0
    for value, count in column.astype(str).value_counts().items():
        parts = _short_year_parts(str(value))
        if parts is None:
            continue
        first, _, _, last = parts
        can_be_first = len(first) == 2 and int(last) <= 31
        can_be_last = len(last) == 2 and int(first) <= 31
        if can_be_first and (not can_be_last or int(first) > 31):
            first_votes += int(count)
        elif can_be_last and (not can_be_first or int(last) > 31):
            last_votes += int(count)
    position = YEAR_FIRST if first_votes > last_votes else YEAR_LAST if last_votes > first_votes else None
    return TwoDigitYears(position, first_votes, last_votes)


def _full_year(two_digits: int, today: dt.date) -> int:
    year = today.year // 100 * 100 + two_digits
    return year if year <= today.year else year - 100


def expand_two_digit_years(
    column: pd.Series, years: TwoDigitYears, today: dt.date | None = None
) -> tuple[pd.Series, TwoDigitYears]:
    """Rewrite the column's two-digit years as four digits in their place (38.10.15 -> 1938.10.15,
    3/15/75 -> 3/15/1975), so the day/month inference and the normalizer read them."""
    if years.position is None:
        return column, years
    today = today or dt.date.today()
    rewritten: dict[str, str] = {}
    for value in column.astype(str).unique():
        parts = _short_year_parts(value)
        if parts is None:
            continue
        first, separator, middle, last = parts
        if years.position == YEAR_FIRST and len(first) == 2:
            rewritten[value] = f"{_full_year(int(first), today)}{separator}{middle}{separator}{last}"
        elif years.position == YEAR_LAST and len(last) == 2:
            rewritten[value] = f"{first}{separator}{middle}{separator}{_full_year(int(last), today)}"
    text = column.astype(str)
    expanded = int(text.isin(rewritten.keys()).sum())
    return text.map(lambda value: rewritten.get(value, value)), replace(years, expanded_values=expanded)
