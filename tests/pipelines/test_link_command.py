"""`hub link` end to end: CSV and XLSX sources, Latin-script records, and the steward-facing errors."""

from __future__ import annotations

import random
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from dedup import pairwise_scores
from hub_errors import ConfigError
from pipelines.link_command import run_link

FIRST = ["Anna", "Lars", "Maria", "Jonas", "Eva", "Karl", "Sofia", "Erik", "Ida", "Nils", "Ingrid", "Olof"]
LAST = ["Berg", "Lindqvist", "Åström", "Nyström", "Holm", "Sandberg", "Ekström", "Falk", "Wikström", "Dahl"]
STREETS = ["Storgatan", "Kungsvägen", "Ringvägen", "Skolgatan", "Järnvägsgatan", "Parkvägen"]


def _typo(text: str, rng: random.Random) -> str:
    position = rng.randrange(1, len(text))
    return text[:position] + text[position + 1 :]


def _people(count: int) -> list[dict[str, str]]:
    rng = random.Random(4)
    people = []
    for index in range(count):
        people.append(
            {
                "person": f"p{index}",
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "ssn": f"{rng.randrange(10**8, 10**9)}",
                "dob": f"{rng.randrange(1930, 2010)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                "street": f"{rng.choice(STREETS)} {rng.randrange(1, 80)}, {rng.randrange(10000, 99999)} Umeå",
                "email": f"user{index}@example.org",
            }
        )
    return people


def _write_sources(folder: Path, people: int = 300) -> pd.DataFrame:
    """A CSV register and an XLSX register of the same people, with the usual entry errors."""
    rng = random.Random(9)
    truth = []
    register = []
    for person in _people(people):
        register.append(
            {
                "Id": f"R{person['person']}",
                "Full name": person["name"],
                "SSN": person["ssn"],
                "Born": person["dob"],
                "Address": person["street"],
                "Mail": person["email"],
            }
        )
        truth.append(("register", f"R{person['person']}", person["person"]))
    pd.DataFrame(register).to_csv(folder / "register.csv", index=False)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ClientNo", "Surname first", "Personal number", "Date of birth", "Street address"])
    for index, person in enumerate(_people(people)):
        if index % 3 == 0:
            continue
        first, last = person["name"].split(" ")
        name = f"{last} {first}" if index % 2 else _typo(person["name"], rng).upper()
        ssn = "" if index % 5 == 0 else person["ssn"][:3] + "-" + person["ssn"][3:]
        year, month, day = person["dob"].split("-")
        sheet.append([f"C{index:04d}", name, ssn, f"{day}/{month}/{year}", person["street"].replace(",", "")])
        truth.append(("clinic", f"C{index:04d}", person["person"]))
    book.save(folder / "clinic.xlsx")
    return pd.DataFrame(truth, columns=["source", "record_id", "person_id"])


CONFIG = """
sources:
  register: {path: register.csv, id: Id,
             columns: {Full name: name, SSN: personal_no, Born: birth, Address: address, Mail: email}}
  clinic: {path: clinic.xlsx, id: ClientNo,
           columns: {Surname first: name, Personal number: personal_no, Date of birth: birth,
                     Street address: address}}
fields:
  name: name
  personal_no: identifier
  birth: date
  address: address
  email: exact
"""


def test_latin_records_from_csv_and_xlsx_link_well(tmp_path: Path) -> None:
    truth = _write_sources(tmp_path)
    config = tmp_path / "link.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "out" / "clusters.csv"
    summary = run_link(config, out)
    clusters = pd.read_csv(out, dtype=str)
    assert list(clusters.columns) == ["source", "record_id", "cluster_id"]
    assert summary.records == {"register": 300, "clinic": 200}
    assert len(clusters) == 500
    score = pairwise_scores(truth, clusters)
    assert score.precision > 0.97 and score.recall > 0.9, score
    assert any("clusters" in line for line in summary.lines())


