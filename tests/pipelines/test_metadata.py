"""Masking personal numbers in free text: samples, `hub explain`, error and log messages."""

from __future__ import annotations

import logging
import re
import unicodedata

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from pipelines.metadata import hide_credentials, mask_text, mask_value, sample_markdown

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def digits_of(text: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFKC", text) if char.isdigit())


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("0595-25491170", "****-****1170"),
        ("(0595) 2549 1170", "(****) **** 1170"),
        ("13912345678", "*******5678"),
        ("１３９１２３４５６７８", "*******５６７８"),
        ("+86 139 1234 5678", "+** *** **** 5678"),
        ("+8613912345678", "+*********5678"),
        ("电话：139-1234-5678，请回电", "电话：***-****-5678，请回电"),
        ("座机0596 1234567或手机13800001111", "座机**** ***4567或手机*******1111"),
        ("350627198501010023", "350627************"),
        ("35062719850101002x", "350627************"),
        ("身份证350627198501010023号", "身份证350627************号"),
        ("ID350627198501010023", "ID350627************"),
        ("３５０６２７１９８５０１０１００２Ｘ", "３５０６２７************"),
        ("350627 19850101 0023", "350627 ******** ****"),
        ("350627850101002", "350627*********"),
        # left alone: dates, times, codes glued to letters, short numbers, addresses
        ("2026-10-25 15:06", "2026-10-25 15:06"),
        ("2026/10/01 22:32:00", "2026/10/01 22:32:00"),
        ("1985年1月1日", "1985年1月1日"),
        ("G00000123 P0000042", "G00000123 P0000042"),
        ("水仙大街190号30栋5单元3101室", "水仙大街190号30栋5单元3101室"),
        ("received 20000 rows in 12.5 s", "received 20000 rows in 12.5 s"),
        ("http://127.0.0.1:5432/x", "http://127.0.0.1:5432/x"),
        ("run 8f3e6a72-1234-5678-9abc-def012345678 failed", "run 8f3e6a72-1234-5678-9abc-def012345678 failed"),
        ("key 0123456789abcdef", "key 0123456789abcdef"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def phone_forms() -> st.SearchStrategy[tuple[str, str]]:
    """(number, how someone wrote it): prefixes, separators, full-width digits, inside text."""
    mobile = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
    landline = st.from_regex(r"\A0[1-9][0-9]{1,2}[2-8][0-9]{6,7}\Z")

    @st.composite
    def written(draw: st.DrawFn) -> tuple[str, str]:
        number = draw(st.one_of(mobile, landline))
        prefix = draw(st.sampled_from(["", "+86 ", "+86", "0086-", "0086 ", "86-"])) if number[0] == "1" else ""
        cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), max_size=3)))
        separator = draw(st.sampled_from([" ", "-", "－", "  ", " - "]))
        parts = [number[i:j] for i, j in zip([0, *cuts], [*cuts, len(number)], strict=True)]
        text = prefix + separator.join(parts)
        if draw(st.booleans()):
            text = text.translate(FULL_WIDTH)
        before = draw(st.sampled_from(["", "电话", "联系人王芳 ", "tel: ", "（"]))
        after = draw(st.sampled_from(["", "。", " 请回电", "）"]))
        return number, before + text + after

    return written()


@given(phone_forms())
def test_any_written_phone_number_keeps_at_most_its_last_four_digits(case: tuple[str, str]) -> None:
    number, text = case
    masked = mask_text(text)
    shown = digits_of(masked)
    assert len(shown) <= 6  # a county of a run shaped like an ID, or the last four
    assert number[:-4] not in shown
    assert mask_text(masked) == masked


@given(st.from_regex(r"\A[1-6][0-9]{5}(19[0-9]{2}|20[01][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}\Z"))
def test_an_id_number_keeps_only_its_county(body: str) -> None:
    number = body + ric.calc_check_digit(body + "0")
    forms = (number, number.lower(), number.translate(FULL_WIDTH), f"身份证号{number}，", f"{number[:6]} {number[6:]}")
    for text in forms:
        masked = mask_text(text)
        assert digits_of(masked) == number[:6], text
        assert "X" not in masked.upper().replace("*", "")


@given(st.text())
def test_masking_is_idempotent_and_never_raises(text: str) -> None:
    masked = mask_text(text)
    assert mask_text(masked) == masked
    assert len(masked) == len(text) or "://" in text or "earer" in text.lower()


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("postgresql+psycopg://hub:s3cr3t@db:5432/hub", "postgresql+psycopg://hub:***@db:5432/hub"),
        ("pyamqp://guest:guest@127.0.0.1:5672//", "pyamqp://guest:***@127.0.0.1:5672//"),
        ("https://x/api?token=abc123&page=2", "https://x/api?token=***&page=2"),
        ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer ***"),
        ("sqlite:////tmp/hub/warehouse.sqlite", "sqlite:////tmp/hub/warehouse.sqlite"),
    ],
)
def test_credentials_are_hidden(text: str, hidden: str) -> None:
    assert hide_credentials(text) == hidden
    assert mask_text(text) == hidden


def test_samples_mask_every_cell_and_keep_other_values() -> None:
    frame = pd.DataFrame(
        {
            "record_id": ["G00000001", "G00000002"],
            "phone": ["0595-25491170", "+86 139 1234 5678"],
            "id_no": ["350627198501010023", None],
            "note": ["家属电话１３９１２３４５６７８", "无"],
            "amount": [13912345678, 800],
        }
    )
    sample = sample_markdown(frame).value
    assert "G00000001" in sample and "800" in sample
    for secret in ("25491170", "1234 5678", "198501010023", "１２３４", "13912345678"):
        assert secret not in sample
    assert mask_value(13912345678) == "*******5678" and mask_value(800) == 800 and mask_value(None) is None


def test_log_records_are_masked_whichever_logger_emits_them(caplog: pytest.LogCaptureFixture) -> None:
    import pipelines.metadata  # noqa: F401  (installs the masking record factory)

    with caplog.at_level(logging.INFO):
        logging.getLogger("dagster.some.step").info("row %s has phone %s", "G00000001", "0595-25491170")
        logging.getLogger("anything").warning("could not reach postgresql://u:pw@h/db for 350627198501010023")
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "row G00000001 has phone ****-****1170"
    assert "pw@" not in messages[1] and "350627************" in messages[1]
    assert not re.search(r"(?<![A-Z0-9])\d{7}", " ".join(messages))
