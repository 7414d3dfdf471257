from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from schemas.normalize.id_number import REASONS, IdResult, birth_from_id, gender_from_id, normalize_cn_id

VALID = "11010519491231002X"


def test_full_width_spaces_and_lower_x_are_cleaned() -> None:
    result = normalize_cn_id(" １１０１０５ 19491231002x ")
    assert result.value == VALID
    assert result.valid


def test_bad_check_digit_kept_but_flagged() -> None:
    result = normalize_cn_id("110105194912310021")
    assert result.value == "110105194912310021"
    assert not result.valid
    assert "id_checksum" in result.flags


def test_fifteen_digits_upgraded_with_check_digit() -> None:
    result = normalize_cn_id("110105491231002")
    assert result.value == VALID
    assert result.valid
    assert "id_upgraded_15" in result.flags


def test_birth_date_of_record_compared() -> None:
    assert normalize_cn_id(VALID, birth="1949-12-31").valid
    mismatch = normalize_cn_id(VALID, birth="1950-01-01")
    assert not mismatch.valid
    assert "id_birth_mismatch" in mismatch.flags


def test_impossible_birth_date_inside_number() -> None:
    body = "11010519491332002"
    result = normalize_cn_id(body + ric.calc_check_digit(body + "0"))
    assert not result.valid
    assert "id_birth_invalid" in result.flags


def test_excel_damage_is_flagged_not_trusted() -> None:
    assert normalize_cn_id("1.10105E+17") == normalize_cn_id("1.10105E+17")
    assert normalize_cn_id("1.10105E+17") == IdResult(None, False, ("id_from_number",))
    truncated = normalize_cn_id("110105194912310000")
    assert truncated.value is None and "id_excel_truncated" in truncated.flags
    float_suffix = normalize_cn_id("110105491231002.0")
    assert float_suffix == IdResult(None, False, ("id_from_number",))


def damaged_but_passing() -> str:
    """An ID number whose Excel-damaged form (last three digits 000) still passes the check character."""
    for order in range(1000, 10000):
        body = f"35062719850101{order:04d}"[:17]
        real = body + ric.calc_check_digit(body + "0")
        damaged = real[:15] + "000"
        if ric.calc_check_digit(damaged) == "0" and damaged != real:
            return real
    raise AssertionError("no such number")


@pytest.mark.parametrize(
    "render",
    [
        lambda real: f"{float(real):.14E}",  # Excel's 15 significant digits: 3.50627198501010E+17
        lambda real: f"{float(real):.5E}",  # as a narrow General cell shows it: 3.50627E+17
        lambda real: real[:15] + "000.0",  # a float's rendering
        lambda real: f"{float(real):.14e}".replace(".", "．"),  # full-width and lower case
    ],
)
def test_a_value_that_arrived_as_a_number_is_never_an_identity(render: Callable[[str], str]) -> None:
    real = damaged_but_passing()
    damaged = real[:15] + "000"
    assert ric.is_valid(damaged), "the damaged number passes the check character (the fault)"
    result = normalize_cn_id(render(real))
    assert result.value is None and not result.valid
    assert result.flags == ("id_from_number",)
    assert "数值" in REASONS["id_from_number"]


def test_an_eighteen_digit_text_ending_in_000_with_a_bad_check_is_excel_damage() -> None:
    damaged = next(
        text
        for text in (f"3506271985010{order:02d}000" for order in range(100))
        if ric.calc_check_digit(text) != "0"
    )
    assert normalize_cn_id(damaged) == IdResult(None, False, ("id_excel_truncated",))
    assert "000" in REASONS["id_excel_truncated"]


def test_garbage_is_unusable() -> None:
    assert normalize_cn_id("").value is None
    assert normalize_cn_id("无").flags == ("id_format",)
    assert normalize_cn_id("12345").value is None


def test_birth_and_gender_from_number() -> None:
    assert birth_from_id(VALID) == "1949-12-31"
    assert gender_from_id(VALID) == "2"
    assert gender_from_id(None) is None


@given(st.text())
def test_never_raises_and_idempotent(raw: str) -> None:
    result = normalize_cn_id(raw)
    if result.value is not None:
        assert normalize_cn_id(result.value).value == result.value


@given(st.from_regex(r"\A[1-6][0-9]{5}(19[0-9]{2}|20[01][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}\Z"))
def test_valid_numbers_stay_valid(body: str) -> None:
    number = body + ric.calc_check_digit(body + "0")
    result = normalize_cn_id(number)
    assert result.value == number
    assert result.valid
    assert normalize_cn_id(number.lower()).value == number
