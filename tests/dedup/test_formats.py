"""Per-column day/month order: the telling values of a column decide how its ambiguous ones read."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dedup.formats import (
    DAY_FIRST,
    MONTH_FIRST,
    YEAR_FIRST,
    YEAR_LAST,
    apply_date_order,
    expand_two_digit_years,
    infer_date_order,
    infer_two_digit_years,
)


def test_a_month_first_column_reads_its_ambiguous_values_month_first() -> None:
    column = pd.Series(["11/23/1994", "05/06/1994", "12/31/2001", "", "1990-01-02"])
    order = infer_date_order(column)
    assert order.order == MONTH_FIRST
    assert (order.month_first_values, order.day_first_values, order.ambiguous_values) == (2, 0, 1)
    assert list(apply_date_order(column, order.order)) == ["11/23/1994", "1994-05-06", "12/31/2001", "", "1990-01-02"]


def test_a_day_first_column_with_dots_reads_day_first() -> None:
    column = pd.Series(["23.11.1994", "05.06.1994", "31.12.2001"])
    order = infer_date_order(column)
    assert order.order == DAY_FIRST
    assert list(apply_date_order(column, order.order)) == ["23.11.1994", "1994-06-05", "31.12.2001"]


def test_the_majority_decides_and_contrary_values_keep_their_own_reading() -> None:
    column = pd.Series(["11/23/1994"] * 3 + ["23/11/1994", "02/03/2000"])
    order = infer_date_order(column)
    assert order.order == MONTH_FIRST
    assert order.month_first_values == 3 and order.day_first_values == 1
    assert list(apply_date_order(column, order.order))[3:] == ["23/11/1994", "2000-02-03"]


def test_without_telling_values_or_on_a_tie_nothing_is_rewritten() -> None:
    only_ambiguous = pd.Series(["01/02/1990", "03/04/1991"])
    assert infer_date_order(only_ambiguous).order is None
    assert "no value tells" in infer_date_order(only_ambiguous).describe()
    tie = pd.Series(["11/23/1994", "23/11/1994", "01/02/1990"])
    assert infer_date_order(tie).order is None
    assert list(apply_date_order(tie, None)) == list(tie)


def test_a_time_of_day_after_the_date_is_kept() -> None:
    column = pd.Series(["11/23/1994 10:30", "05/06/1994 08:00"])
    assert list(apply_date_order(column, infer_date_order(column).order))[1] == "1994-05-06 08:00"


def test_year_first_and_written_dates_give_no_order() -> None:
    column = pd.Series(["19940506", "1994年5月6日", "1994-05-06"])
    order = infer_date_order(column)
    assert order.order is None and order.ambiguous_values == 0
    assert "no day/month numeric dates" in order.describe()


def test_two_digit_years_written_first_are_read_in_the_latest_past_century() -> None:
    column = pd.Series(["38.10.15", "51.8.5", "23.7.29", "12.10.15", "1950年3月1日", ""])
    years = infer_two_digit_years(column)
    assert years.position == YEAR_FIRST and (years.year_first_values, years.year_last_values) == (2, 0)
    expanded, years = expand_two_digit_years(column, years, today=dt.date(2026, 1, 1))
    assert list(expanded) == ["1938.10.15", "1951.8.5", "2023.7.29", "2012.10.15", "1950年3月1日", ""]
    assert years.expanded_values == 4 and "4 two-digit years" in years.describe()


def test_two_digit_years_written_last_then_take_the_columns_day_month_order() -> None:
    column = pd.Series(["3/15/75", "11/23/94", "05/06/94"])
    years = infer_two_digit_years(column)
    assert years.position == YEAR_LAST
    expanded, _ = expand_two_digit_years(column, years, today=dt.date(2026, 1, 1))
    assert list(apply_date_order(expanded, infer_date_order(expanded).order)) == [
        "3/15/1975",
        "11/23/1994",
        "1994-05-06",
    ]


def test_a_column_whose_two_digit_years_cannot_be_placed_is_left_alone() -> None:
    column = pd.Series(["12.10.15", "01.02.03"])
    years = infer_two_digit_years(column)
    assert years.position is None
    assert list(expand_two_digit_years(column, years)[0]) == list(column)
