"""Asset metadata a steward can read in the Dagster UI: counts and a small, masked sample.

It also holds the one masking function for free text (`mask_text`), used wherever the hub shows a
value outside a department report: metadata samples, `hub explain`, error and log messages.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import dagster as dg
import pandas as pd

# A calendar date or time stamp (kept readable: it is not a personal number by itself).
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_TIME = r"(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?"
_DATE = rf"(?:19|20)\d{{2}}(?:(?P<sep>[-/.]){_MONTH}(?P=sep){_DAY}|年{_MONTH}月{_DAY}日?){_TIME}(?!\d)"
# A run of digits (any script's digits, full-width too) with at most three separators between any two
# of them, an optional leading + and a trailing X (ID numbers); dates are matched first and left alone.
_RUN = r"[+＋]?\d(?:[\s\-‐‑–—－()（）]{0,3}\d)*[xXｘＸ]?"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # Dagster run ids
_PERSONAL_NUMBER = re.compile(rf"(?P<date>{_DATE})|(?P<uuid>{_UUID})|(?P<run>{_RUN})")
_SEPARATOR = re.compile(r"[\s\-‐‑–—－()（）+＋]")
# The password of a URL (scheme://user:password@host), a secret in its query, a bearer token.
_URL_PASSWORD = re.compile(r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+(?=@)")
_QUERY_SECRET = re.compile(
    r"(?P<keep>[?&;](?:password|passwd|pwd|token|access_token|api_key|apikey|secret|key)=)[^&;#\s]+", re.IGNORECASE
)
_BEARER = re.compile(r"(?P<keep>\bBearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
HIDDEN = "***"
MIN_DIGITS = 7
KEEP_TRAILING_DIGITS = 4
ID_KEEP_LEADING = 6
MASK_CHAR = "*"


def _is_digit(char: str) -> bool:
    return char.isdecimal()


def _mask_run(match: re.Match[str]) -> str:
    token = match.group(0)
    if match.group("run") is None:
        return token
    digits = sum(1 for char in token if _is_digit(char))
    has_x = not _is_digit(token[-1])
    id_like = (digits == 18 and not has_x) or (digits == 17 and has_x) or (digits == 15 and not has_x)
    if digits < MIN_DIGITS:
        return token
    before = match.string[match.start() - 1 : match.start()]
    after = match.string[match.end() : match.end() + 1]
    if not id_like and any(char.isascii() and char.isalpha() for char in before + after):
        return token  # a code such as G00000123, P0000042 or a hex digest, not a phone number
    keep_leading = ID_KEEP_LEADING if id_like else 0
    keep_trailing = 0 if id_like else KEEP_TRAILING_DIGITS
    out = []
    seen = 0
    for char in token:
        if _is_digit(char):
            seen += 1
            shown = seen <= keep_leading or seen > digits - keep_trailing
            out.append(char if shown else MASK_CHAR)
        elif _SEPARATOR.fullmatch(char):
            out.append(char)
        else:  # the trailing X of an ID number
            out.append(MASK_CHAR if id_like else char)
    return "".join(out)


def hide_credentials(text: str) -> str:
    """Text with the password of any URL, secrets in URL queries and bearer tokens replaced by ***."""
    if not text:
        return text
    for pattern in (_URL_PASSWORD, _QUERY_SECRET, _BEARER):
        text = pattern.sub(lambda match: match.group("keep") + HIDDEN, text)
    return text


def mask_text(text: str) -> str:
    """Hide personal numbers anywhere in free text, in any form staff or systems write them.

    Any run of at least seven digits (ASCII or full-width, with spaces, hyphens or brackets between
    them, a +86 or 0086 prefix included) keeps only its last four digits: 0595-****1170,
    +** *** **** 5678. A run shaped like a resident ID number (15 or 18 characters, a final X
    included) keeps only its first six (the issuing county): the rest carries the birth date, sex
    and check digit, which with a birth date shown beside it would rebuild the number. Dates and
    times stay readable, and so do run ids and codes glued to Latin letters (G00000123, hex digests).
    Credentials in URLs are hidden too (hide_credentials).
    """
    if not text:
        return text
    if "://" in text or "bearer" in text.lower():
        text = hide_credentials(text)
    if sum(1 for char in text if _is_digit(char)) < MIN_DIGITS:
        return text
    return _PERSONAL_NUMBER.sub(_mask_run, text)


def mask_value(value: Any) -> Any:
    """A value with any personal number in it masked (text by mask_text; a long integer as text)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and not value.is_integer():
        return value
    text = str(int(value))
    masked = mask_text(text)
    return value if masked == text else masked


def _masked_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the message: logging reports it later
        return record
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    return record


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal numbers and credentials in the records it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        _masked_record(record)
        return True


def install_log_masking() -> None:
    """Mask personal numbers and credentials in every log record this process creates, whichever
    logger or handler (Dagster's included, those created later too) emits it. Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_personal_data", False):
        return

    def masked_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _masked_record(factory(*args, **kwargs))

    masked_factory.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_factory)


def sample_markdown(frame: pd.DataFrame, rows: int = 5, max_columns: int = 12) -> dg.MetadataValue:
    """The first rows of a frame as a Markdown table, with personal numbers masked."""
    head = frame.head(rows).iloc[:, :max_columns].astype(object).map(mask_value)
    head = head.fillna("").astype(str)
    header = "| " + " | ".join(mask_text(str(name)) for name in head.columns) + " |"
    rule = "|" + "---|" * len(head.columns)
    lines = ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in head.to_numpy()]
    return dg.MetadataValue.md("\n".join([header, rule, *lines]))


def frame_metadata(frame: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    """Row count and sample for every asset, plus asset-specific figures."""
    return {"rows": dg.MetadataValue.int(len(frame)), "sample": sample_markdown(frame), **extra}


# Every process that loads the hub's assets (a demo, `dagster dev`, a run worker) masks its logs.
install_log_masking()
