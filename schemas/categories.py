"""Map incident categories as residents word them to the grid system's professional categories.

The table is data (mappings/categories.yaml). Words seen exactly map with full confidence; new
wording falls back to fuzzy similarity with known phrases and to keywords, each with a confidence.
What stays below the trusted confidence is unknown and goes to the stewards' list, never dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import opencc
import pandas as pd
import yaml
from rapidfuzz import fuzz, process

from hub_errors import ConfigError

CATEGORIES_FILE = Path(__file__).with_name("mappings") / "categories.yaml"

LIFECYCLE = ("上报", "受理", "分派", "处置中", "办结", "评价")

# A keyword hit is trusted this much when it points to one category only; agreeing fuzzy evidence adds.
_KEYWORD_CONFIDENCE = 0.8
_AGREEMENT_BONUS = 0.1
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class CategoryMatch:
    """The best professional category for a raw word, how sure, and which rule found it."""

    category: str | None
    confidence: float
    method: str  # exact | steward | fuzzy | keyword | none


@dataclass(frozen=True)
class CategoryTable:
    """The loaded mapping: phrase -> category, keywords, related pairs, trust threshold."""

    phrases: dict[str, str]
    keywords: dict[str, tuple[str, ...]]
    related: frozenset[frozenset[str]]
    min_confidence: float

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.keywords)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize_word(raw: str) -> str:
    """Fold width, traditional script, spaces and punctuation so 亂停車 堵路！ equals 乱停车堵路."""
    text = unicodedata.normalize("NFKC", raw or "")
    text = _NOISE.sub("", text)
    return _t2s().convert(text).lower()


def _parse_entry(name: str, entry: Any) -> tuple[list[str], list[str], list[str]]:
    if entry is None:
        return [], [], []
    if isinstance(entry, list):
        return [str(w) for w in entry], [], []
    if isinstance(entry, dict):
        return (
            [str(w) for w in entry.get("words") or []],
            [str(w) for w in entry.get("keywords") or []],
            [str(w) for w in entry.get("related") or []],
        )
    raise ConfigError(
        f"{CATEGORIES_FILE.name}: 分类“{name}”的写法无法识别，应为词语列表或包含 words/keywords 的映射"
    )


@lru_cache(maxsize=4)
def load_table(path: Path = CATEGORIES_FILE) -> CategoryTable:
    """Read the mapping file once; a malformed file is a steward-fixable ConfigError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"无法读取事件分类映射文件 {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise ConfigError(f"{path}: 缺少 categories 段")
    phrases: dict[str, str] = {}
    keywords: dict[str, tuple[str, ...]] = {}
    related: set[frozenset[str]] = set()
    for name, entry in data["categories"].items():
        professional = str(name)
        words, keys, rel = _parse_entry(professional, entry)
        for word in [professional, *words]:
            key = normalize_word(word)
            if phrases.get(key, professional) != professional:
                raise ConfigError(f"{path}: 词语“{word}”同时映射到“{phrases[key]}”和“{professional}”")
            phrases[key] = professional
        keywords[professional] = tuple(sorted({normalize_word(k) for k in keys if k}, key=len, reverse=True))
        related.update(frozenset((professional, str(other))) for other in rel if str(other) != professional)
    unknown = {c for pair in related for c in pair} - set(keywords)
    if unknown:
        raise ConfigError(f"{path}: related 中的分类未定义: {'、'.join(sorted(unknown))}")
    return CategoryTable(phrases, keywords, frozenset(related), float(data.get("min_confidence", 0.75)))


def _keyword_vote(text: str, table: CategoryTable) -> tuple[str | None, float]:
    """Category whose keywords cover most of the text; None when two categories tie."""
    scores = {category: sum(len(k) for k in keys if k in text) for category, keys in table.keywords.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None, 0.0
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return best, _KEYWORD_CONFIDENCE * (1.0 - runner_up / (2.0 * score))


# Words a data steward mapped to a category (pipelines/review.py keeps them, with who and when, in the
# warehouse): trusted like listed phrases once installed with use_steward_words.
_steward_words: dict[str, str] = {}


def use_steward_words(words: Mapping[str, str]) -> dict[str, str]:
    """Count ``words`` (raw word -> category) as listed phrases from now on; returns the ones taken
    (a word whose category the table does not define is left out; listed phrases keep their own)."""
    table = load_table()
    taken = {
        normalize_word(word): str(category)
        for word, category in words.items()
        if normalize_word(word) and str(category) in table.keywords and normalize_word(word) not in table.phrases
    }
    if taken != _steward_words:
        _steward_words.clear()
        _steward_words.update(taken)
        classify_category.cache_clear()
    return dict(taken)


@lru_cache(maxsize=65536)
def classify_category(raw: str) -> CategoryMatch:
    """Best guess for one raw category word, with its confidence (1.0 for a listed phrase)."""
    table = load_table()
    text = normalize_word(raw)
    if not text:
        return CategoryMatch(None, 0.0, "none")
    if text in table.phrases:
        return CategoryMatch(table.phrases[text], 1.0, "exact")
    if text in _steward_words:
        return CategoryMatch(_steward_words[text], 1.0, "steward")
    fuzzy_cat: str | None = None
    fuzzy_conf = 0.0
    hit = process.extractOne(text, list(table.phrases), scorer=fuzz.WRatio, processor=None)
    if hit is not None:
        fuzzy_cat, fuzzy_conf = table.phrases[hit[0]], float(hit[1]) / 100.0
    keyword_cat, keyword_conf = _keyword_vote(text, table)
    if keyword_cat is not None and keyword_cat == fuzzy_cat:
        agreed = min(0.99, max(keyword_conf, fuzzy_conf) + _AGREEMENT_BONUS)
        return CategoryMatch(keyword_cat, agreed, "keyword")
    if keyword_conf >= fuzzy_conf and keyword_cat is not None:
        return CategoryMatch(keyword_cat, keyword_conf, "keyword")
    if fuzzy_cat is not None:
        return CategoryMatch(fuzzy_cat, min(0.99, fuzzy_conf), "fuzzy")
    return CategoryMatch(None, 0.0, "none")


def map_category(raw: str) -> tuple[str | None, bool]:
    """Return (professional category, known). Unknown words give (None, False) for a steward list."""
    match = classify_category(raw or "")
    if match.category is not None and match.confidence >= load_table().min_confidence:
        return match.category, True
    return None, False


def categories_related(a: str | None, b: str | None) -> bool | None:
    """Whether two categories may describe one incident: True same/related, False never, None unknown."""
    if a is None or b is None:
        return None
    return a == b or frozenset((a, b)) in load_table().related


def unknown_categories(raw_words: Iterable[str]) -> pd.DataFrame:
    """Stewards' list: each unmapped word, its count and the best untrusted guess, most frequent first."""
    counts = Counter(w.strip() for w in raw_words if isinstance(w, str) and w.strip())
    rows = []
    for word, count in counts.items():
        if map_category(word)[1]:
            continue
        guess = classify_category(word)
        rows.append(
            {
                "category_raw": word,
                "count": count,
                "suggestion": guess.category,
                "confidence": round(guess.confidence, 2),
            }
        )
    frame = pd.DataFrame(rows, columns=["category_raw", "count", "suggestion", "confidence"])
    return frame.sort_values(["count", "category_raw"], ascending=[False, True], ignore_index=True)
