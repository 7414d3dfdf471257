"""Chinese resident ID numbers (GB 11643-1999): clean, upgrade, check, and spot Excel damage.

Hand entry and spreadsheets damage ID numbers in known ways: full-width digits, spaces, a lower-case
x, old 15-digit numbers, and numbers stored as numbers. A spreadsheet keeps 15 significant digits
and a JSON client 17, so an 18-digit number that passed through a number lost its last digits
(350603198501010023 -> 350603198501010000), and about one time in eleven the damaged number still
passes the check character: two people would share one "valid" number. So a value that arrived as
a number (exponent notation 3.50603E+17, which the connectors keep for long numeric cells and JSON
numbers, or a '.0' suffix) is never an identity, whatever its check character says; neither is an
18-digit text ending in 000 whose check character fails (a numeric cell exported to CSV).
Such values come back with no number (`value` None) and a flag, so the matching engine never links
two people on a number a spreadsheet made up.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from stdnum import numdb
from stdnum.cn import ric

_SEPARATORS = re.compile(r"[\s\-_'‘’`\"]+")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+?\d+$", re.ASCII)
_FLOAT_TEXT = re.compile(r"^\d{14,}\.\d*$", re.ASCII)

# Why a number is not used as an identity, for stewards and community staff (flag -> reason).
REASONS: dict[str, str] = {
    "id_from_number": (
        "身份证号以数值形式传来（Excel数值单元格、科学计数法或接口数字），末几位可能已被改写，"
        "不作为身份依据：请将该列设为文本格式后重新导出或重新录入"
    ),
    "id_excel_truncated": (
        "身份证号末三位为000且校验位不符，疑为Excel按数值保存后被截断，不作为身份依据："
        "请核对证件原号码后重新录入"
    ),
}
_ID18 = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_ID15 = re.compile(r"^\d{15}$", re.ASCII)


@dataclass(frozen=True, slots=True)
class IdResult:
    """A cleaned ID number: `value` is 18 characters or None when unusable; `flags` name soft problems."""

    value: str | None
    valid: bool
    flags: tuple[str, ...] = ()


@lru_cache(maxsize=4096)
def _region_known(code: str) -> bool:
    """True when the 6-digit region code was ever assigned (any year: IDs keep their old codes)."""
    return any("county" in props for _, props in numdb.get("cn/loc").info(code))


def _birth_of(number: str) -> str | None:
    """The birth date digits 7-14 carry, or None when no such day exists (the number is already clean)."""
    try:
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])).isoformat()
    except ValueError:
        return None


def _upgrade_15(number: str) -> str:
    """Old 15-digit numbers: insert the century 19 and append the check digit."""
    body = number[:6] + "19" + number[6:]
    return body + ric.calc_check_digit(body + "0")


def normalize_cn_id(raw: str, birth: str | None = None) -> IdResult:
    """Clean a resident ID number; `birth` (ISO) is the record's own birth date, compared when given.

    Flags: id_empty, id_format, id_from_number, id_excel_truncated, id_upgraded_15, id_checksum,
    id_birth_invalid, id_birth_mismatch, id_region_unknown.
    """
    text = unicodedata.normalize("NFKC", raw or "")
    text = _SEPARATORS.sub("", text).upper()
    if not text:
        return IdResult(None, False, ("id_empty",))
    if _SCIENTIFIC.match(text) or _FLOAT_TEXT.match(text):
        return IdResult(None, False, ("id_from_number",))
    flags: list[str] = []
    if _ID15.match(text):
        text = _upgrade_15(text)
        flags.append("id_upgraded_15")
    if not _ID18.match(text):
        return IdResult(None, False, ("id_format",))
    checksum_ok = ric.calc_check_digit(text) == text[-1]
    if not checksum_ok and text.endswith("000"):
        return IdResult(None, False, ("id_excel_truncated",))
    valid = checksum_ok
    if not checksum_ok:
        flags.append("id_checksum")
    id_birth = _birth_of(text)
    if id_birth is None:
        flags.append("id_birth_invalid")
        valid = False
    elif birth and birth != id_birth:
        flags.append("id_birth_mismatch")
        valid = False
    if not _region_known(text[:6]):
        flags.append("id_region_unknown")
    return IdResult(text, valid, tuple(flags))


def birth_from_id(id_no: str | None) -> str | None:
    """The ISO birth date an 18-digit ID number carries, or None."""
    if not id_no or not _ID18.match(id_no):
        return None
    return _birth_of(id_no)


def gender_from_id(id_no: str | None) -> str | None:
    """GB/T 2261.1 sex code an 18-digit ID number carries: odd order code male "1", even female "2"."""
    if not id_no or not _ID18.match(id_no):
        return None
    return "1" if int(id_no[16]) % 2 else "2"
