"""Addresses: one canonical form for the many ways a flat is written (3幢二单元501室 = 3栋2单元501).

A Chinese address is split into its administrative prefix (province and city dropped; district,
street/town, community kept), the road and door number, and the flat locator (building, unit,
room). The canonical form is the most specific place above the building (road and door number, or
else the estate, community, street or district) followed by the locator, so that records which add
or omit the city, district or community still agree. Addresses without Chinese characters degrade
to NFKC, casefolded, whitespace-collapsed text. Runs on every record, so every regex is compiled once
and parses are cached.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import cn2an

_HAN = "\u3400-\u9fff"
_CJK = re.compile(f"[{_HAN}]")
_WHITESPACE = re.compile(r"\s+")
_CHAR_TABLE = str.maketrans(
    {**{ch: None for ch in ",，。、;；:：()（）[]【】{}<>《》\"'“”‘’"}, **{ch: "-" for ch in "—–−~〜_"}}
)
_ODD_CHARS = re.compile(r"[,，。、;；:：()（）\[\]【】{}<>《》\"'“”‘’—–−~〜_]")
_NUMERAL_CHARS = frozenset("零〇一二两三四五六七八九十百千")
_CN_NUMERAL = re.compile(r"([零〇一二两三四五六七八九十百千]+)(?=栋|幢|号楼|号|单元|室|层|楼|座|户|$)")
_CN_DIGITS = str.maketrans("零〇一二两三四五六七八九", "001223456789")
_BUILDING_MARK = re.compile(r"(?<=[0-9A-Z])(?:号楼|幢|座|#楼|#)")
_HYPHEN_THREE = re.compile(r"(?<![\d-])(\d+)-(\d+)-(\d+)$")
_HYPHEN_AFTER_BUILDING = re.compile(r"栋(\d+)-(\d+)$")
_HYPHEN_AFTER_DOOR = re.compile(r"(?<=号)(\d+)-(\d+)$")
_PREFIX = re.compile(
    rf"(?:[{_HAN}]{{2,7}}?(?:省|自治区))?"
    rf"(?:[{_HAN}]{{1,7}}?(?:市|自治州|地区|盟))?"
    rf"(?P<district>[{_HAN}]{{1,7}}?(?:(?<![小园社校厂营])区|县|(?<![超门])市|旗)(?![路街道巷]))?"
    rf"(?P<street>[{_HAN}]{{1,8}}(?:街道|镇|乡)(?![路街巷道弄大]))?"
    rf"(?P<community>[{_HAN}]{{1,10}}(?:社区|居委会|村委会|村)(?![路街巷道弄])(?:居委会|村委会)?)?"
)
_LOCATOR = re.compile(r"(?:([0-9A-Z]+)栋)?(?:(\d+)单元)?(\d+)?$")
_ROAD_DOOR = re.compile(
    rf"(?P<road>[{_HAN}A-Z0-9]*?[{_HAN}](?:大道|大街|路|街|巷|弄|胡同))?(?P<door>\d+(?:-\d+)?)号(?!楼)"
)
_ROAD_ONLY = re.compile(rf"[{_HAN}A-Z0-9]*?[{_HAN}](?:大道|大街|路|街|巷|弄|胡同)")
_MAX_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class AddressParts:
    """Parts of one address, each None when absent; `rest` holds what fitted no part."""

    district: str | None = None
    street: str | None = None
    community: str | None = None
    road: str | None = None
    door_no: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    rest: str | None = None

    @property
    def canonical(self) -> str:
        """The most specific place above the building, then building, unit and room."""
        if self.road or self.door_no:
            place = (self.road or "") + (f"{self.door_no}号" if self.door_no else "")
        else:
            place = self.rest or self.community or self.street or self.district or ""
        return place + self._locator()

    def _locator(self) -> str:
        return (
            (f"{self.building}栋" if self.building else "")
            + (f"{self.unit}单元" if self.unit else "")
            + (self.room or "")
        )


@lru_cache(maxsize=4096)
def _cn_number(token: str) -> str:
    """二十三 -> 23 through cn2an; numbers read digit by digit (五零一) -> 501."""
    if not any(ch in token for ch in "十百千"):
        return token.translate(_CN_DIGITS)
    try:
        return str(int(cn2an.cn2an(token, "smart")))
    except Exception:
        return token


def _digits_for_numerals(match: re.Match[str]) -> str:
    return _cn_number(match.group(1))


def _clean_chinese(text: str) -> str:
    """Unify marks and numerals; cheap substring tests skip the regexes most addresses do not need."""
    text = "".join(text.split()).upper()
    if _ODD_CHARS.search(text):
        text = text.translate(_CHAR_TABLE)
    if not _NUMERAL_CHARS.isdisjoint(text):
        text = _CN_NUMERAL.sub(_digits_for_numerals, text)
    if "幢" in text or "楼" in text or "座" in text or "#" in text:
        text = _BUILDING_MARK.sub("栋", text)
    if text.endswith(("室", "房", "户")) and text[-2:-1].isdigit():
        text = text[:-1]
    if "-" in text:
        text = _HYPHEN_THREE.sub(r"\1栋\2单元\3", text)
        text = _HYPHEN_AFTER_BUILDING.sub(r"栋\1单元\2", text)
        text = _HYPHEN_AFTER_DOOR.sub(r"\1栋\2", text)
    return text


def _parse_chinese(text: str) -> AddressParts:
    prefix = _PREFIX.match(text)
    start = prefix.end() if prefix else 0
    locator = _LOCATOR.search(text, start)
    end = locator.start() if locator else len(text)
    building, unit, room = locator.groups() if locator else (None, None, None)
    middle = text[start:end]
    road = door = None
    road_door = _ROAD_DOOR.search(middle)
    if road_door:
        road, door = road_door.group("road"), road_door.group("door")
        middle = middle[: road_door.start()] + middle[road_door.end() :]
    else:
        road_only = _ROAD_ONLY.search(middle)
        if road_only:
            road = road_only.group(0)
            middle = middle[: road_only.start()] + middle[road_only.end() :]
    return AddressParts(
        district=prefix.group("district") if prefix else None,
        street=prefix.group("street") if prefix else None,
        community=prefix.group("community") if prefix else None,
        road=road,
        door_no=door,
        building=building,
        unit=unit,
        room=room,
        rest=middle or None,
    )


@lru_cache(maxsize=500_000)
def parse_address(raw: str) -> AddressParts:
    """Split an address into its parts; non-Chinese text comes back whole in `rest`, casefolded."""
    text = unicodedata.normalize("NFKC", raw or "")
    if not _CJK.search(text):
        latin = _WHITESPACE.sub(" ", text.casefold()).strip()
        return AddressParts(rest=unicodedata.normalize("NFKC", latin) or None)
    return _parse_chinese(_clean_chinese(text))


def canonical_address(raw: str) -> str:
    """The canonical string of an address, stable when applied to its own output."""
    text = raw or ""
    for _ in range(_MAX_ROUNDS):
        canonical = parse_address(text).canonical
        if canonical == text:
            break
        text = canonical
    return text
