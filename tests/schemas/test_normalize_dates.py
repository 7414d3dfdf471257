import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.normalize.dates import normalize_date, normalize_datetime


@pytest.mark.parametrize(
    ("raw", "expected", "fmt"),
    [
        ("1990-01-01", "1990-01-01", "iso"),
        ("19900101", "1990-01-01", "compact"),
        ("1990/1/1", "1990-01-01", "slash"),
        ("1990.1.1", "1990-01-01", "slash"),
        ("1990年1月1日", "1990-01-01", "cjk"),
        ("１９９０年１月１日", "1990-01-01", "cjk"),
        ("一九九〇年一月十一日", "1990-01-11", "cjk"),
        ("32874", "1990-01-01", "excel_serial"),
        ("1990-01-01 08:30:00", "1990-01-01", "iso"),
        ("25/12/1990", "1990-12-25", "day_first"),
        ("12/25/1990", "1990-12-25", "month_first"),
    ],
)
def test_forms(raw: str, expected: str, fmt: str) -> None:
    result = normalize_date(raw)
    assert (result.value, result.format) == (expected, fmt)


def test_impossible_dates_rejected() -> None:
    for raw in ("1990-02-30", "19901301", "1990年2月29日"):
        result = normalize_date(raw)
        assert result.value is None
        assert "date_impossible" in result.flags


def test_ambiguous_day_month_flagged() -> None:
    result = normalize_date("03/04/1990")
    assert result.value == "1990-04-03"
    assert "date_ambiguous" in result.flags
    assert "date_ambiguous" not in normalize_date("04/04/1990").flags


def test_partial_and_garbage() -> None:
    assert normalize_date("1990年1月").flags == ("date_partial",)
    assert normalize_date("不详").flags == ("date_unparsed",)
    assert normalize_date("").flags == ("date_empty",)


def test_datetimes() -> None:
    assert normalize_datetime("2026/10/10 23:12:00").value == "2026-10-10 23:12:00"
    assert normalize_datetime("2026-10-24 10:54").value == "2026-10-24 10:54:00"
    assert normalize_datetime("2026年10月24日 10:54").value == "2026-10-24 10:54:00"
    assert normalize_datetime("2026-10-24").value == "2026-10-24 00:00:00"
    assert normalize_datetime("46000.5").value == "2025-12-09 12:00:00"
    assert normalize_datetime("2026-10-24 25:00").value is None


@given(st.text())
def test_never_raises_and_idempotent(raw: str) -> None:
    for func in (normalize_date, normalize_datetime):
        value = func(raw).value
        if value is not None:
            assert func(value).value == value


@given(st.dates())
def test_valid_dates_stay_valid(day: datetime.date) -> None:
    iso = day.isoformat()
    if day.year >= 1000:
        assert normalize_date(iso).value == iso
        assert normalize_date(f"{day.year}年{day.month}月{day.day}日").value == iso
        assert normalize_date(day.strftime("%Y%m%d")).value == iso


def test_excel_fake_leap_day_is_never_a_date() -> None:
    """Serial 60 is Excel's 1900-02-29, a day that never was: neither the serial nor the date the
    workbook reader gives for it (connectors.spreadsheet) is accepted."""
    for raw in ("60", "60.0", "1900-02-29", "1900年2月29日"):
        assert normalize_date(raw).value is None, raw
        assert normalize_datetime(raw).value is None, raw
    assert "date_impossible" in normalize_date("1900-02-29").flags
