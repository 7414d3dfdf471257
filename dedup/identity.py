"""Which national ID numbers identify their record's person, and which only look like they do.

A valid GB 11643 number carries a birth date and a sex. When the record it sits on says otherwise,
the number is more likely a relative's (a child filed under a parent's number) or an entry error
than the record's own, so it is *suspect*: agreement on it counts less, and it never keeps two
records apart. Which field holds the birth date and which the sex is read from the data (the date
field that mostly agrees with the numbers; an exact field whose values split by the number's sex
digit), so nothing depends on column names. A number ending in 000 is suspect too: a spreadsheet
that held it as a number kept 15 digits, and a tenth of such numbers still pass their check.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from dedup.blocking import pairs_within_blocks
from dedup.compare import (
    NAME_DIFFERENT,
    NAME_KNOWN_VARIANT,
    cn_id_cores,
    compare_field,
    date_contradicts,
    levels_of_values,
)
from dedup.prepare import PreparedField

BIRTH_FIELD_MIN_AGREEMENT = 0.5
SEX_VALUE_MIN_SHARE = 0.9
SEX_FIELD_MIN_COVERAGE = 0.9
SEX_VALUE_MIN_RECORDS = 5
TRUNCATED_ENDING = "000"
# Records sharing an address or phone, compared to find the family name field (blocks up to this size).
FAMILY_BLOCK = 20
# A family name agrees among a household's records at least this many times as often as a given name.
FAMILY_MARGIN = 1.5
# Records of one number compared with each other (more holders than this: the number is no identity
# anyway, and the blocking leaves it alone).
MAX_HOLDERS = 50
# Birth dates of different years: two people; the same or one slip apart: one (date levels).
DATE_DIFFERENT, DATE_SLIP = 3, 1


def _births(values: np.ndarray) -> np.ndarray:
    """ISO birth date inside each 18-character number ('' when the value is shorter)."""
    text = pd.Series(values, dtype="string")
    iso = text.str.slice(6, 10) + "-" + text.str.slice(10, 12) + "-" + text.str.slice(12, 14)
    return np.where(text.str.len().to_numpy(dtype=np.int64, na_value=0) >= 18, iso.fillna(""), "").astype(object)


def _male(values: np.ndarray) -> np.ndarray:
    """1 when the sex digit (17th) is odd, 0 when even, -1 when unreadable."""
    digit = pd.to_numeric(pd.Series(values, dtype="string").str.slice(16, 17), errors="coerce")
    return np.where(digit.isna(), -1, digit.fillna(0).astype(np.int64) % 2).astype(np.int64)


def _birth_contradictions(field: PreparedField, dates: list[PreparedField], usable: np.ndarray) -> np.ndarray:
    """Records whose birth date (the date field that mostly agrees with the numbers) contradicts it."""
    births = _births(field.values)
    best: tuple[float, PreparedField | None] = (BIRTH_FIELD_MIN_AGREEMENT, None)
    for date in dates:
        both = usable & (date.codes >= 0)
        if not both.any():
            continue
        agree = date.values[date.codes[both]] == births[field.codes[both]]
        if agree.mean() >= best[0]:
            best = (float(agree.mean()), date)
    chosen = best[1]
    contradicts = np.zeros(len(field.codes), dtype=bool)
    if chosen is None:
        return contradicts
    known = np.flatnonzero(usable & (chosen.codes >= 0))
    differ = known[chosen.values[chosen.codes[known]] != births[field.codes[known]]]
    if len(differ):
        on_record = [str(v) for v in chosen.values[chosen.codes[differ]]]
        in_number = [str(v) for v in births[field.codes[differ]]]
        contradicts[differ] = date_contradicts(on_record, in_number)
    return contradicts


def _sex_contradictions(field: PreparedField, candidates: list[PreparedField], usable: np.ndarray) -> np.ndarray:
    """Records whose sex (an exact field whose values split cleanly by the sex digit) contradicts it."""
    male = _male(field.values)
    record_male = np.where(usable, male[np.maximum(field.codes, 0)], -1)
    best: tuple[float, np.ndarray | None] = (SEX_FIELD_MIN_COVERAGE, None)
    for candidate in candidates:
        known = (record_male >= 0) & (candidate.codes >= 0)
        if not known.any():
            continue
        size = len(candidate.values)
        total = np.bincount(candidate.codes[known], minlength=size)
        males = np.bincount(candidate.codes[known], weights=record_male[known], minlength=size)
        share = males / np.maximum(total, 1)
        frequent = total >= max(SEX_VALUE_MIN_RECORDS, 0.01 * known.sum())
        says_male = frequent & (share >= SEX_VALUE_MIN_SHARE)
        says_female = frequent & (share <= 1 - SEX_VALUE_MIN_SHARE)
        coverage = total[says_male | says_female].sum() / known.sum()
        if says_male.any() and says_female.any() and coverage >= best[0]:
            value_sex = np.where(says_male, 1, np.where(says_female, 0, -1))
            record_sex = np.where(candidate.codes >= 0, value_sex[np.maximum(candidate.codes, 0)], -1)
            best = (float(coverage), np.where(known & (record_sex >= 0), record_sex, -1))
    if best[1] is None:
        return np.zeros(len(field.codes), dtype=bool)
    return (best[1] >= 0) & (best[1] != record_male)


def _spreadsheet_truncated(field: PreparedField) -> np.ndarray:
    """Per value: an 18-digit number ending in 000, the mark of a spreadsheet that kept 15 digits.
    About one such number in eleven still passes its check character; a real number ends so about
    once in a thousand, so the value is no identity either way."""
    text = pd.Series(field.values, dtype="string")
    return (text.str.len().eq(18) & text.str.endswith(TRUNCATED_ENDING)).to_numpy(dtype=bool, na_value=False)


def _agreement_with_holders(
    field: PreparedField, person: PreparedField, others: list[PreparedField], held: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per record among `held`: whether its value of a person field (a given name, a birth date)
    contradicts most of the other records holding the same number, and whether it agrees with most
    of them. A name written in another name field and back (Gray Walter / Walter Gray) agrees."""
    n = len(field.codes)
    against = np.zeros(n, dtype=bool)
    supports = np.zeros(n, dtype=bool)
    present = held[person.codes[held] >= 0]
    encoded = pairs_within_blocks(np.where(np.isin(np.arange(n), present), field.codes, -1), MAX_HOLDERS)
    if len(encoded) == 0:
        return against, supports
    left, right = encoded // n, encoded % n
    level = compare_field(person, left, right)
    if person.kind == "name":
        differs, agrees = level >= NAME_DIFFERENT, level <= NAME_KNOWN_VARIANT
        for other in others:
            rows = np.flatnonzero(differs & (other.codes[left] >= 0) & (other.codes[right] >= 0))
            i, j = left[rows], right[rows]
            across = levels_of_values(person, person.codes[i], other, other.codes[j])
            back = levels_of_values(other, other.codes[i], person, person.codes[j])
            crosswise = rows[(across <= NAME_KNOWN_VARIANT) | (back <= NAME_KNOWN_VARIANT)]
            differs[crosswise], agrees[crosswise] = False, True
    else:
        differs, agrees = level >= DATE_DIFFERENT, level <= DATE_SLIP
    compared = np.bincount(np.r_[left, right], minlength=n)
    against = (compared > 0) & (2 * np.bincount(np.r_[left[differs], right[differs]], minlength=n) > compared)
    supports = (compared > 0) & (2 * np.bincount(np.r_[left[agrees], right[agrees]], minlength=n) > compared)
    return against, supports


