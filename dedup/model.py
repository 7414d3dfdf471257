"""Fellegi-Sunter weights learned without labels, estimated so that they cannot learn households.

EM over the candidate pairs alone finds the strongest structure in them, and where families share a
surname, an address and a phone that structure is "same household", not "same person". So:

- u (how often two different records agree at each level) comes from random record pairs, where
  relatives are as rare as anywhere else; the exact level from the value frequencies themselves.
- m (how often two records of one person agree) comes from EM with u held fixed, on training
  blockings that each leave the fields being learned free: pairs with the same name teach the
  dates, identifiers, phones and addresses; pairs with the same birth date or identifier teach the
  names. Blockings on a household's shared fields (phone, address) are used only for a field that
  no other blocking can teach. A pair that only the field itself could judge cannot teach it
  (the field would confirm its own split): its match probability goes to the field's prior. In a
  blocking on a birth date the family name is no judge (twins share both; which name field is the
  family's is read from the households, dedup.identity.family_name_fields). The m
  of a field is the average over the blockings that taught it, weighted by how many matches each
  saw that other fields judged.
- Two records that share a household field (address, phone) are weighed against the other members
  of that household: u of every field among such pairs is counted on the ones the other person
  fields call non-matches (so a twin's shared birth date counts as the household's, not as a
  match), and sharing a household counts once (its own weight), not once per shared field.
- Weights are monotone: a better agreement level never weighs less than a worse one; a different
  identifier always counts clearly against (m of "different" at most IDENTIFIER_DISAGREEMENT_MAX).
- Each kind has prior m (PRIOR_M, as PRIOR_STRENGTH pseudo-matches) and a prior share of equal
  values (U_PRIOR_EQUAL), so a field that the data cannot tell about keeps sensible weights.
- The prior match share is the one at which the expected number of matches among all record pairs
  equals the sum of the match probabilities over the candidate pairs.

Agreement on a value is adjusted by how common the value is (term frequency), so 张伟 counts for
less than a rare name. Sampling is seeded and done in an order fixed by the records' identities,
so the same records give the same model whatever their row order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from dedup import kinds as event_kinds
from dedup.arrays import distinct, factorize
from dedup.blocking import pairs_within_blocks
from dedup.compare import LEVEL_LABELS, MISSING, compare, compare_field
from dedup.identity import family_name_fields
from dedup.prepare import PreparedField

MAX_ITERATIONS = 200
TOLERANCE = 1e-7
SEED = 20240607
U_PAIRS = 50_000
SESSION_PAIRS = 50_000
TRAINING_MAX_BLOCK = 50
MIN_SESSION_PAIRS = 10
PRIOR_STRENGTH = 20.0
IDENTIFIER_KINDS = ("identifier", "cn_id")
IDENTIFIER_DISAGREEMENT_MAX = 0.05
U_PSEUDO_COUNT = 0.5
U_PRIOR_PAIRS = 1000.0
# Prior share of random record pairs that hold the same value, per kind.
U_PRIOR_EQUAL: dict[str, float] = {
    "name": 1e-3,
    "date": 1e-4,
    "identifier": 1e-6,
    "cn_id": 1e-6,
    "phone": 1e-5,
    "address": 1e-3,
    "exact": 0.5,
    "text": 1e-2,
    **event_kinds.U_PRIOR_EQUAL,
}

# Prior m per kind and level (LEVEL_LABELS order): what a record of the same person typically shows.
PRIOR_M: dict[str, tuple[float, ...]] = {
    "name": (0.80, 0.02, 0.08, 0.02, 0.02, 0.01, 0.03, 0.02),
    "date": (0.90, 0.05, 0.02, 0.03),
    "identifier": (0.93, 0.04, 0.01, 0.02),
    "cn_id": (0.88, 0.02, 0.05, 0.01, 0.02, 0.02),
    "phone": (0.75, 0.03, 0.22),
    "address": (0.60, 0.20, 0.10, 0.10),
    "exact": (0.95, 0.05),
    "text": (0.75, 0.12, 0.06, 0.07),
    **event_kinds.PRIOR_M,
}

# Kinds that tell one person from another in the same household: training blockings on them leave
# non-matches that are as good as random for the other fields. Name fields block together (a full
# name), each date and identifier field alone.
PERSON_KINDS = ("name", "date", "identifier", "cn_id")
# Kinds that tell one event from another (dedup.kinds): they teach like the person kinds; an event
# table trains on the blockings of dedup.kinds.training_blockings and has no households.
TEACHING_KINDS = (*PERSON_KINDS, *event_kinds.EVENT_KINDS)
# A blocking on the first kind says something about the second beyond identity (a resident ID
# embeds the birth date: people born the same day have IDs a few digits apart), so a blocking on
# the first does not teach the second.
EMBEDDED_IN = {"date": frozenset({"cn_id"})}
FALLBACK_KINDS = ("phone", "address", "text")
# Fields a household shares. Two records that agree on one are compared against the other records
# of that household (u learned on such pairs), not against random records: sharing a flat and a
# phone is strong evidence once, not once per field, and a twin shares the birth date too.
HOUSEHOLD_KINDS = ("phone", "address")
HOUSEHOLD_LEVEL = {"phone": 0, "address": 1}
# A person field on which at least this share of a household's different members agree (a family
# name) says nothing about which member a record is.
FAMILY_FIELD_SHARE = 0.3


@dataclass
class FieldWeights:
    """Learned probabilities of one field, per level (index 0 = exact); learned_from names the
    training blockings that taught its m (empty: the kind's prior)."""

    name: str
    kind: str
    m: np.ndarray
    u: np.ndarray
    tf_adjustment: np.ndarray = field(repr=False)
    learned_from: tuple[str, ...] = ()
    m_household: np.ndarray | None = None
    u_household: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray:
        """Match weight (log2 Bayes factor) per level."""
        return np.log2(self.m / self.u)

    @property
    def household_weights(self) -> np.ndarray:
        """Match weight per level between two records that share a household field (HOUSEHOLD_KINDS)."""
        if self.m_household is None or self.u_household is None:
            return self.weights
        return np.log2(self.m_household / self.u_household)

    @property
    def labels(self) -> tuple[str, ...]:
        return LEVEL_LABELS[self.kind]


@dataclass
class Model:
    """The trained model: per-field weights and the prior match share among all record pairs."""

    fields: list[FieldWeights]
    match_share: float
    iterations: int
    sessions: dict[str, int] = field(default_factory=dict)
    household_columns: tuple[int, ...] = ()
    household_weight: float = 0.0

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.match_share / (1.0 - self.match_share)))

    def contributions(
        self, prepared: list[PreparedField], levels: np.ndarray, left: np.ndarray
    ) -> np.ndarray:
        """Weight of each field for each pair (0 when a value is missing), tf-adjusted.

        Two records that share a household field (same address or phone) are weighed against the
        records of the same household: every field by its household weights, and the first shared
        household field carries the evidence of sharing one at all (household_weight).
        """
        out = np.zeros(levels.shape, dtype=np.float64)
        household = self.shares_household(levels)
        first_shared = np.full(len(levels), -1)
        for column in reversed(self.household_columns):
            first_shared[self._shared(levels, column)] = column
        for column, (weights, data) in enumerate(zip(self.fields, prepared, strict=True)):
            level = levels[:, column]
            present = level != MISSING
            alone, shared = present & ~household, present & household
            out[alone, column] = weights.weights[level[alone]]
            out[shared, column] = weights.household_weights[level[shared]]
            exact = level == 0
            if column in self.household_columns:
                exact &= ~household
                out[first_shared == column, column] += self.household_weight
            if exact.any():
                out[exact, column] += weights.tf_adjustment[data.codes[left[exact]]]
        return out

    def shares_household(self, levels: np.ndarray) -> np.ndarray:
        """Pairs that share at least one household field (HOUSEHOLD_LEVEL: an address written two
        ways counts, a phone one digit off does not)."""
        household = np.zeros(len(levels), dtype=bool)
        for column in self.household_columns:
            household |= self._shared(levels, column)
        return household

    def _shared(self, levels: np.ndarray, column: int) -> np.ndarray:
        level = levels[:, column]
        return (level >= 0) & (level <= HOUSEHOLD_LEVEL[self.fields[column].kind])

    def score(self, prepared: list[PreparedField], levels: np.ndarray, left: np.ndarray) -> np.ndarray:
        """Total match weight per pair: prior plus every field's contribution."""
        return self.prior_weight + self.contributions(prepared, levels, left).sum(axis=1)


