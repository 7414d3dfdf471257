"""Phone numbers: mainland mobiles and landlines by fast rules, other countries through phonenumbers.

Mainland numbers are by far the most frequent, so they take a regex path (a few µs); only numbers
with a foreign country code pay for phonenumbers' parser.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_EXTENSION = re.compile(r"(?:转|ext\.?|x|分机|#).*$", re.IGNORECASE | re.ASCII)
_SEPARATORS = re.compile(r"[\s\-().,/·:;_]+", re.ASCII)
_SPLIT_MANY = re.compile(r"[,，;；、]|\s{2,}|或", re.ASCII)
_FLOAT_SUFFIX = re.compile(r"\.0+$", re.ASCII)
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?e\+?\d+$", re.IGNORECASE | re.ASCII)
_CN_PREFIX = re.compile(r"^(?:\+86|0086|86(?=1[3-9]\d{9}$))", re.ASCII)
_MOBILE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_LANDLINE_SHORT_AREA = re.compile(r"^(0(?:10|2\d))(\d{7,8})$", re.ASCII)
_LANDLINE_LONG_AREA = re.compile(r"^(0[3-9]\d{2})(\d{7,8})$", re.ASCII)
_LOCAL = re.compile(r"^[2-9]\d{6,7}$", re.ASCII)


def _normalize_one(text: str) -> str | None:
    text = _EXTENSION.sub("", text)
    text = _FLOAT_SUFFIX.sub("", text.strip())
    if _SCIENTIFIC.match(text):
        return None
    foreign = text.startswith("+") or text.startswith("00")
    text = _SEPARATORS.sub("", text)
    national = _CN_PREFIX.sub("", text)
    if national != text:
        foreign = False
        if not _MOBILE.match(national) and not national.startswith("0"):
            national = "0" + national
    text = national
    if _MOBILE.match(text):
        return text
    for pattern in (_LANDLINE_SHORT_AREA, _LANDLINE_LONG_AREA):
        match = pattern.match(text)
        if match:
            return f"{match.group(1)}-{match.group(2)}"
    if _LOCAL.match(text):
        return text
    if foreign:
        return _foreign(text)
    return None


def _foreign(text: str) -> str | None:
    """E.164 for a number with a non-Chinese country code, None when phonenumbers finds it invalid."""
    candidate = "+" + text[2:] if text.startswith("00") else text
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(raw: str) -> str | None:
    """Mobile as 11 digits, landline as `0596-1234567`, foreign as E.164, None when unusable.

    When a cell holds several numbers, the first usable one wins.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return None
    for part in _SPLIT_MANY.split(text):
        value = _normalize_one(part)
        if value:
            return value
        for piece in part.split("/") if "/" in part else ():
            value = _normalize_one(piece)
            if value:
                return value
    return None