def family_name_fields(prepared: list[PreparedField]) -> set[int]:
    """Name fields that the members of a household share (a surname): among records that share an
    address or phone, the name field whose values agree most often, when there are several name
    fields and it agrees clearly more often than the others. Read from the data, not the columns."""
    names = [c for c, f in enumerate(prepared) if f.kind == "name"]
    homes = [f for f in prepared if f.kind in ("address", "phone")]
    if len(names) < 2 or not homes:
        return set()
    encoded = np.concatenate([pairs_within_blocks(f.codes.astype(np.int64), FAMILY_BLOCK) for f in homes])
    n = len(prepared[0].codes)
    left, right = encoded // n, encoded % n
    shares = {}
    for column in names:
        codes = prepared[column].codes
        both = (codes[left] >= 0) & (codes[right] >= 0)
        shares[column] = float((codes[left][both] == codes[right][both]).mean()) if both.any() else 0.0
    best = max(shares, key=shares.__getitem__)
    rest = max(share for column, share in shares.items() if column != best)
    return {best} if shares[best] >= FAMILY_MARGIN * rest else set()


def _identifier_contradictions(field: PreparedField, prepared: list[PreparedField], family: set[int]) -> np.ndarray:
    """Records whose identifier (a number without inner checks: SSN, passport, account number) the
    number's other records give to another person: more of the record's person fields (given name,
    birth date) contradict most of them than agree with most of them (a spouse's SSN on a joint tax
    form; not a record whose surname changed or was mistyped while its given name and birth date
    agree). A family name, where the households tell which field it is, is no judge: a spouse
    shares it, and a married woman's changes."""
    counts = np.bincount(field.codes[field.codes >= 0], minlength=len(field.values))
    held = np.flatnonzero((field.codes >= 0) & (counts[np.maximum(field.codes, 0)] >= 2))
    contradicting = np.zeros(len(field.codes), dtype=np.int64)
    supporting = np.zeros(len(field.codes), dtype=np.int64)
    names = [f for f in prepared if f.kind == "name"]
    for column, person in enumerate(prepared):
        if len(held) and person.kind in ("name", "date") and column not in family:
            others = [f for f in names if f is not person] if person.kind == "name" else []
            against, supports = _agreement_with_holders(field, person, others, held)
            contradicting += against
            supporting += supports
    return contradicting > supporting


