"""Dates as departments write them: ISO, compact, slashes, 年月日, day-first, Excel serial numbers.

Every form ends as ISO `YYYY-MM-DD`; a date that cannot exist is rejected (value None, flag
`date_impossible`) instead of being guessed, and a day/month order that cannot be told apart is kept
day-first with the flag `date_ambiguous` so a steward can check it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import cn2an

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_CJK = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_EXCEL_SERIAL = re.compile(r"^([1-9]\d{4})(?:\.(\d+))?$")
_PARTIAL = re.compile(r"^\d{4}(?:[-/.年]\d{1,2}月?)?$")
_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_CN_NUMBER = re.compile(r"[〇零一二三四五六七八九十]+")
_SPLIT_TIME = re.compile(
    r"^(?P<date>.+?)(?:(?:[ T]+|(?<=[日号]))"
    r"(?P<h>\d{1,2})[:时](?P<m>\d{2})分?(?:[:](?P<s>\d{2})(?:\.\d+)?秒?)?)?$"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class DateResult:
    """A cleaned date: ISO `value` or None, soft/hard problem `flags`, and the `format` it was written in."""

    value: str | None
    flags: tuple[str, ...] = ()
    format: str | None = None


def _cn_numeral(token: str) -> str:
    """一九九〇 -> 1990 (digit by digit); 十二 / 二十一 -> 12 / 21 (as a number)."""
    if "十" not in token:
        return token.translate(_CN_DIGITS)
    try:
        return str(int(cn2an.cn2an(token, "normal")))
    except Exception:
        return token


def _build(year: int, month: int, day: int, fmt: str, flags: tuple[str, ...] = ()) -> DateResult:
    try:
        value = dt.date(year, month, day).isoformat()
    except ValueError:
        return DateResult(None, ("date_impossible",), fmt)
    return DateResult(value, flags, fmt)


def _parse_date(text: str) -> DateResult:
    for pattern, fmt in ((_ISO, "iso"), (_COMPACT, "compact"), (_SLASH, "slash"), (_CJK, "cjk")):
        match = pattern.match(text)
        if match:
            return _build(int(match.group(1)), int(match.group(2)), int(match.group(3)), fmt)
    match = _DAY_FIRST.match(text)
    if match:
        first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if first <= 12 and second > 12:
            return _build(year, first, second, "month_first")
        ambiguous = ("date_ambiguous",) if first <= 12 and second <= 12 and first != second else ()
        return _build(year, second, first, "day_first", ambiguous)
    match = _EXCEL_SERIAL.match(text)
    if match:
        value = (_EXCEL_EPOCH + dt.timedelta(days=int(match.group(1)))).isoformat()
        return DateResult(value, ("date_excel_serial",), "excel_serial")
    if _PARTIAL.match(text):
        return DateResult(None, ("date_partial",), None)
    return DateResult(None, ("date_unparsed",), None)


def _clean(raw: str) -> str:
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw or "")).strip()
    if "年" in text:
        text = _CN_NUMBER.sub(lambda m: _cn_numeral(m.group(0)), text).replace(" ", "")
    return text


def normalize_date(raw: str) -> DateResult:
    """ISO date from any common written form; a trailing time of day is ignored."""
    text = _clean(raw)
    if not text:
        return DateResult(None, ("date_empty",), None)
    match = _SPLIT_TIME.match(text)
    return _parse_date(match.group("date") if match else text)


def normalize_datetime(raw: str) -> DateResult:
    """ISO `YYYY-MM-DD HH:MM:SS` from a date with an optional time (midnight when absent)."""
    text = _clean(raw)
    if not text:
        return DateResult(None, ("date_empty",), None)
    match = _SPLIT_TIME.match(text)
    if not match:
        return DateResult(None, ("date_unparsed",), None)
    date_text = match.group("date")
    serial = _EXCEL_SERIAL.match(date_text)
    if serial and match.group("h") is None:
        moment = dt.datetime.combine(_EXCEL_EPOCH, dt.time()) + dt.timedelta(days=float(date_text))
        value = moment.replace(microsecond=0).isoformat(sep=" ")
        return DateResult(value, ("date_excel_serial",), "excel_serial")
    day = _parse_date(date_text)
    if day.value is None:
        return day
    hour, minute, second = (int(match.group(k) or 0) for k in ("h", "m", "s"))
    if hour > 23 or minute > 59 or second > 59:
        return DateResult(None, ("time_impossible",), day.format)
    return DateResult(f"{day.value} {hour:02d}:{minute:02d}:{second:02d}", day.flags, day.format)
