
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.normalize.address import canonical_address, parse_address


@pytest.mark.parametrize(
    "variants",
    [
        ["3幢二单元501室", "3栋2单元501", "3号楼2单元501室", "3#楼二单元501", "三栋二单元五零一"],
        [
            "建元路38号21号楼四-2401室",
            "建元路38号21-4-2401",
            "建元路38号二十一栋4单元2401",
            "建元路38号21栋四单元2401室",
        ],
        [
            "漳州市龙海区石码街道胜利社区建元路38号27栋五单元703室",
            "龙海区建元路38号27幢5单元703",
            "福建省漳州市龙海区建元路38号27号楼5单元703室",
            "建元路38号27-5-703",
            "建元路 38 号 27 栋 5 单元 703 室",
        ],
    ],
)
def test_variants_share_one_canonical_form(variants: list[str]) -> None:
    assert len({canonical_address(v) for v in variants}) == 1


@pytest.mark.parametrize(
    ("raw", "building", "unit", "room"),
    [
        ("21号楼四-2401室", "21", "4", "2401"),
        ("19-五-101室", "19", "5", "101"),
        ("19-5-101", "19", "5", "101"),
        ("十九-五-一零一", "19", "5", "101"),
        ("建元路38号19－五－101室", "19", "5", "101"),
        ("建元路38号19—5—101", "19", "5", "101"),
        ("建元路38号19――5――101", "19", "5", "101"),
        ("建元路38号１９－５－１０１", "19", "5", "101"),
        ("阳光花园A-3-501", "A", "3", "501"),
        ("阳光花园3-2单元501", "3", "2", "501"),
        ("第三栋第二单元501室", "3", "2", "501"),
        ("二十一幢三单元一五零二", "21", "3", "1502"),
        ("B座1201", "B", None, "1201"),
        ("3号楼5层502室", "3", None, "502"),
        ("阳光花园5楼502", None, None, "502"),
        ("阳光花园12楼2单元502", "12", "2", "502"),
        ("3栋5楼", "3", None, "5层"),
        ("3栋2单元501号", "3", "2", "501"),
    ],
)
def test_flat_locator_forms(raw: str, building: str | None, unit: str | None, room: str | None) -> None:
    parts = parse_address(raw)
    assert (parts.building, parts.unit, parts.room) == (building, unit, room)


@pytest.mark.parametrize(
    ("raw", "road", "door_no", "canonical"),
    [
        ("中山路12号之一", "中山路", "12-1", "中山路12-1号"),
        ("中山路12之1号", "中山路", "12-1", "中山路12-1号"),
        ("中山路12号附1号", "中山路", "12-1", "中山路12-1号"),
        ("上海市黄浦区长乐路123弄4号501室", "长乐路123弄", "4", "长乐路123弄4号501"),
        ("广州市越秀区中山街三巷5号", "中山街3巷", "5", "中山街3巷5号"),
        ("北京市朝阳区望京路12号院3号楼2单元301", "望京路", "12", "望京路12号3栋2单元301"),
        ("五一路三号", "五一路", "3", "五一路3号"),
        ("南靖县山城镇大田村三组12号", None, "12", "大田村3组12号"),
    ],
)
def test_roads_lanes_and_door_numbers(raw: str, road: str | None, door_no: str, canonical: str) -> None:
    parts = parse_address(raw)
    assert (parts.road, parts.door_no, parts.canonical) == (road, door_no, canonical)


def test_villages_keep_their_name_before_a_group_number() -> None:
    assert canonical_address("漳浦县旧镇镇大田村3组12号") != canonical_address("漳浦县旧镇镇后埔村3组12号")
    assert parse_address("漳浦县旧镇镇大田村3组12号").street == "旧镇镇"


def test_place_names_with_numerals_are_kept() -> None:
    assert canonical_address("九龙社区3栋2单元501") == "九龙社区3栋2单元501"
    assert parse_address("五一路8号").road == "五一路"


def test_parts() -> None:
    parts = parse_address("福建省漳州市芗城区通北街道毅阳社区胜利西路66号24-6-1804室")
    assert (parts.district, parts.street, parts.community) == ("芗城区", "通北街道", "毅阳社区")
    assert (parts.road, parts.door_no, parts.building, parts.unit, parts.room) == (
        "胜利西路",
        "66",
        "24",
        "6",
        "1804",
    )
    assert parts.canonical == "胜利西路66号24栋6单元1804"


def test_community_stands_in_for_a_missing_road() -> None:
    assert canonical_address("龙文区步文街道九龙社区29栋2单元1303") == "九龙社区29栋2单元1303"


def test_estate_name_kept_in_rest() -> None:
    parts = parse_address("阳光花园3#楼2单元501")
    assert parts.rest == "阳光花园"
    assert parts.canonical == "阳光花园3栋2单元501"


def test_non_chinese_degrades_gracefully() -> None:
    assert canonical_address("  12 Baker   STREET,\tLondon ") == "12 baker street, london"
    assert parse_address("Rue de l'Église 5").district is None


def test_street_type_words_written_long_or_short_agree() -> None:
    """A street-type word in full or abbreviated (street_words.yaml), on its own or ending a
    compound street name, gives one canonical form; a word that only contains one is left alone."""
    assert canonical_address("47 Oak Street") == canonical_address("47 Oak St.")
    assert canonical_address("Hauptstraße 70") == canonical_address("HauptStr. 70") == "hauptstrasse 70"
    assert canonical_address("Schillerplatz 3") == canonical_address("Schillerpl. 3")
    assert canonical_address("Streetly Close 9") == "streetly close 9"
    assert canonical_address("Hauptstraße 70") != canonical_address("Hauptstraße 71")


@given(st.text())
def test_never_raises_and_idempotent(raw: str) -> None:
    canonical = canonical_address(raw)
    assert canonical_address(canonical) == canonical


ADDRESS_CHARACTERS = "0123456789１２-－—―#A零一二三十栋幢号楼座单元室层之附第弄巷组村社区镇街道路县院 "


@settings(max_examples=500)
@given(st.text(alphabet=ADDRESS_CHARACTERS, max_size=24))
def test_address_like_text_has_a_stable_canonical_form(raw: str) -> None:
    canonical = canonical_address(raw)
    assert canonical_address(canonical) == canonical


@settings(max_examples=200)
@given(
    st.sampled_from(["建元路", "人民大道", "中山街", ""]),
    st.integers(1, 999),
    st.integers(1, 40),
    st.integers(1, 9),
    st.integers(101, 3304),
)
def test_well_formed_addresses_keep_their_parts(road: str, door: int, building: int, unit: int, room: int) -> None:
    raw = f"{road}{door}号{building}栋{unit}单元{room}室"
    parts = parse_address(raw)
    assert (parts.door_no, parts.building, parts.unit, parts.room) == (
        str(door),
        str(building),
        str(unit),
        str(room),
    )
    assert parse_address(parts.canonical) == parts
