"""Name evidence beyond spelling: the same sound, a known nickname, a name within a longer one.

Spelling distance misses three ways one person's name is written differently:

- Chinese characters that sound the same (张伟 / 张玮, 同音字): the toneless pinyin of every
  character agrees (any of a character's readings, so 曾 is both zeng and ceng), or a name written
  in pinyin reads like the characters (Zhang Wei / 张伟).
- A nickname or diminutive (Bob / Robert, Peggy / Margaret), from the hand-curated English names
  dataset of the `nicknames` package and the continental forms of name_diminutives.yaml (Sepp /
  Josef, Henk / Hendrik, Paco / Francisco), or a clipped form of the name in any Latin-script language
  (Andi / Andreas, Tina / Christina, Franzi / Franziska).
- A middle name or a second family name in one record only (Mary Ann / Mary, Smith-Jones / Smith).

Every function works on distinct values: a value's reading, words and nickname groups are computed
once (cached), and the pair checks run over the distinct pairs compare.py hands in. What can be told
from each value alone (its characters' readings as integer codes, its word count) is compared as
arrays over all pairs; only the pairs those arrays leave open reach the per-pair Python checks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rapidfuzz.distance import OSA

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_LETTER = re.compile(r"[^a-z]+")
_WORD_SEPARATORS = re.compile(r"[\s\-‐'’.,·]+")
MIN_FULL_WORD = 2
MIN_SLIP_WORD = 4
NO_RELATION = 4
# Short forms: at least this many letters of the full name, kept from its front, or (longer ones)
# from anywhere in it; diminutive endings dropped before looking.
MIN_SHORT_FORM = 3
MIN_INNER_SHORT_FORM = 4
DIMINUTIVE_ENDINGS = ("ie", "y", "i")
DIMINUTIVES = Path(__file__).with_name("name_diminutives.yaml")


@lru_cache(maxsize=50_000)
def _character_readings(character: str) -> frozenset[str]:
    """Every toneless pinyin reading of one character (itself when it has none: a letter, a dot)."""
    from pypinyin import Style, pinyin

    options = pinyin(character, style=Style.NORMAL, heteronym=True, errors="default")
    return frozenset(options[0]) if options else frozenset({character})


@lru_cache(maxsize=200_000)
def readings(name: str) -> tuple[frozenset[str], ...] | None:
    """Toneless pinyin readings per character of a Chinese name (None when it has no Chinese)."""
    if not _CJK.search(name):
        return None
    return tuple(_character_readings(character) for character in name)


@lru_cache(maxsize=200_000)
def spoken(name: str) -> str:
    """The name as letters only: the common pinyin of a Chinese name, the letters of a Latin one."""
    if _CJK.search(name):
        from pypinyin import Style, lazy_pinyin

        return "".join(lazy_pinyin(name, style=Style.NORMAL, errors="ignore"))
    return _NOT_LETTER.sub("", name)


def value_codes(a: list[str], b: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Codes of both sides of the pairs into their distinct values, so that whatever is told from a
    value alone is computed once per value and compared as arrays."""
    codes, uniques = pd.factorize(np.asarray([*a, *b], dtype=object))
    codes = np.asarray(codes, dtype=np.int64)
    return codes[: len(a)], codes[len(a) :], [str(value) for value in uniques]


_READING_SETS: dict[frozenset[str], int] = {}
_READING_SET_LIST: list[frozenset[str]] = []
_SHARED_READING: dict[tuple[int, int], bool] = {}
_CJK_RANGES = ((0x3400, 0x9FFF), (0xF900, 0xFAFF))


@lru_cache(maxsize=50_000)
def _reading_set_id(character: int) -> int:
    """A code for a character's set of readings (_character_readings), the same for every character
    read the same ways; codes are never reassigned."""
    options = _character_readings(chr(character))
    found = _READING_SETS.get(options)
    if found is None:
        found = _READING_SETS[options] = len(_READING_SET_LIST)
        _READING_SET_LIST.append(options)
    return found


