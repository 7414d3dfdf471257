"""Match keys for person names: one key however a name was typed, in Chinese or a Latin script.

The key is for comparing, never for display: the name as entered is kept next to it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

# Surnames that exist in their traditional form and are distinct from the character OpenCC maps
# them to (於 is a surname of its own, not 于; 乾 is not 干): the first character is kept as is.
_DISTINCT_TRADITIONAL_SURNAMES = frozenset("於乾")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACES = re.compile(r"\s+")
_MIDDLE_DOTS = re.compile(r"[•・‧∙⋅･.．]")
_MAX_ROUNDS = 4


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _chinese_key(text: str) -> str:
    text = _SPACES.sub("", text)
    text = _MIDDLE_DOTS.sub("·", text)
    if text[:1] in _DISTINCT_TRADITIONAL_SURNAMES:
        return text[0] + _t2s().convert(text[1:])
    return str(_t2s().convert(text))


def _latin_key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def _one_round(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return ""
    return _chinese_key(text) if _CJK.search(text) else _latin_key(text)


@lru_cache(maxsize=200_000)
def name_key(raw: str) -> str:
    """Chinese: NFKC, spaces removed, simplified. Latin: casefolded, accents stripped, spaces collapsed.

    Repeated to a fixed point so that key(key(x)) == key(x) even where NFKC, casefolding and
    OpenCC interact.
    """
    text = raw or ""
    for _ in range(_MAX_ROUNDS):
        next_text = _one_round(text)
        if next_text == text:
            break
        text = next_text
    return text
