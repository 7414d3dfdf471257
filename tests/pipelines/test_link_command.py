"""`hub link` end to end: CSV and XLSX sources, Latin-script records, and the steward-facing errors."""

from __future__ import annotations

import io
import random
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from dedup import pairwise_scores
from hub_errors import ConfigError
from pipelines import link_command
from pipelines.link_command import read_csv_text, read_sources, run_link

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


# Event tables: a grid system's case list and residents' own reports of the same incidents.
EVENT_WORDING = {
    "违章搭建": "私搭乱建",
    "噪声扰民": "晚上太吵",
    "道路破损": "路面有坑",
    "路灯损坏": "路灯不亮",
    "私拉电线": "飞线充电",
    "垃圾清运不及时": "垃圾没人收",
}
EVENT_AREAS = (
    ("龙文区", "九龙社区", "水仙大街"),
    ("芗城区", "胜利社区", "建元路"),
    ("龙海区", "大同社区", "新华南路"),
)
CN_UNITS = "零一二三四五六七八九"


def _write_event_sources(
    folder: Path, incidents: int = 70, omit_parts: bool = False, resident_time: str = "%Y/%m/%d %H:%M:%S"
) -> pd.DataFrame:
    """grid_cases.csv (professional category, full address, grid) and resident_reports.csv (lay
    words, the place spelled their own way, hours later, in the resident_time format) with known
    truth. omit_parts: residents leave out the road and door, naming the community and building.
    Every fifth incident happens in a building that had one a few days earlier."""
    rng = random.Random(12)
    start = pd.Timestamp("2026-04-01")
    grid_rows, resident_rows, truth, places = [], [], [], []
    for number in range(incidents):
        if places and number % 5 == 0:
            district, community, road, door, building = places[-1]
        else:
            district, community, road = rng.choice(EVENT_AREAS)
            door, building = rng.randint(1, 300), rng.randint(1, 30)
        places.append((district, community, road, door, building))
        unit, room = rng.randint(1, 6), rng.randint(1, 25) * 100 + rng.randint(1, 4)
        category = rng.choice(sorted(EVENT_WORDING))
        at = start + pd.Timedelta(hours=rng.randint(0, 24 * 30) + 72 * (number % 5 == 0))
        grid_rows.append(
            {
                "事件编号": f"GE{number:03d}",
                "事件类型": category,
                "发生时间": at.strftime("%Y-%m-%d %H:%M"),
                "事发地点": f"漳州市{district}{community}{road}{door}号{building}栋{unit}单元{room}室",
                "所属网格": f"{community}{building % 4 + 1:02d}网格",
                "事件描述": f"{category}，{road}附近，请处理",
            }
        )
        truth.append(("grid", f"GE{number:03d}", str(number)))
        if number % 4 == 3:
            continue
        if omit_parts:
            place = f"{district}{community}{building}号楼{CN_UNITS[unit]}单元{room}"
        else:
            place = f"{district}{road}{door}号{building}幢{CN_UNITS[unit]}单元{room}"
        later = at + pd.Timedelta(minutes=rng.randint(20, 480))
        resident_rows.append(
            {
                "event_id": f"RE{number:03d}",
                "category": EVENT_WORDING[category],
                "reported_at": later.strftime(resident_time),
                "location": place,
                "description": f"{EVENT_WORDING[category]}，快来看看",
            }
        )
        truth.append(("resident", f"RE{number:03d}", str(number)))
    pd.DataFrame(grid_rows).to_csv(folder / "grid_cases.csv", index=False)
    pd.DataFrame(resident_rows).to_csv(folder / "resident_reports.csv", index=False)
    return pd.DataFrame(truth, columns=["source", "record_id", "incident"])


EVENT_CONFIG = """
sources:
  grid: {path: grid_cases.csv, id: 事件编号,
         columns: {事件类型: category, 发生时间: reported_at, 事发地点: location, 所属网格: grid,
                   事件描述: description}}
  resident: {path: resident_reports.csv, id: event_id}
fields:
  reported_at: datetime
  category: category
  location: LOCATION_KIND
  description: text
  grid: exact
"""


@pytest.mark.parametrize(
    ("location_kind", "omit_parts", "resident_time"),
    [("address", False, "%Y/%m/%d %H:%M:%S"), ("place", True, "%m/%d/%Y %H:%M")],
)
def test_event_tables_link_into_their_incidents(
    tmp_path: Path, location_kind: str, omit_parts: bool, resident_time: str
) -> None:
    """The same engine matches event reports: time windows, category relations and places. An
    address spelled differently links as `address`; one that leaves parts out needs `place`. A
    month-first report time (04/05/2026 14:00) is read as its column shows."""
    truth = _write_event_sources(tmp_path, omit_parts=omit_parts, resident_time=resident_time)
    config = tmp_path / "link.yaml"
    config.write_text(EVENT_CONFIG.replace("LOCATION_KIND", location_kind), encoding="utf-8")
    summary = run_link(config, tmp_path / "out.csv")
    predicted = pd.read_csv(tmp_path / "out.csv", dtype=str)
    score = pairwise_scores(truth, predicted)
    assert score.precision >= 0.95 and score.recall >= 0.9, score
    clusters = predicted.set_index("record_id")["cluster_id"]
    assert clusters["GE005"] != clusters["GE004"], "a building's second incident days later is its own"
    assert summary.warnings == [], "the model check finds nothing wrong with events"
    if resident_time.startswith("%m"):
        assert summary.date_formats["resident.reported_at"].startswith("month-first")


def test_sources_read_side_by_side_give_the_frames_and_the_error_of_reading_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_sources(tmp_path, people=60)
    config = yaml.safe_load(CONFIG)
    fields = {str(k): str(v) for k, v in config["fields"].items()}
    in_turn = read_sources(config["sources"], tmp_path, fields)
    monkeypatch.setattr(link_command, "PARALLEL_READ_MIN_BYTES", 0)
    side_by_side = read_sources(config["sources"], tmp_path, fields)
    assert len(side_by_side) == 2
    for first, second in zip(in_turn, side_by_side, strict=True):
        pd.testing.assert_frame_equal(first, second)
        assert first.attrs == second.attrs
    config["sources"]["clinic"]["columns"]["Nom"] = "name"
    config["sources"]["register"]["id"] = "Nope"
    with pytest.raises(ConfigError, match="id column 'Nope'"):
        read_sources(config["sources"], tmp_path, fields)


@pytest.mark.parametrize(
    "text",
    [
        "姓名,电话\n张伟,13800000001\n李娜,\n",  # the Arrow reader
        '姓名,电话\n"张\n伟",1\n赵六\n',  # a short row: pandas' own parser, as before
        "姓名;姓名\n张伟;张伟\n",  # repeated headers are told apart the same way
    ],
)
def test_csv_text_reads_as_pandas_own_parser_reads_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    sep = ";" if ";" in text.splitlines()[0] else ","
    expected = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
    pd.testing.assert_frame_equal(read_csv_text(path), expected)
