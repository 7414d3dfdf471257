"""Addresses: one canonical form for the many ways a flat is written (3幢二单元501室 = 3栋2单元501).

A Chinese address is split into its administrative prefix (province and city dropped; district,
street/town, community kept), the road and door number, and the flat locator (building, unit,
room). The canonical form is the most specific place above the building (the road, with its lane
number such as 123弄 or 3巷, else the estate, community, street or district), the door number
(12-1号 for 12号之一), then the locator, so that records which add or omit the city, district or
community still agree. Numbers may be written in Chinese numerals, full-width digits, or as
hyphen forms with any dash (19-五-101, 21号楼四－2401室); a floor before the room (5层502) is
dropped since the room number carries it. Addresses in other scripts degrade to NFKC, casefolded,
whitespace-collapsed text. Runs on every record, so every regex is compiled once
and parses are cached.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import cn2an
import yaml

_HAN = "\u3400-\u9fff"
_CJK = re.compile(f"[{_HAN}]")
_WHITESPACE = re.compile(r"\s+")
_DROPPED = ",，。、;；:：()（）[]【】{}<>《》\"'“”‘’"
# Dashes people type between numbers (ASCII, en/em dash, horizontal bar, minus, tildes, the katakana
# long mark some input methods give); full-width forms are already folded by NFKC.
_DASHES = "‐‑‒–—―−~〜～_ー﹣"
_CHAR_TABLE = str.maketrans({**{ch: None for ch in _DROPPED}, **{ch: "-" for ch in _DASHES}})
_ODD_CHARS = re.compile(f"[{re.escape(_DROPPED + _DASHES)}]")
_NUMERALS = "零〇一二两三四五六七八九十百千"
_NUMERAL_CHARS = frozenset(_NUMERALS)
# A run of Chinese numerals is a number when a locator mark follows it, when it stands next to a
# dash between numbers (19-五-101, 四-2401), or after 之/附 (12号之一); place names such as 九龙 or
# 五一路 are left alone.
_CN_NUMERAL = re.compile(rf"(?<=[-之附])[{_NUMERALS}]+|[{_NUMERALS}]+(?=栋|幢|号|单元|室|层|楼|座|户|弄|巷|组|期|-|$)")
_CN_DIGITS = str.maketrans("零〇一二两三四五六七八九", "001223456789")
_ORDINAL = re.compile(r"第(?=[0-9A-Z]+(?:栋|幢|号|单元|层|楼|座|组|期))")
_BUILDING_MARK = re.compile(r"(?<=[0-9A-Z])(?:号楼|栋楼|幢|座|#楼|#)|(?<=\d)楼(?=\d+单元)")
_SUB_NUMBER = re.compile(r"(\d+)(?:号之|之|号附)(\d+)号?(?!\d)")
_FLOOR_BEFORE_ROOM = re.compile(r"(\d+)(层|楼)(?=(\d+)$)")
_FLOOR_AT_END = re.compile(r"(\d+)楼$")
_ROOM_AS_NUMBER = re.compile(r"(?<=[栋元])(\d+)号$")
_HYPHENS = re.compile(r"-{2,}")
_HYPHEN_THREE = re.compile(r"(?<![0-9A-Z-])([A-Z]?\d+|[A-Z])-(\d+)-(\d+)$")
_HYPHEN_UNIT = re.compile(r"(?<![0-9A-Z-])([A-Z]?\d+|[A-Z])-(\d+)(?=单元)")
_HYPHEN_AFTER_BUILDING = re.compile(r"栋(\d+)-(\d+)$")
_HYPHEN_AFTER_DOOR = re.compile(r"(?<=号)([A-Z]?\d+|[A-Z])-(\d+)$")
_PREFIX = re.compile(
    rf"(?:[{_HAN}]{{2,7}}?(?:省|自治区))?"
    rf"(?:[{_HAN}]{{1,7}}?(?:市|自治州|地区|盟))?"
    rf"(?P<district>[{_HAN}]{{1,7}}?(?:(?<![小园社校厂营])区|县|(?<![超门])市|旗)(?![路街道巷]))?"
    rf"(?P<street>[{_HAN}]{{1,8}}(?:街道|镇|乡)(?![路街巷道弄]|大道|大街))?"
    rf"(?P<community>[{_HAN}]{{1,10}}(?:社区|居委会|村委会|村)(?![路街巷道弄])(?:居委会|村委会)?)?"
)
_LOCATOR = re.compile(r"(?:([0-9A-Z]+)栋)?(?:(\d+)单元)?(\d+层|\d+)?$")
_LOCATOR_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ栋单元层"
# A road may carry lane numbers (Shanghai 弄, southern 巷: 长乐路123弄, 中山街3巷); 12号院 is door 12.
_ROAD = rf"[{_HAN}A-Z0-9]*?[{_HAN}](?:大道|大街|路|街|巷|弄|胡同)(?:\d+(?:弄|巷|支弄))*"
_ROAD_DOOR = re.compile(rf"(?P<road>{_ROAD})?(?P<door>附?\d+(?:-\d+)?)号院?(?!楼)")
_ROAD_ONLY = re.compile(_ROAD)
_MAX_ROUNDS = 4
STREET_WORDS = Path(__file__).with_name("street_words.yaml")
_LATIN_WORD = re.compile(r"[^\W\d_]+\.?")


class AddressParts(NamedTuple):
    """Parts of one address, each None when absent; `rest` holds what fitted no part.

    Immutable, since parses are cached and shared; a tuple, since it is built for every record.
    """

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
        if self.road:
            place = self.road
        else:
            area = self.community or self.street or self.district or ""
            place = area + self.rest if self.rest and self.rest[0].isdigit() else self.rest or area
        return place + (f"{self.door_no}号" if self.door_no else "") + self._locator()

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
    return _cn_number(match.group(0))


def _floor_or_building(match: re.Match[str]) -> str:
    """N层M: the floor, implied by room M, is dropped; N楼M is a floor when M starts with N
    (5楼502), else the northern short form of N号楼 (12楼502)."""
    number, mark, room = match.groups()
    if mark == "层" or room.startswith(number):
        return ""
    return f"{number}栋"


def _clean_chinese(text: str) -> str:
    """Unify marks and numerals; cheap substring tests skip the regexes most addresses do not need."""
    text = "".join(text.split()).upper()
    if _ODD_CHARS.search(text):
        text = text.translate(_CHAR_TABLE)
    if not _NUMERAL_CHARS.isdisjoint(text):
        text = _CN_NUMERAL.sub(_digits_for_numerals, text)
    if "第" in text:
        text = _ORDINAL.sub("", text)
    if "之" in text or "附" in text:
        text = _SUB_NUMBER.sub(r"\1-\2号", text)
    if "幢" in text or "楼" in text or "座" in text or "#" in text:
        text = _BUILDING_MARK.sub("栋", text)
    if text.endswith(("室", "房", "户")) and text[-2:-1].isdigit():
        text = text[:-1]
    if "层" in text or "楼" in text:
        text = _FLOOR_BEFORE_ROOM.sub(_floor_or_building, text)
        text = _FLOOR_AT_END.sub(r"\1层", text)
    if text.endswith("号"):
        text = _ROOM_AS_NUMBER.sub(r"\1", text)
    if "-" in text:
        text = _HYPHENS.sub("-", text)
        text = _HYPHEN_THREE.sub(r"\1栋\2单元\3", text)
        text = _HYPHEN_UNIT.sub(r"\1栋\2", text)
        text = _HYPHEN_AFTER_BUILDING.sub(r"栋\1单元\2", text)
        text = _HYPHEN_AFTER_DOOR.sub(r"\1栋\2", text)
    return text


def _door_match(text: str) -> re.Match[str] | None:
    """The first door number that follows a road; else the last one, so that the canonical form,
    which puts the door after the rest of the text, reads the same door again."""
    first = _ROAD_DOOR.search(text)
    if first is None or first.group("road"):
        return first
    last = first
    for match in _ROAD_DOOR.finditer(text, first.end()):
        if match.group("road"):
            return match
        last = match
    return last


@lru_cache(maxsize=200_000)
def _parse_place(head: str) -> tuple[str | None, str | None, str | None, str | None, str | None, str | None]:
    """(district, street, community, road, door_no, rest) of the text before the flat locator;
    cached, since every flat of a building shares it."""
    prefix = _PREFIX.match(head)
    middle = head[prefix.end() :] if prefix else head
    road = door = None
    road_door = _door_match(middle)
    if road_door:
        road, door = road_door.group("road"), road_door.group("door")
        middle = middle[: road_door.start()] + middle[road_door.end() :]
    else:
        road_only = _ROAD_ONLY.search(middle)
        if road_only:
            road = road_only.group(0)
            middle = middle[: road_only.start()] + middle[road_only.end() :]
    if prefix:
        return prefix.group("district"), prefix.group("street"), prefix.group("community"), road, door, middle or None
    return None, None, None, road, door, middle or None


def _parse_chinese(text: str) -> AddressParts:
    # The locator only uses these characters, so it starts within the text's tail made of them.
    locator = _LOCATOR.search(text, len(text.rstrip(_LOCATOR_CHARS)))
    if locator is None:
        building = unit = room = None
        head = text
    else:
        building, unit, room = locator.groups()
        head = text[: locator.start()]
    district, street, community, road, door, rest = _parse_place(head)
    return AddressParts(district, street, community, road, door, building, unit, room, rest)


@lru_cache(maxsize=1)
def _street_words() -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """(short word -> long form, (short ending with its dot, long form)), from street_words.yaml."""
    spec = yaml.safe_load(STREET_WORDS.read_text(encoding="utf-8")) or {}
    whole = {str(short): str(long) for long, shorts in (spec.get("words") or {}).items() for short in shorts or []}
    endings = tuple(
        (f"{short}.", str(long)) for long, shorts in (spec.get("endings") or {}).items() for short in shorts or []
    )
    return whole, endings


def _long_street_word(match: re.Match[str]) -> str:
    """A street-type word in its long form (St. -> street, Hauptstr. -> hauptstrasse)."""
    word = match.group(0)
    whole, endings = _street_words()
    bare = word.rstrip(".")
    if bare in whole:
        return whole[bare]
    for ending, long in endings:
        if word.endswith(ending) and len(word) > len(ending):
            return word[: -len(ending)] + long
    return word


def latin_street_words(text: str) -> str:
    """Casefolded Latin address text with its street-type words in one form (street_words.yaml)."""
    return _LATIN_WORD.sub(_long_street_word, text)


@lru_cache(maxsize=500_000)
def parse_address(raw: str) -> AddressParts:
    """Split an address into its parts; text in other scripts comes back whole in `rest`, casefolded.

    Text without any letters (19-5-101) is read as a Chinese flat locator.
    """
    text = unicodedata.normalize("NFKC", raw or "")
    if not _CJK.search(text) and any(ch.isalpha() for ch in text):
        latin = _WHITESPACE.sub(" ", latin_street_words(unicodedata.normalize("NFKC", text.casefold()))).strip()
        return AddressParts(rest=latin or None)
    return _parse_chinese(_clean_chinese(text))


@lru_cache(maxsize=500_000)
def canonical_address(raw: str) -> str:
    """The canonical string of an address, stable when applied to its own output."""
    text = raw or ""
    for _ in range(_MAX_ROUNDS):
        canonical = parse_address(text).canonical
        if canonical == text:
            break
        text = canonical
    return text
