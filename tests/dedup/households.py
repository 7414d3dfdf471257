"""A tiny census/tax style population where families dominate the candidate pairs.

Every household shares a surname, an address and a landline; parents and children differ in given
name, birth date, sex and social security number, except that some children are twins (same birth
date). Three sources: a census that lists every member
once (no SSN), and two tax-style files that hold a person several times (one record per filing year)
with the SSN. Entry noise: typos in names and dates, missing values, addresses written two ways. It
exists to reproduce, in a test, an engine that learns "same household" instead of "same person".
"""

from __future__ import annotations

import random

import pandas as pd

FIELDS = {
    "first_name": "name",
    "last_name": "name",
    "dob": "date",
    "ssn": "identifier",
    "sex": "exact",
    "phone": "phone",
    "address": "address",
}

_SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
]  # fmt: skip
_MALE = [
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul", "Andrew", "Joshua", "Kevin", "Brian",
    "Jose", "Carlos", "Luis", "Ryan", "Jason", "Eric", "Jacob", "Tyler", "Aaron", "Adam",
]  # fmt: skip
_FEMALE = [
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Lisa", "Nancy", "Betty", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Maria", "Laura",
    "Rosa", "Ana", "Emma", "Olivia", "Sophia", "Amy", "Angela", "Helen", "Anna", "Ruth",
]  # fmt: skip
_STREETS = ["Oak", "Maple", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Main", "Church", "River"]
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
TWIN_SHARE = 0.15


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    at = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.4:
        return text[:at] + rng.choice(_LETTERS) + text[at + 1 :]
    if kind < 0.7:
        return text[:at] + text[at + 1 :]
    return text[:at] + text[at + 1] + text[at] + text[at + 2 :]


def _date_typo(rng: random.Random, iso: str) -> str:
    year, month, day = iso.split("-")
    if rng.random() < 0.5 and int(day) <= 12:
        return f"{year}-{day}-{month}"
    return f"{year}-{month}-{min(28, max(1, int(day) + rng.choice([-1, 1]))):02d}"


def _household(rng: random.Random, number: int, ssns: set[int]) -> list[dict[str, str]]:
    surname = rng.choice(_SURNAMES)
    address = f"{rng.randint(1, 9999)} {rng.choice(_STREETS)} St"
    phone = f"555{rng.randint(0, 9999999):07d}"
    members = []
    parent_year = rng.randint(1950, 1985)
    sizes = [1, 2, 2, 3, 4, 4, 5, 6]
    size = rng.choice(sizes)
    taken: set[str] = set()
    for position in range(size):
        sex = "M" if (position == 0) or (position > 1 and rng.random() < 0.5) else "F"
        if position == 1:
            sex = "F"
        first = rng.choice([name for name in (_MALE if sex == "M" else _FEMALE) if name not in taken])
        taken.add(first)
        year = parent_year + rng.randint(-3, 3) if position < 2 else parent_year + rng.randint(20, 38)
        dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if position == 3 and rng.random() < TWIN_SHARE:
            dob = members[2]["dob"]
        ssn = rng.randint(100000000, 899999999)
        while ssn in ssns:
            ssn = rng.randint(100000000, 899999999)
        ssns.add(ssn)
        members.append(
            {
                "person": f"h{number}p{position}",
                "first_name": first,
                "last_name": surname,
                "dob": dob,
                "ssn": f"{ssn:09d}",
                "sex": sex,
                "phone": phone,
                "address": address,
            }
        )
    return members


def _entry(rng: random.Random, person: dict[str, str], with_ssn: bool) -> dict[str, str]:
    row = {field: person[field] for field in FIELDS}
    if not with_ssn:
        row["ssn"] = ""
    elif rng.random() < 0.02:
        row["ssn"] = _typo(rng, row["ssn"])
    if rng.random() < 0.06:
        row["first_name"] = _typo(rng, row["first_name"])
    if rng.random() < 0.04:
        row["last_name"] = _typo(rng, row["last_name"])
    if rng.random() < 0.04:
        row["dob"] = _date_typo(rng, row["dob"])
    if rng.random() < 0.3:
        row["address"] = row["address"].replace(" St", " Street").upper()
    for field in ("phone", "sex", "dob"):
        if rng.random() < 0.05:
            row[field] = ""
    return row


def household_records(households: int = 250, seed: int = 1) -> pd.DataFrame:
    """Records of three sources with a `truth` column (the person each record belongs to)."""
    rng = random.Random(seed)
    ssns: set[int] = set()
    people = [member for number in range(households) for member in _household(rng, number, ssns)]
    rows = []
    for index, person in enumerate(people):
        if rng.random() < 0.9:
            record = _entry(rng, person, False)
            rows.append({"source": "census", "record_id": f"c{index}", "truth": person["person"], **record})
        for source in ("tax", "benefits"):
            for year in range(rng.choice([0, 1, 1, 2, 3])):
                record = _entry(rng, person, True)
                record_id = f"{source[0]}{index}y{year}"
                rows.append({"source": source, "record_id": record_id, "truth": person["person"], **record})
    return pd.DataFrame(rows)
