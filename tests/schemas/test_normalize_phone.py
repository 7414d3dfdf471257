import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.normalize.phone import normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13912345678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("0086 13912345678", "13912345678"),
        ("８６１３９１２３４５６７８", "13912345678"),
        ("１３９ １２３４ ５６７８", "13912345678"),
        ("139.1234.5678", "13912345678"),
        ("13912345678.0", "13912345678"),
        ("0596-1234567", "0596-1234567"),
        ("(0596) 1234567", "0596-1234567"),
        ("+86 596 1234567", "0596-1234567"),
        ("010 12345678", "010-12345678"),
        ("0596-1234567转123", "0596-1234567"),
        ("13912345678；13812345678", "13912345678"),
        ("+44 20 7946 0000", "+442079460000"),
        ("1.39123E+10", None),
        ("12345", None),
        ("无", None),
        ("", None),
    ],
)
def test_forms(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@given(st.text())
def test_never_raises_and_idempotent(raw: str) -> None:
    value = normalize_phone(raw)
    if value is not None:
        assert normalize_phone(value) == value


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"), st.sampled_from(["", "+86 ", "0086", "+86-"]))
def test_valid_mobiles_stay_valid(mobile: str, prefix: str) -> None:
    assert normalize_phone(prefix + mobile) == mobile