def _tf_adjustment(data: PreparedField) -> np.ndarray:
    """log2 of (expected frequency of an agreed value / this value's frequency)."""
    total = data.counts.sum()
    if total == 0:
        return np.zeros(len(data.values))
    share = data.counts / total
    expected = float((share**2).sum())
    return np.log2(expected / np.maximum(share, 1.0 / total))


def monotone(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """m adjusted so that m/u never rises from one level to the next (pool adjacent violators,
    weighted by u, which keeps the total of m)."""
    blocks: list[list[float]] = []  # [sum m, sum u, levels]
    for mk, uk in zip(m.tolist(), u.tolist(), strict=True):
        blocks.append([mk, uk, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1] = [blocks[-1][0] + last[0], blocks[-1][1] + last[1], blocks[-1][2] + last[2]]
    ratios = np.repeat([b[0] / b[1] for b in blocks], [int(b[2]) for b in blocks])
    adjusted = ratios * u
    return adjusted / adjusted.sum()


def bounded(m: np.ndarray, kind: str) -> np.ndarray:
    """An identifier that differs between two records of one person is an entry error: at most
    IDENTIFIER_DISAGREEMENT_MAX of a person's pairs show it, whatever EM settled on."""
    if kind not in IDENTIFIER_KINDS or m[-1] <= IDENTIFIER_DISAGREEMENT_MAX:
        return m
    rest = m[:-1] / m[:-1].sum() if m[:-1].sum() > 0 else _prior_m(kind)[:-1] / _prior_m(kind)[:-1].sum()
    return np.r_[(1 - IDENTIFIER_DISAGREEMENT_MAX) * rest, IDENTIFIER_DISAGREEMENT_MAX]


def _prior_m(kind: str) -> np.ndarray:
    prior = np.asarray(PRIOR_M[kind], dtype=np.float64)
    return prior / prior.sum()


def _sample_pairs(count: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i != j among `count` items: all of them when there are few, else a random sample."""
    if count * (count - 1) // 2 <= samples:
        i, j = np.triu_indices(count, k=1)
        return i.astype(np.int64), j.astype(np.int64)
    i = rng.integers(0, count, samples)
    j = rng.integers(0, count - 1, samples)
    return i, j + (j >= i)


def random_u(
    data: PreparedField, order: np.ndarray, rng: np.random.Generator, samples: int = U_PAIRS
) -> np.ndarray:
    """u per level from random pairs of records that both hold a value; the share of equal values
    exactly from the value counts. U_PRIOR_EQUAL (as U_PRIOR_PAIRS pseudo-pairs, the rest of them
    "different") keeps a handful of records from making every agreement look common."""
    size = len(LEVEL_LABELS[data.kind])
    present = order[data.codes[order] >= 0]
    n = len(present)
    prior_equal = U_PRIOR_EQUAL[data.kind]
    counts = np.full(size, U_PSEUDO_COUNT)
    counts[-1] += U_PRIOR_PAIRS * (1 - prior_equal)
    if n >= 2:
        i, j = _sample_pairs(n, samples, rng)
        levels = compare_field(data, present[i], present[j])
        counts += np.bincount(levels[levels >= 0], minlength=size)
    agreeing = float((data.counts.astype(np.float64) ** 2).sum() - n)
    equal_share = (agreeing + U_PRIOR_PAIRS * prior_equal) / (n * (n - 1) + U_PRIOR_PAIRS)
    equal_share = min(max(equal_share, 1.0 / max(n * (n - 1), 2)), 1 - 1e-6)
    u = np.empty(size)
    if data.kind == "cn_id" and data.suspect is not None and n:
        contradicted = float(data.suspect.sum()) / n
        either = 1 - (1 - contradicted) ** 2
        u[0], u[1] = equal_share * (1 - either) + 1e-12, equal_share * either + 1e-12
        rest = counts[2:]
        u[2:] = (1 - equal_share) * rest / rest.sum()
    else:
        u[0] = equal_share
        u[1:] = (1 - equal_share) * counts[1:] / counts[1:].sum()
    return u / u.sum()


@dataclass(frozen=True)
class _Session:
    """A training blocking: pairs that agree exactly on `blocked` (or share `key`, which holds
    `blocked` partly fixed), teaching the other fields."""

    label: str
    blocked: tuple[int, ...]
    key: np.ndarray | None = field(default=None, compare=False, repr=False)


def training_sessions(prepared: list[PreparedField]) -> tuple[list[_Session], list[_Session]]:
    """(person or event blockings, fallback blockings) derived from the kinds."""
    names = tuple(c for c, f in enumerate(prepared) if f.kind == "name")
    person = [_Session("+".join(prepared[c].name for c in names), names)] if names else []
    person += [_Session(f.name, (c,)) for c, f in enumerate(prepared) if f.kind in PERSON_KINDS and f.kind != "name"]
    person += [_Session(label, blocked, key) for label, blocked, key in event_kinds.training_blockings(prepared)]
    fallback = [_Session(f.name, (c,)) for c, f in enumerate(prepared) if f.kind in FALLBACK_KINDS]
    return person, fallback


def _block_key(prepared: list[PreparedField], columns: tuple[int, ...]) -> np.ndarray:
    """One code per distinct combination of the fields (a missing part is a value of its own), -1
    when all are missing."""
    n = len(prepared[0].codes)
    key = np.zeros(n, dtype=np.int64)
    any_present = np.zeros(n, dtype=bool)
    for column in columns:
        codes = prepared[column].codes.astype(np.int64)
        any_present |= codes >= 0
        key = factorize(key * (len(prepared[column].values) + 1) + codes + 1)[0]
    return np.where(any_present, key, -1)


def _session_pairs(
    key: np.ndarray, order: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random sample of the pairs sharing a key, drawn in the records' fixed order."""
    n = len(key)
    encoded = np.sort(pairs_within_blocks(key[order], TRAINING_MAX_BLOCK))
    if len(encoded) > SESSION_PAIRS:
        encoded = encoded[np.sort(rng.choice(len(encoded), SESSION_PAIRS, replace=False))]
    return order[encoded // n], order[encoded % n]


def _distinct_patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of the level matrix and how many pairs show each."""
    if len(levels) == 0:
        return levels, np.empty(0)
    base = int(levels.max()) + 2
    codes = np.zeros(len(levels), dtype=np.int64)
    for column in range(levels.shape[1]):
        codes = codes * base + (levels[:, column].astype(np.int64) + 1)
    inverse, distinct_codes = factorize(codes)
    first_index = np.zeros(len(distinct_codes), dtype=np.int64)
    first_index[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return levels[first_index], np.bincount(inverse, minlength=len(distinct_codes)).astype(np.float64)


@dataclass
class _Learned:
    m: dict[int, np.ndarray]
    evidence: dict[int, float]
    iterations: int


def teaching_columns(kinds: list[str], present: np.ndarray | None = None) -> list[int]:
    """The fields whose agreement decides, in a training blocking, which pairs are matches.

    Fields a household or twins share (phone, address, text) would make relatives look like
    matches there, so they are learned but do not teach; exact fields (sex, state) teach only when
    fewer than two person fields are left; with none at all, every field teaches. A field without
    any value in the pairs (present False: an ID column left empty) teaches nothing and counts for
    nothing, so that namesakes born the same day are not taken for one person for lack of a judge.
    """
    has_values = np.ones(len(kinds), dtype=bool) if present is None else present
    person = [c for c, kind in enumerate(kinds) if kind in TEACHING_KINDS and has_values[c]]
    if len(person) < 2:
        person += [c for c, kind in enumerate(kinds) if kind == "exact" and has_values[c]]
    return sorted(person) or list(range(len(kinds)))


def _session_em(
    patterns: np.ndarray,
    counts: np.ndarray,
    kinds: list[str],
    u: list[np.ndarray],
    no_judges: frozenset[int] = frozenset(),
) -> _Learned:
    """EM for m of each column (u fixed) and the session's own match share; the match
    probabilities come from the teaching columns only, less no_judges."""
    columns = range(patterns.shape[1])
    teachers = [c for c in teaching_columns(kinds, (patterns != MISSING).any(axis=0)) if c not in no_judges]
    m = [_prior_m(kind) for kind in kinds]
    log_u = [np.log(x) for x in u]
    share, iterations = 0.3, 0
    matched = np.zeros(len(patterns))
    judged = patterns[:, teachers] != MISSING
    informed = counts * judged.any(axis=1)
    # A pair that one teaching field alone judges cannot tell how that field behaves among matches:
    # the field would confirm whatever split it made (in pairs blocked on a name, the namesakes and
    # the father and son of one name, born on other days, would teach that one person's birth dates
    # often differ). Such a pair's match probability is spread over the field's levels by its prior.
    # An identifier is its own sound judge: a random exact agreement is too rare to mislead.
    alone = {
        column: judged[:, position] & (judged.sum(axis=1) == 1)
        for position, column in enumerate(teachers)
        if len(teachers) > 1 and kinds[column] not in IDENTIFIER_KINDS
    }
    while iterations < MAX_ITERATIONS:
        iterations += 1
        log_ratio = np.zeros(len(patterns))
        for column in teachers:
            level = patterns[:, column]
            present = level != MISSING
            log_ratio[present] += np.log(m[column][level[present]]) - log_u[column][level[present]]
        log_odds = np.log(share) - np.log1p(-share) + log_ratio
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        matched = informed * posterior
        new_share = float(np.clip(matched.sum() / max(informed.sum(), 1e-12), 1e-9, 1 - 1e-9))
        change = abs(new_share - share)
        for column, kind in zip(columns, kinds, strict=True):
            level = patterns[:, column]
            present = level != MISSING
            self_judged = alone.get(column)
            if self_judged is not None:
                present &= ~self_judged
            seen = np.bincount(level[present], matched[present], minlength=len(m[column]))
            if self_judged is not None:
                seen = seen + matched[self_judged].sum() * _prior_m(kind)
            new_m = (seen + PRIOR_STRENGTH * _prior_m(kind)) / (seen.sum() + PRIOR_STRENGTH)
            new_m = monotone(bounded(new_m, kind), u[column])
            change = max(change, float(np.abs(new_m - m[column]).max()))
            m[column] = new_m
        share = new_share
        if change < TOLERANCE:
            break
    # What a session teaches about a field weighs by the matches it saw that other fields judged.
    evidence = {
        c: float(matched[(patterns[:, c] != MISSING) & ~alone.get(c, np.zeros(len(patterns), dtype=bool))].sum())
        for c in columns
    }
    return _Learned(dict(enumerate(m)), evidence, iterations)


def _exact_key(prepared: list[PreparedField], columns: tuple[int, ...]) -> np.ndarray:
    """One code per distinct combination of the fields' values, -1 when any is missing."""
    key = np.zeros(len(prepared[0].codes), dtype=np.int64)
    missing = np.zeros(len(key), dtype=bool)
    for column in columns:
        codes = prepared[column].codes.astype(np.int64)
        missing |= codes < 0
        key = factorize(key * (len(prepared[column].values) + 1) + codes + 1)[0]
    return np.where(missing, -1, key)


def _agreeing_share(key: np.ndarray) -> float:
    """Share of all ordered record pairs (i != j) that share a key."""
    n = len(key)
    counts = np.bincount(key[key >= 0]).astype(np.float64)
    return float((counts * (counts - 1)).sum() / max(n * (n - 1), 1))


def _household_share(prepared: list[PreparedField], columns: tuple[int, ...]) -> float:
    """Share of random record pairs that agree exactly on at least one household field."""
    share = 0.0
    for size in range(1, len(columns) + 1):
        for subset in combinations(columns, size):
            share += (-1) ** (size + 1) * _agreeing_share(_exact_key(prepared, subset))
    return share


def _household_u(
    patterns: np.ndarray, counts: np.ndarray, fields: list[FieldWeights], prior: list[np.ndarray]
) -> tuple[list[np.ndarray], int]:
    """u of every field among pairs that share a household field.

    Which of these pairs are matches is judged, for each field, by the other person fields with
    the plain weights (their match share by EM): a twin pair's birth date then counts among the
    household's non-matches because the names differ, not as a match because the birth dates
    agree. u is counted on the non-matches, with the prior (independence of the fields) as
    PRIOR_STRENGTH pseudo-pairs, so that data with few households keeps the plain weights. A person
    field that most of a household shares (a family name) is no judge: a second pass leaves it out.
    """
    teachers = teaching_columns([f.kind for f in fields], (patterns != MISSING).any(axis=0))
    u, iterations = _household_pass(patterns, counts, fields, prior, teachers)
    family = {c for c in teachers if u[c][0] >= FAMILY_FIELD_SHARE}
    if family and len(family) < len(teachers):
        u, more = _household_pass(patterns, counts, fields, prior, [c for c in teachers if c not in family])
        iterations += more
    return u, iterations


def _household_pass(
    patterns: np.ndarray,
    counts: np.ndarray,
    fields: list[FieldWeights],
    prior: list[np.ndarray],
    teachers: list[int],
) -> tuple[list[np.ndarray], int]:
    """One estimate of the household u, with the given fields as judges."""
    evidence = np.zeros((len(patterns), len(fields)))
    for column in teachers:
        level = patterns[:, column]
        present = level != MISSING
        evidence[present, column] = np.log(fields[column].m[level[present]] / fields[column].u[level[present]])
    judged = patterns != MISSING
    u, iterations = [], 0
    for column, weights in enumerate(fields):
        judges = [c for c in teachers if c != column] or teachers
        log_ratio = evidence[:, judges].sum(axis=1)
        informed = counts * judged[:, judges].any(axis=1)
        share = 0.5
        posterior = np.zeros(len(patterns))
        for _ in range(MAX_ITERATIONS):
            iterations += 1
            posterior = 1.0 / (1.0 + np.exp(-np.clip(np.log(share) - np.log1p(-share) + log_ratio, -700, 700)))
            new_share = float(np.clip((informed * posterior).sum() / max(informed.sum(), 1e-12), 1e-9, 1 - 1e-9))
            if abs(new_share - share) < TOLERANCE:
                break
            share = new_share
        unmatched = informed * (1.0 - posterior)
        level = patterns[:, column]
        present = level != MISSING
        seen = np.bincount(level[present], unmatched[present], minlength=len(weights.m)).astype(np.float64)
        counted = seen + PRIOR_STRENGTH * prior[column] + 1e-12
        u.append(counted / counted.sum())
    return u, iterations


def _learn_households(
    prepared: list[PreparedField], fields: list[FieldWeights], order: np.ndarray, rng: np.random.Generator
) -> tuple[tuple[int, ...], float, int]:
    """Household weights of every field (in place) and the evidence of sharing a household at all.

    Events (a table with a `datetime` field) have no households: an address they share is where the
    event happened, the very thing their reports have in common."""
    columns = tuple(c for c, f in enumerate(prepared) if f.kind in HOUSEHOLD_KINDS)
    if not columns or event_kinds.has_time_windows(prepared):
        return (), 0.0, 0
    n = len(order)
    encoded = distinct(
        np.concatenate(
            [pairs_within_blocks(prepared[c].codes.astype(np.int64)[order], TRAINING_MAX_BLOCK) for c in columns]
        )
    )
    if len(encoded) < MIN_SESSION_PAIRS:
        return (), 0.0, 0
    if len(encoded) > SESSION_PAIRS:
        encoded = encoded[np.sort(rng.choice(len(encoded), SESSION_PAIRS, replace=False))]
    left, right = order[encoded // n], order[encoded % n]
    given_random = max(_household_share(prepared, columns), 1.0 / max(n * (n - 1), 2))
    prior = [f.u.copy() for f in fields]
    for column in columns:
        exact = min(_agreeing_share(_exact_key(prepared, (column,))) / given_random, 1 - 1e-6)
        rest = prior[column][1:]
        prior[column] = np.r_[exact, (1 - exact) * rest / rest.sum()]
    patterns, counts = _distinct_patterns(compare(prepared, left, right))
    u, iterations = _household_u(patterns, counts, fields, prior)
    for weights, household_u in zip(fields, u, strict=True):
        weights.u_household = household_u
        weights.m_household = monotone(weights.m, household_u)
    present = [float((prepared[c].codes >= 0).mean()) for c in columns]
    shared_m = [float(fields[c].m[: HOUSEHOLD_LEVEL[fields[c].kind] + 1].sum()) for c in columns]
    given_match = 1.0 - float(np.prod([1.0 - m * p * p for m, p in zip(shared_m, present, strict=True)]))
    for column, share in zip(columns, present, strict=True):
        given_random += float(fields[column].u[1 : HOUSEHOLD_LEVEL[fields[column].kind] + 1].sum()) * share * share
    return columns, float(np.log2(max(given_match, 1e-9) / given_random)), iterations


def match_share(base: np.ndarray, total_pairs: float) -> float:
    """The prior at which the expected matches among all pairs equal the summed match probabilities
    of the candidate pairs (the other pairs count as non-matches); solved by bisection in log-odds."""
    floor = 1.0 / max(total_pairs, 2.0)
    if len(base) == 0:
        return floor
    bins, counts = np.unique(np.round(base, 2), return_counts=True)

    def excess(t: float) -> float:
        probability = 1.0 / (1.0 + np.exp2(-np.clip(bins + t, -60, 60)))
        return float((counts * probability).sum() - total_pairs / (1.0 + 2.0 ** (-t)))

    low, high = float(np.log2(floor)), 0.0
    if excess(low) <= 0:
        return floor
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) > 0 else (low, middle)
    return float(1.0 / (1.0 + 2.0 ** (-low)))


def train(prepared: list[PreparedField], order: np.ndarray | None = None) -> Model:
    """u from random pairs, m by EM on the training blockings, household weights; the prior match
    share is set afterwards from the candidate pairs (fit_match_share)."""
    n = len(prepared[0].codes) if prepared else 0
    order = np.arange(n) if order is None else order
    rng = np.random.default_rng(SEED)
    kinds = [f.kind for f in prepared]
    u = [random_u(f, order, rng) for f in prepared]
    person, fallback = training_sessions(prepared)
    # In a blocking on a birth date, twins share the family name too: it is no judge there.
    family = family_name_fields(prepared)
    learned: dict[int, list[tuple[np.ndarray, float, str]]] = {c: [] for c in range(len(prepared))}
    sessions: dict[str, int] = {}
    iterations = 0
    for session in person + fallback:
        embedded = frozenset().union(*(EMBEDDED_IN.get(kinds[c], frozenset()) for c in session.blocked))
        teaches = [c for c in range(len(prepared)) if c not in session.blocked and kinds[c] not in embedded]
        if session in fallback and all(learned[c] for c in teaches):
            continue
        key = _block_key(prepared, session.blocked) if session.key is None else session.key
        pair_left, pair_right = _session_pairs(key, order, rng)
        if len(pair_left) < MIN_SESSION_PAIRS or not teaches:
            continue
        sessions[session.label] = len(pair_left)
        taught = [prepared[c] for c in teaches]
        patterns, counts = _distinct_patterns(compare(taught, pair_left, pair_right))
        twins_share = bool(session.blocked) and all(kinds[c] == "date" for c in session.blocked)
        no_judges = frozenset(p for p, c in enumerate(teaches) if c in family) if twins_share else frozenset()
        result = _session_em(patterns, counts, [f.kind for f in taught], [u[c] for c in teaches], no_judges)
        iterations += result.iterations
        for position, column in enumerate(teaches):
            if session in fallback and learned[column]:
                continue
            learned[column].append((result.m[position], result.evidence[position], session.label))
    fields = []
    for column, data in enumerate(prepared):
        taught_by = [entry for entry in learned[column] if entry[1] > 0]
        if taught_by:
            evidence = np.array([entry[1] for entry in taught_by])
            m = np.average(np.vstack([entry[0] for entry in taught_by]), axis=0, weights=evidence)
            m = monotone(bounded(m, kinds[column]), u[column])
        else:
            m = monotone(_prior_m(kinds[column]), u[column])
        labels = tuple(entry[2] for entry in taught_by)
        fields.append(FieldWeights(data.name, data.kind, m, u[column], _tf_adjustment(data), labels))
    household_columns, household_weight, household_iterations = _learn_households(prepared, fields, order, rng)
    iterations += household_iterations
    return Model(fields, 1.0 / max(n, 2), iterations, sessions, household_columns, household_weight)


def fit_match_share(
    model: Model, prepared: list[PreparedField], levels: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """Set the model's prior from the candidate pairs; returns their total match weights."""
    n = len(prepared[0].codes) if prepared else 0
    base = model.contributions(prepared, levels, left).sum(axis=1) if len(left) else np.empty(0)
    model.match_share = match_share(base, n * (n - 1) / 2)
    return model.prior_weight + base


def record_order(keys: np.ndarray) -> np.ndarray:
    """Positions of the records sorted by a stable key of their identity (for order-free sampling)."""
    return np.argsort(keys, kind="stable")