def mark_contradicting_ids(prepared: list[PreparedField]) -> list[PreparedField]:
    """Each cn_id field with `suspect` set per record: a valid number that contradicts the record's
    own birth date or sex, or that a spreadsheet may have truncated (ends in 000). Each identifier
    field with `suspect` set where the number's other records say it is another person's."""
    dates = [f for f in prepared if f.kind == "date"]
    exacts = [f for f in prepared if f.kind == "exact"]
    marked = []
    for field in prepared:
        if field.kind == "identifier" and len(field.values):
            family = family_name_fields(prepared)
            marked.append(replace(field, suspect=_identifier_contradictions(field, prepared, family)))
            continue
        if field.kind != "cn_id" or field.valid is None or len(field.values) == 0:
            marked.append(field)
            continue
        usable = (field.codes >= 0) & field.valid[np.maximum(field.codes, 0)]
        suspect = _birth_contradictions(field, dates, usable) | _sex_contradictions(field, exacts, usable)
        suspect |= _spreadsheet_truncated(field)[np.maximum(field.codes, 0)]
        marked.append(replace(field, suspect=suspect & usable))
    return marked


def identity_codes(prepared: list[PreparedField]) -> list[np.ndarray]:
    """Valid national ID numbers identify a person: a code per record, -1 when none is valid.

    Codes are over the number's 15-digit core, so an old number upgraded with a guessed century
    never forbids a merge with the person's new number. A suspect number identifies nobody.
    """
    identities = []
    for data in prepared:
        if data.kind == "cn_id" and data.valid is not None:
            codes = np.full(len(data.codes), -1, dtype=np.int64)
            if len(data.values):
                core_codes = np.asarray(pd.factorize(pd.Series(cn_id_cores(data.values), dtype=object))[0])
                known = data.codes >= 0
                codes[known] = core_codes[data.codes[known]]
                codes[known & ~data.valid[np.maximum(data.codes, 0)]] = -1
            if data.suspect is not None:
                codes[data.suspect] = -1
            identities.append(codes)
    return identities
