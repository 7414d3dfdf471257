"""The Chinese generator: GB18030 files with pinyin headers, its own noise, and the ID variant's errors."""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.generators import chinese
from benchmarks.generators.common import GeneratedSet
from pipelines.link_command import load_link_config, run_link
from schemas.normalize.dates import normalize_date

FILES = {"jmda": ("jmda.csv", "XH"), "wsy": ("wsy.csv", "BH"), "lnbt": ("lnbt.csv", "DJH")}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(path.read_bytes().decode("gb18030")), dtype=str, keep_default_na=False)


def _with_truth(made: GeneratedSet, source: str) -> pd.DataFrame:
    file_name, id_column = FILES[source]
    truth = pd.read_csv(made.truth, dtype=str, keep_default_na=False)
    return _read(made.folder / file_name).merge(
        truth[truth["source"] == source], left_on=id_column, right_on="record_id", validate="one_to_one"
    )


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSet:
    return chinese.generate(800, 4, tmp_path_factory.mktemp("chinese"))


@pytest.fixture(scope="module")
def with_ids(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSet:
    return chinese.generate(800, 4, tmp_path_factory.mktemp("chinese-ids"), with_ids=True)


def test_files_are_gb18030_with_pinyin_headers_and_no_ids(plain: GeneratedSet) -> None:
    raw = (plain.folder / "jmda.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert list(_read(plain.folder / "jmda.csv").columns) == ["XH", "XM", "XB", "CSRQ", "MZ", "LXDH", "JZDZ", "YHZGX"]
    assert list(_read(plain.folder / "wsy.csv").columns) == ["BH", "XM", "XB", "CSRQ", "SJHM", "XZZ"]
    for file_name, _ in FILES.values():
        frame = _read(plain.folder / file_name)
        assert not frame.map(lambda cell: len(cell) >= 15 and cell[:17].isdigit()).any().any()


def test_truth_is_consistent_and_seeded(plain: GeneratedSet, tmp_path: Path) -> None:
    truth = pd.read_csv(plain.truth, dtype=str, keep_default_na=False)
    assert not truth.duplicated(["source", "record_id"]).any()
    for source in FILES:
        assert len(_with_truth(plain, source)) == plain.records[source] == (truth["source"] == source).sum()
    again = chinese.generate(800, 4, tmp_path)
    for name in ("jmda.csv", "wsy.csv", "lnbt.csv", "truth.csv"):
        assert (again.folder / name).read_bytes() == (plain.folder / name).read_bytes()


def test_twice_the_noise_gives_more_missing_values(tmp_path: Path) -> None:
    def missing_sexes_and_ids(noise: float) -> tuple[int, int]:
        made = chinese.generate(800, 4, tmp_path / str(noise), with_ids=True, noise=noise)
        roster = _read(made.folder / "jmda.csv")
        return int((roster["XB"] == "").sum()), int((roster["SFZH"] == "").sum())

    normal, noisy = missing_sexes_and_ids(1.0), missing_sexes_and_ids(2.0)
    assert noisy[0] > 1.5 * normal[0] and noisy[1] > 1.5 * normal[1]


def test_newborns_under_their_mothers_name_and_swapped_or_homophone_names(plain: GeneratedSet) -> None:
    clinic = _with_truth(plain, "wsy")
    roster = _with_truth(plain, "jmda")
    placeholders = clinic[clinic["XM"].str.endswith(("之子", "之女"))]
    assert len(placeholders) > 0
    named = placeholders.merge(roster, on="person_id", suffixes=("_wsy", "_jmda"))
    assert not named.empty and not (named["XM_wsy"] == named["XM_jmda"]).any()
    pairs = clinic.merge(roster, on="person_id", suffixes=("_wsy", "_jmda"))
    same_length = pairs[(pairs["XM_wsy"].str.len() == 3) & (pairs["XM_jmda"].str.len() == 3)]
    swapped = same_length[
        (same_length["XM_wsy"] != same_length["XM_jmda"])
        & (same_length["XM_wsy"].str[1:] == same_length["XM_jmda"].str[1:].str[::-1])
    ]
    assert len(swapped) > 0
    traditional = set(chinese.TRADITIONAL.values())
    assert pairs["XM_wsy"].map(lambda name: any(char in traditional for char in name)).any()


def test_households_share_an_address_and_the_elderly_list_holds_only_the_old(plain: GeneratedSet) -> None:
    families = chinese._families(300, random.Random(1))
    assert any(len(members) >= 3 for members in families)
    for members in families:
        assert len({member.home for member in members}) == 1
    subsidy = _read(plain.folder / "lnbt.csv")
    assert (subsidy["NL"].astype(int) >= 60).all()


def _id_birth(id_no: str) -> dt.date | None:
    try:
        return dt.date(int(id_no[6:10]), int(id_no[10:12]), int(id_no[12:14]))
    except ValueError:
        return None


def test_the_id_variant_holds_the_errors_registers_hold(with_ids: GeneratedSet) -> None:
    roster = _with_truth(with_ids, "jmda")
    subsidy = _with_truth(with_ids, "lnbt")
    valid = roster[roster["SFZH"].str.len() == 18]
    check_ok = valid["SFZH"].str.upper().map(lambda n: n[17] == chinese.id_check_character(n[:17]))
    assert check_ok.mean() > 0.95
    everyone = pd.concat(
        [roster.rename(columns={"SFZH": "id"}), _with_truth(with_ids, "wsy").rename(columns={"ZJHM": "id"})]
    )
    ids = everyone[everyone["id"] != ""]
    shared = ids.assign(id=ids["id"].str.upper()).groupby("id")["person_id"].nunique()
    assert (shared > 1).any(), "a family member's ID on another person's record"
    damaged = subsidy["SFZHM"]
    assert damaged.str.contains("E+17", regex=False).any()
    assert (damaged.str.fullmatch(r"\d{15}000")).any()
    full = subsidy[subsidy["SFZHM"].str.fullmatch(r"\d{17}[\dXx]")]
    gaps = []
    for id_no, written in zip(full["SFZHM"], full["CSRQ"], strict=True):
        birth, recorded = _id_birth(id_no), normalize_date(written).value
        if birth and recorded:
            gaps.append((birth - dt.date.fromisoformat(recorded)).days)
    assert any(20 <= gap <= 50 for gap in gaps), "a lunar birthday beside the true ID"
    assert list(_read(with_ids.folder / "jmda.csv").columns)[:3] == ["XH", "XM", "SFZH"]


def test_its_configs_name_real_columns_and_hub_link_reads_gb18030(tmp_path: Path) -> None:
    for flag in (False, True):
        made = chinese.generate(120, 2, tmp_path / str(flag), with_ids=flag)
        config = load_link_config(made.config)
        assert ("id_no" in config["fields"]) is flag
        for spec in config["sources"].values():
            assert {spec["id"], *spec["columns"]} <= set(_read(made.folder / spec["path"]).columns)
        run_link(made.config, made.folder / "clusters.csv")
        assert len(pd.read_csv(made.folder / "clusters.csv")) == sum(made.records.values())
