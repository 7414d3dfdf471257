"""The census-tax generator: consistent truth, deterministic by seed, and the shape it promises."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.generators import census
from benchmarks.generators.common import GeneratedSet
from pipelines.link_command import load_link_config, run_link


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def us(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSet:
    return census.generate(600, 5, tmp_path_factory.mktemp("census-us"))


def test_truth_names_every_record_once_and_nothing_else(us: GeneratedSet) -> None:
    truth = _read(us.truth)
    assert not truth.duplicated(["source", "record_id"]).any()
    for source, file_name, id_column in (
        ("census", "census.csv", "RecordID"),
        ("ssa", "ssa.csv", "record_no"),
        ("tax", "tax.csv", "form_id"),
    ):
        ids = _read(us.folder / file_name)[id_column]
        assert ids.is_unique
        assert sorted(ids) == sorted(truth.loc[truth["source"] == source, "record_id"])
        assert us.records[source] == len(ids)


def test_same_seed_same_files_other_seed_other_files(us: GeneratedSet, tmp_path: Path) -> None:
    again = census.generate(600, 5, tmp_path / "again")
    other = census.generate(600, 6, tmp_path / "other")
    for name in ("census.csv", "ssa.csv", "tax.csv", "truth.csv", "link.yaml"):
        assert (again.folder / name).read_bytes() == (us.folder / name).read_bytes()
    assert (other.folder / "census.csv").read_bytes() != (us.folder / "census.csv").read_bytes()


def test_the_census_holds_no_ssn(us: GeneratedSet) -> None:
    frame = _read(us.folder / "census.csv")
    assert not any("ssn" in column.lower() for column in frame.columns)
    ssn_like = re.compile(r"^\d{3}-?\d{2}-?\d{4}$")
    assert not frame.drop(columns=["Phone"]).map(lambda cell: bool(ssn_like.match(cell))).any().any()
    assert _read(us.folder / "ssa.csv")["ssn"].str.fullmatch(r"\d{9}").all()


def test_households_share_surname_address_and_some_a_phone() -> None:
    households = census._households(400, random.Random(2), census.US, chain=False)
    families = [members for members in households if len(members) > 1]
    assert families
    for members in families:
        assert len({member.last for member in members}) == 1
        assert len({tuple(member.addresses) for member in members}) == 1
    shared_phone = [m for m in families if len({member.phone for member in m}) < len(m)]
    assert len(shared_phone) > 0.4 * len(families)


def test_dates_are_month_first_in_the_census_and_compact_in_ssa(us: GeneratedSet) -> None:
    census_dates = _read(us.folder / "census.csv")["BirthDate"]
    written = census_dates[census_dates != ""]
    assert written.str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()
    assert (written.str[3:5].astype(int) > 12).any()
    assert not (written.str[:2].astype(int) > 12).any()
    ssa_dates = _read(us.folder / "ssa.csv")["dob"]
    assert ssa_dates[ssa_dates != ""].str.fullmatch(r"(19|20)\d{6}").all()


def test_several_records_per_person_nicknames_and_moves(us: GeneratedSet) -> None:
    truth = _read(us.truth)
    tax = _read(us.folder / "tax.csv").merge(truth, left_on="form_id", right_on="record_id")
    assert tax["person_id"].value_counts().max() >= 3
    assert truth[truth["source"] == "census"]["person_id"].duplicated().any()
    numbers = tax.assign(number=tax["street"].str.extract(r"^(\d+)")[0])
    moved = numbers.groupby("person_id")["number"].nunique()
    assert (moved > 1).any()
    ssa = _read(us.folder / "ssa.csv").merge(truth, left_on="record_no", right_on="record_id")
    census_rows = _read(us.folder / "census.csv").merge(truth, left_on="RecordID", right_on="record_id")
    both = census_rows.merge(ssa, on="person_id")
    nicknames = {nick: formal.upper() for formal, nicks in census.US.nicknames.items() for nick in nicks}
    by_nickname = both[both["FirstName"].map(nicknames).notna()]
    assert (by_nickname["FirstName"].map(nicknames) == by_nickname["given_name"].str.split().str[0]).any()


def test_european_variant_writes_day_first_dotted_dates(tmp_path: Path) -> None:
    made = census.generate(300, 1, tmp_path, region="eu")
    dates = _read(made.folder / "census.csv")["BirthDate"]
    written = dates[dates != ""]
    assert written.str.fullmatch(r"\d{2}\.\d{2}\.\d{4}").all()
    assert (written.str[:2].astype(int) > 12).any()


def test_european_tax_forms_are_partly_ascii_beside_diacritics_elsewhere(tmp_path: Path) -> None:
    made = census.generate(600, 1, tmp_path, region="eu")
    census_names = " ".join(_read(made.folder / "census.csv")["LastName"])
    tax_names = " ".join(_read(made.folder / "tax.csv")["last"])
    assert "ü" in census_names.lower() and "ue" in tax_names.lower()
    assert census._ascii("Müller Dvořák Hélène Strauß") == "Mueller Dvorak Helene Strauss"


def test_chained_households_are_large_and_have_few_distinguishing_fields(us: GeneratedSet, tmp_path: Path) -> None:
    chained = census.generate(600, 5, tmp_path, chain_households=True)

    def per_home(made: GeneratedSet) -> float:
        frame = _read(made.folder / "census.csv").merge(_read(made.truth), left_on="RecordID", right_on="record_id")
        frame["home"] = frame["Address"].str.lower().str.extract(r"^(\d+ \w+)")[0] + frame["City"]
        return float(frame.groupby("home")["person_id"].nunique().mean())

    assert per_home(chained) > 2 * per_home(us)
    births = _read(chained.folder / "census.csv")["BirthDate"]
    assert (births == "").mean() > 0.5


def test_its_config_names_real_columns_and_hub_link_runs_on_it(tmp_path: Path) -> None:
    made = census.generate(150, 3, tmp_path)
    config = load_link_config(made.config)
    assert config["fields"]["first_name"] == "name" and config["fields"]["last_name"] == "name"
    for spec in config["sources"].values():
        header = set(_read(made.folder / spec["path"]).columns)
        assert {spec["id"], *(spec.get("columns") or {})} <= header
    summary = run_link(made.config, tmp_path / "clusters.csv")
    clusters = _read(tmp_path / "clusters.csv")
    assert len(clusters) == sum(made.records.values())
    assert any(line.startswith("date format census.birth: month-first") for line in summary.lines())