def _code_points(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each value's characters as code points (one row per value, 0 past its end) and its length."""
    length = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    width = max(int(length.max(initial=0)), 1)
    points = np.asarray(values, dtype=f"U{width}").view(np.uint32).reshape(len(values), width)
    return points, length


def _chinese(points: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Values with at least one Chinese character (as readings() and spoken() tell them)."""
    inside = np.arange(points.shape[1]) < length[:, None]
    cjk = np.zeros(points.shape, dtype=bool)
    for low, high in _CJK_RANGES:
        cjk |= (points >= low) & (points <= high)
    return np.asarray((cjk & inside).any(axis=1), dtype=bool)


def _share_a_reading(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Whether two characters' reading sets (by code) have a reading in common, per pair; each
    distinct pair of sets is intersected once (codes are never reassigned, so the answers keep)."""
    size = len(_READING_SET_LIST)
    inverse, distinct_pairs = pd.factorize(np.minimum(first, second) * size + np.maximum(first, second))
    shared = np.empty(len(distinct_pairs), dtype=bool)
    for position, pair in enumerate(distinct_pairs.tolist()):
        low, high = divmod(pair, size)
        known = _SHARED_READING.get((low, high))
        if known is None:
            known = _SHARED_READING[(low, high)] = bool(_READING_SET_LIST[low] & _READING_SET_LIST[high])
        shared[position] = known
    return shared[np.asarray(inverse, dtype=np.int64)]


def same_sound(a: list[str], b: list[str]) -> np.ndarray:
    """Different writing, same sound: every character has a reading in common (张伟 / 张玮), or a
    pinyin spelling reads like the characters (zhang wei / 张伟).

    readings() per pair, as arrays: each distinct character's reading set gets a code once, and the
    pairs compare position by position, the pairs still open after each position going on."""
    result = np.zeros(len(a), dtype=bool)
    if not a:
        return result
    first, second, values = value_codes(a, b)
    points, length = _code_points(values)
    chinese = _chinese(points, length)
    alive = chinese[first] & chinese[second] & (length[first] == length[second])
    if alive.any():
        rows = np.flatnonzero(chinese)
        characters, positions = np.unique(points[rows], return_inverse=True)
        character_ids = np.array([_reading_set_id(int(c)) for c in characters.tolist()], dtype=np.int64)
        table = np.full(points.shape, -1, dtype=np.int64)
        table[rows] = character_ids[positions.reshape(len(rows), -1)]
        for column in range(points.shape[1]):
            open_pairs = np.flatnonzero(alive & (length[first] > column))
            if len(open_pairs) == 0:
                break
            shared = _share_a_reading(table[first[open_pairs], column], table[second[open_pairs], column])
            alive[open_pairs[~shared]] = False
        result |= alive
    mixed = np.flatnonzero(chinese[first] != chinese[second])
    if len(mixed):
        involved = np.unique(np.r_[first[mixed], second[mixed]])
        sound_of = np.full(len(values), -1, dtype=np.int64)
        sounds = [spoken(values[i]) for i in involved.tolist()]
        sound_codes = np.asarray(pd.factorize(np.asarray(sounds, dtype=object))[0], dtype=np.int64)
        sound_of[involved] = np.where([bool(sound) for sound in sounds], sound_codes, -1)
        x, y = sound_of[first[mixed]], sound_of[second[mixed]]
        result[mixed] = (x == y) & (x >= 0)
    return result


@lru_cache(maxsize=200_000)
def words(name: str) -> tuple[str, ...]:
    """The words of a name (spaces, hyphens, apostrophes and dots separate them)."""
    return tuple(word for word in _WORD_SEPARATORS.split(name) if word)


@lru_cache(maxsize=1)
def _namer() -> object:
    from nicknames import NickNamer

    return NickNamer()


def _unaccented(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _diminutives() -> dict[str, frozenset[str]]:
    """Word -> the formal names it is or is a diminutive of, from name_diminutives.yaml (every
    language's list; a form may belong to several names)."""
    spec = yaml.safe_load(DIMINUTIVES.read_text(encoding="utf-8")) or {}
    groups: dict[str, set[str]] = {}
    for names in spec.values():
        for formal, forms in (names or {}).items():
            for word in (str(formal), *(str(form) for form in forms or [])):
                groups.setdefault(word, set()).add(f"{formal}")
    return {word: frozenset(formals) for word, formals in groups.items()}


@lru_cache(maxsize=200_000)
def nickname_groups(word: str) -> frozenset[str]:
    """The formal names a word is, or is a nickname of (robert -> robert; bob -> robert, ...)."""
    if len(word) < MIN_FULL_WORD or _CJK.search(word):
        return frozenset()
    namer = _namer()
    groups = set(namer.canonicals_of(word))  # type: ignore[attr-defined]
    if namer.nicknames_of(word):  # type: ignore[attr-defined]
        groups.add(word)
    groups |= {f"~{formal}" for formal in _diminutives().get(_unaccented(word), frozenset())}
    return frozenset(groups)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """A short form without its diminutive ending and doubled consonant (steffi -> stef, danny -> dan)."""
    for ending in DIMINUTIVE_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_SHORT_FORM:
            word = word[: -len(ending)]
            if len(word) > MIN_SHORT_FORM and word[-1] == word[-2]:
                word = word[:-1]
            break
    return word


def short_form(x: str, y: str) -> bool:
    """One Latin word is a clipped form of the other, as diminutives are made in most European
    languages: the front (Max / Maximilian, Andi / Andreas, Steffi / Stefanie) or, from
    MIN_INNER_SHORT_FORM letters, any part (Tina / Christina, Basti / Sebastian)."""
    shorter, longer = (x, y) if len(x) <= len(y) else (y, x)
    if _CJK.search(longer) or not shorter.isalpha() or not longer.isalpha():
        return False
    for form in {shorter, _stem(shorter)}:
        if len(form) < MIN_SHORT_FORM or len(longer) < len(form) + 2:
            continue
        if longer.startswith(form) or (len(form) >= MIN_INNER_SHORT_FORM and form in longer):
            return True
    return False


@lru_cache(maxsize=500_000)
def _word_relation(x: str, y: str) -> int:
    """0 the same word, 1 a nickname / known variant (or a short form) of each other, 2 an initial of
    the other, 3 one typing slip apart (words of MIN_SLIP_WORD letters or more), 4 no relation."""
    if x == y:
        return 0
    if nickname_groups(x) & nickname_groups(y) or short_form(x, y):
        return 1
    if (len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y)):
        return 2
    if min(len(x), len(y)) >= MIN_SLIP_WORD and OSA.distance(x, y) <= 1:
        return 3
    return 4


def _matched_words(shorter: tuple[str, ...], longer: tuple[str, ...]) -> list[int] | None:
    """Relation of each word of the shorter name to a distinct word of the longer one (best first),
    or None when one of them has no counterpart."""
    free = list(longer)
    relations = []
    for word in shorter:
        found = [_word_relation(word, other) for other in free]
        best = min(range(len(found)), key=found.__getitem__, default=None)
        if best is None or found[best] == NO_RELATION:
            return None
        relations.append(found[best])
        free.pop(best)
    return relations


@lru_cache(maxsize=500_000)
def _within(a: str, b: str) -> bool:
    first, second = words(a), words(b)
    if not first or not second:
        return False
    if len(first) == len(second) and min(len(w) for w in first + second) > 1:
        return False
    if not {w[:1] for w in first} & {w[:1] for w in second} and not set(first) & set(second):
        return False
    shorter, longer = (first, second) if len(first) <= len(second) else (second, first)
    relations = _matched_words(shorter, longer)
    return (
        relations is not None
        and (len(first) != len(second) or 2 in relations)
        and all(r in (0, 2, 3) for r in relations)
        and any(r in (0, 3) and len(w) >= MIN_FULL_WORD for r, w in zip(relations, shorter, strict=True))
    )


def _word_counts(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per value: how many words it has and the length of its shortest word (words() only for the
    values that hold a separator; any other value is one word)."""
    count = np.array([1 if value else 0 for value in values], dtype=np.int64)
    shortest = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    for i, value in enumerate(values):
        if _WORD_SEPARATORS.search(value):
            parts = words(value)
            count[i], shortest[i] = len(parts), min((len(w) for w in parts), default=0)
    return count, shortest


def _pairwise(
    test: Callable[[str, str], bool], a: list[str], b: list[str], candidates: np.ndarray
) -> np.ndarray:
    """test on the candidate pairs only; False elsewhere."""
    result = np.zeros(len(a), dtype=bool)
    result[candidates] = np.fromiter(
        (test(a[i], b[i]) for i in candidates.tolist()), dtype=bool, count=len(candidates)
    )
    return result


def name_within(a: list[str], b: list[str]) -> np.ndarray:
    """One name is the other with extra words or a word reduced to its initial: a middle name or a
    second family name (Mary Ann / Mary, Mary A / Mary Ann, Smith-Jones / Smith, Jcak / Jack
    Gregory). At least one full word is the same or one typing slip away."""
    if not a:
        return np.zeros(0, dtype=bool)
    first, second, values = value_codes(a, b)
    count, shortest = _word_counts(values)
    # _within's first rejections, as arrays: a name without words; as many words, none an initial.
    open_pairs = (count[first] > 0) & (count[second] > 0)
    open_pairs &= (count[first] != count[second]) | (np.minimum(shortest[first], shortest[second]) <= 1)
    return _pairwise(_within, a, b, np.flatnonzero(open_pairs))


@lru_cache(maxsize=200_000)
def _name_groups(name: str) -> frozenset[str]:
    return frozenset().union(*(nickname_groups(word) for word in words(name)))


@lru_cache(maxsize=500_000)
def _known_variant(a: str, b: str) -> bool:
    if not _name_groups(a) & _name_groups(b) and not any(short_form(x, y) for x in words(a) for y in words(b)):
        return False
    first, second = words(a), words(b)
    shorter, longer = (first, second) if len(first) <= len(second) else (second, first)
    relations = _matched_words(shorter, longer)
    return relations is not None and 1 in relations and all(r in (0, 1, 2) for r in relations)


def known_variant(a: list[str], b: list[str]) -> np.ndarray:
    """A word of one name is a nickname, known variant or short form of the other's (Bob / Robert,
    Peggy Smith / Margaret Smith, Bob / Robert James, Tim J / Timothy John, Andi / Andreas); the
    other words are the same or initials."""
    if not a:
        return np.zeros(0, dtype=bool)
    first, second, values = value_codes(a, b)
    points, length = _code_points(values)
    # A single word with a Chinese character is no nickname (nickname_groups): no lookup needed.
    single_chinese = _chinese(points, length) & (_word_counts(values)[0] == 1)
    grouped = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(~single_chinese).tolist():
        grouped[i] = bool(_name_groups(values[i]))
    # Both in a nickname group, or both able to be a clipped form of the other (Andi / Andreas, short_form)
    candidates = (grouped[first] & grouped[second]) | (~single_chinese[first] & ~single_chinese[second])
    return _pairwise(_known_variant, a, b, np.flatnonzero(candidates))