def test_hub_link_prints_the_learned_weights_and_the_model_check(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    (tmp_path / "link.yaml").write_text(CONFIG + "  unused: cn_id\n", encoding="utf-8")
    lines = run_link(tmp_path / "link.yaml", tmp_path / "clusters.csv").lines()
    weights = [line for line in lines if line.startswith("  personal_no (identifier): exact +")]
    assert len(weights) == 1 and "different -" in weights[0]
    assert "  unused (cn_id): no values" in lines  # a field empty in every row is reported, not a crash
    assert "model check: passed" in lines
    assert list(pd.read_csv(tmp_path / "clusters.csv", dtype=str).columns) == ["source", "record_id", "cluster_id"]


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("sources:\n  a: {path: nowhere.csv, id: Id}\nfields: {name: name}\n", "file not found"),
        ("sources:\n  a: {path: register.csv, id: Nope}\nfields: {name: name}\n", "id column 'Nope'"),
        ("sources:\n  a: {path: dup.csv, id: Id}\nfields: {name: name}\n", "appears more than once"),
        ("sources:\n  a: {path: register.csv, id: Id}\nfields: {name: surname}\n", "unknown kind 'surname'"),
        ("sources:\n  a: {path: register.csv, id: Id, columns: {Nom: name}}\nfields: {name: name}\n", "Nom"),
        ("fields: {name: name}\n", "sources"),
    ],
)
def test_bad_config_raises_config_error(tmp_path: Path, config_text: str, message: str) -> None:
    pd.DataFrame({"Id": ["1", "2"], "Full name": ["A", "B"]}).to_csv(tmp_path / "register.csv", index=False)
    pd.DataFrame({"Id": ["1", "1"], "Full name": ["A", "B"]}).to_csv(tmp_path / "dup.csv", index=False)
    config = tmp_path / "link.yaml"
    config.write_text(config_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        run_link(config, tmp_path / "out.csv")


def test_missing_config_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        run_link(tmp_path / "absent.yaml", tmp_path / "out.csv")


def clusters_of(tmp_path: Path, config_yaml: str) -> pd.Series:
    """Run hub link on a config written next to the test's files; record_id -> cluster_id."""
    config = tmp_path / "link.yaml"
    config.write_text(config_yaml, encoding="utf-8")
    run_link(config, tmp_path / "out.csv")
    return pd.read_csv(tmp_path / "out.csv", dtype=str).set_index("record_id")["cluster_id"]


def test_xlsx_exported_with_a_title_row_and_numeric_ids_links(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["某区民政局救助对象名册（导出时间：2026-11-01）"])
    sheet.merge_cells("A1:D1")
    sheet.append(["编号", "姓名", "身份证号", "出生年月"])
    sheet.append([1001, "陈丽婷", "350603199001011236", "1990年1月1日"])
    sheet.append([1002, "陳麗婷", 350603199001011236, "1990年1月1日"])
    sheet.append([1003, "王五", "", "1950年3月2日"])
    book.save(tmp_path / "civil.xlsx")
    clusters = clusters_of(
        tmp_path,
        "sources:\n  civil: {path: civil.xlsx, id: 编号, columns: {姓名: name, 身份证号: id_no, 出生年月: birth}}\n"
        "fields: {name: name, id_no: cn_id, birth: date}\n",
    )
    assert sorted(clusters.index) == ["1001", "1002", "1003"]
    assert clusters["1001"] == clusters["1002"] != clusters["1003"]


def test_csv_saved_by_chinese_office_software_in_gb18030_links(tmp_path: Path) -> None:
    rows = "编号,姓名,身份证号\nA1,陈丽婷,350603199001011236\nA2,陈丽婷 ,350603199001011236\nA3,王五,\n"
    (tmp_path / "roster.csv").write_bytes(rows.encode("gb18030"))
    clusters = clusters_of(
        tmp_path,
        "sources:\n  roster: {path: roster.csv, id: 编号, columns: {姓名: name, 身份证号: id_no}}\n"
        "fields: {name: name, id_no: cn_id}\n",
    )
    assert clusters["A1"] == clusters["A2"] != clusters["A3"]


def test_semicolon_separated_csv_from_elsewhere_links(tmp_path: Path) -> None:
    rows = "id;full_name;born\n1;Anna Lindqvist;1980-03-04\n2;Lindqvist, Anna;04/03/1980\n3;Erik Berg;1975-01-02\n"
    (tmp_path / "people.csv").write_text(rows, encoding="utf-8")
    clusters = clusters_of(
        tmp_path,
        "sources:\n  people: {path: people.csv, id: id, columns: {full_name: name, born: birth}}\n"
        "fields: {name: name, birth: date}\n",
    )
    assert sorted(clusters.index) == ["1", "2", "3"]
    assert clusters["3"] not in {clusters["1"], clusters["2"]}
