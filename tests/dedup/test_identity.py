"""Identifiers that the record's own evidence contradicts: a household member's number on a form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dedup.engine import link
from dedup.identity import family_name_fields, mark_contradicting_ids
from dedup.prepare import prepare
from tests.dedup.households import FIELDS, household_records


def _spouse_number_on_forms(records: pd.DataFrame, forms: int = 12) -> tuple[pd.DataFrame, list[int]]:
    """A copy where, in `forms` households, one tax form of the second member carries the head's SSN
    (a joint return) and, as tax forms do, no birth date or sex; the rows changed."""
    records = records.copy()
    changed = []
    for household in records["truth"].str.split("p").str[0].unique():
        head = records[(records["truth"] == f"{household}p0") & (records["ssn"] != "")]
        spouse_forms = records[(records["truth"] == f"{household}p1") & (records["source"] == "tax")]
        if len(head) >= 2 and len(spouse_forms) >= 2:
            row = int(spouse_forms.index[0])
            records.loc[row, "ssn"] = head["ssn"].mode().iloc[0]
            records.loc[row, ["dob", "sex"]] = ""
            changed.append(row)
        if len(changed) == forms:
            break
    return records, changed


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return household_records(households=200, seed=5)


def test_the_shared_surname_is_found_from_the_households(records: pd.DataFrame) -> None:
    prepared = prepare(records, FIELDS)
    names = [field.name for field in prepared]
    assert family_name_fields(prepared) == {names.index("last_name")}


def test_a_household_members_number_is_suspect_and_its_owners_records_are_not(records: pd.DataFrame) -> None:
    changed_records, changed = _spouse_number_on_forms(records)
    assert len(changed) >= 8
    prepared = mark_contradicting_ids(prepare(changed_records, FIELDS))
    suspect = next(field for field in prepared if field.name == "ssn").suspect
    assert suspect is not None
    assert suspect[changed].all()
    owners = changed_records["ssn"].isin(changed_records.loc[changed, "ssn"]).to_numpy().copy()
    owners[changed] = False
    assert suspect[owners].mean() < 0.1
    untouched = mark_contradicting_ids(prepare(records, FIELDS))
    assert next(field for field in untouched if field.name == "ssn").suspect.mean() < 0.01  # type: ignore[union-attr]


def test_a_married_name_or_names_written_crosswise_keep_the_number(records: pd.DataFrame) -> None:
    """A family name that changes (marriage) or a given name written in the family-name field and
    back is the same person: the number stays evidence."""
    changed = records.copy()
    holders = changed[changed["ssn"] != ""].groupby("ssn").filter(lambda group: len(group) >= 3)
    rows = holders.groupby("ssn").head(1).index[:20]
    married, crosswise = rows[:10], rows[10:]
    changed.loc[married, "last_name"] = "Featherstonehaugh"
    changed.loc[crosswise, ["first_name", "last_name"]] = changed.loc[crosswise, ["last_name", "first_name"]].to_numpy()
    prepared = mark_contradicting_ids(prepare(changed, FIELDS))
    suspect = next(field for field in prepared if field.name == "ssn").suspect
    assert suspect is not None
    assert not suspect[married].any()
    assert not suspect[crosswise].any()


def test_a_form_with_a_spouses_number_still_merges_with_its_owner(records: pd.DataFrame) -> None:
    changed_records, changed = _spouse_number_on_forms(records)
    result = link(changed_records, FIELDS)
    clusters = result.clusters["cluster_id"].to_numpy()
    truth = changed_records["truth"].to_numpy()
    with_owner = [
        clusters[row] in set(clusters[(truth == truth[row]) & (np.arange(len(truth)) != row)]) for row in changed
    ]
    with_spouse = [
        clusters[row] in set(clusters[truth == truth[row].replace("p1", "p0")]) for row in changed
    ]
    assert np.mean(with_owner) >= 0.9
    assert not any(with_spouse)


def test_a_number_whose_records_agree_on_the_birth_date_is_kept_without_households() -> None:
    """Without address or phone there is no telling which name field is the family's, so every name
    field judges; a record whose surname was mistyped or changed but whose birth date agrees with
    the number's other records is the same person, while one whose given name and birth year both
    differ is another."""
    records = pd.DataFrame(
        {
            "given": ["Leah", "Leah", "Leah", "Adam", "Adam", "Adam", "Oliver"],
            "family": ["Eisele", "Eisele", "Jakimow", "Moss", "Moss", "Moss", "Moss"],
            "dob": ["1950-01-02", "1950-01-02", "1950-01-02", "1961-05-06", "1961-05-06", "", "1990-07-08"],
            "ssn": ["111222333", "111222333", "111222333", "444555666", "444555666", "444555666", "444555666"],
        }
    )
    fields = {"given": "name", "family": "name", "dob": "date", "ssn": "identifier"}
    suspect = next(f for f in mark_contradicting_ids(prepare(records, fields)) if f.name == "ssn").suspect
    assert suspect is not None
    assert suspect.tolist() == [False, False, False, False, False, False, True]
