import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.normalize.names import name_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("陳麗婷", "陈丽婷"),
        ("陈丽婷", "陈丽婷"),
        (" 陈 丽　婷 ", "陈丽婷"),
        ("於麗婷", "於丽婷"),
        ("于丽婷", "于丽婷"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("José  MARÍA", "jose maria"),
        ("Müller", "muller"),
        ("  Anne-Marie   O'Neil ", "anne-marie o'neil"),
        ("", ""),
    ],
)
def test_forms(raw: str, expected: str) -> None:
    assert name_key(raw) == expected


def test_traditional_surname_kept_distinct() -> None:
    assert name_key("於麗婷") != name_key("于丽婷")


@given(st.text())
def test_never_raises_and_idempotent(raw: str) -> None:
    key = name_key(raw)
    assert name_key(key) == key


@given(st.text(alphabet="陈李王张刘丽婷明华伟芳", min_size=1, max_size=4))
def test_simplified_names_unchanged(name: str) -> None:
    assert name_key(name) == name
