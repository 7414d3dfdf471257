"""Estimation on a census/tax-style sample where a field would judge its own training pairs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dedup.blocking import pairs_within_blocks
from dedup.compare import compare
from dedup.identity import mark_contradicting_ids
from dedup.model import train
from dedup.prepare import prepare


@pytest.fixture(scope="module")
def census_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[str, str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is not an installed package
    from benchmarks.generators import census
    from pipelines.link_command import load_link_config, source_records

    made = census.generate(5000, 1, tmp_path_factory.mktemp("census"), "us")
    config = load_link_config(made.config)
    fields = {str(k): str(v) for k, v in config["fields"].items()}
    records = pd.concat(
        [source_records(n, s, made.config.parent, fields) for n, s in config["sources"].items()], ignore_index=True
    )
    truth = pd.read_csv(made.truth, dtype=str)
    person = dict(zip(truth["source"] + "|" + truth["record_id"], truth["person_id"], strict=True))
    records["truth"] = (records["source"].astype(str) + "|" + records["record_id"].astype(str)).map(person)
    return records, fields


def test_the_birth_date_weight_is_learned_from_pairs_other_fields_judge(
    census_sample: tuple[pd.DataFrame, dict[str, str]],
) -> None:
    """Pairs blocked on a full name where only the birth date can judge (a census record and a
    register entry without SSN) hold namesakes and a father and son of one name: judged by the birth
    date alone, they taught that one person's birth dates often differ (m about 0.1, a different
    date weighing about -3.5). Taught by the pairs other fields judge (the same SSN), the learned
    share of matches with a different birth date stays near the one the truth shows."""
    records, fields = census_sample
    prepared = mark_contradicting_ids(prepare(records, fields))
    model = train(prepared)
    birth = next(f for f in model.fields if f.name == "birth")
    encoded = pairs_within_blocks(pd.factorize(records["truth"])[0].astype(np.int64), 1000)
    left, right = encoded // len(records), encoded % len(records)
    levels = compare([next(f for f in prepared if f.name == "birth")], left, right)[:, 0]
    true_share = float((levels[levels >= 0] == len(birth.m) - 1).mean())
    assert true_share < 0.01
    assert birth.m[-1] < 3 * true_share  # was 0.085 when the date judged its own pairs
    assert birth.weights[-1] < -6  # was -3.5



def _twin_households(households: int = 300) -> pd.DataFrame:
    """Twins in every household (one surname, address and birth date, two given names), each twin
    filed twice, once with the SSN; a few given names misspelled."""
    rng = np.random.default_rng(7)
    given = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karl", "Lena"]
    surnames = [f"{a}{b}" for a in ("Berg", "Wald", "Feld", "Stein", "Bach") for b in ("er", "mann", "hof", "ner")]
    rows = []
    for h in range(households):
        surname, street = surnames[h % len(surnames)], f"{h + 1} Main Street"
        born = f"19{rng.integers(40, 99)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        for twin, first in enumerate(rng.choice(given, 2, replace=False)):
            person, ssn = f"h{h}t{twin}", f"{rng.integers(10**8, 10**9)}"
            for copy in range(2):
                name = first if rng.random() > 0.05 else first[::-1]
                rows.append(
                    {"source": "s", "record_id": f"{person}c{copy}", "truth": person, "first_name": name,
                     "last_name": surname, "dob": born, "ssn": ssn if copy else "", "address": street}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_twins_do_not_teach_that_one_persons_given_names_differ() -> None:
    """Pairs blocked on a birth date are twins here, and twins share the family name: judged by it,
    they taught that a different given name is common among matches. In a date blocking the family
    name (found from the households) is no judge."""
    records = _twin_households()
    fields = {"first_name": "name", "last_name": "name", "dob": "date", "ssn": "identifier", "address": "address"}
    first = next(f for f in train(mark_contradicting_ids(prepare(records, fields))).fields if f.name == "first_name")
    assert first.weights[-1] < -4  # was -0.5: two given names counted as one person
