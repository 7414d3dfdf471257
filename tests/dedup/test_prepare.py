"""Preparing fields: forms of one value that only the whole column can tell apart."""

from __future__ import annotations

import pandas as pd

from dedup.prepare import phone_forms_together, prepare_field


def test_a_national_number_joins_the_same_number_with_its_country_code() -> None:
    """0781/5076555 beside +49 781 5076555 (trunk 0), 217-555-0199 beside +1 217 555 0199: one number."""
    field = prepare_field(
        "phone", "phone", pd.Series(["+49 781 5076555", "0781/5076555", "+1 217 555 0199", "217-555-0199"])
    )
    codes = field.codes.tolist()
    assert codes[0] == codes[1]
    assert codes[2] == codes[3]
    assert codes[0] != codes[2]


def test_a_national_number_without_its_international_form_is_left_alone() -> None:
    """Without an international number in the column to fit it, nothing is guessed; a number two
    international ones could be stays as it is."""
    assert phone_forms_together(["0781-5076555", "13812345678", None]) == ["0781-5076555", "13812345678", None]
    ambiguous = ["+497815076555", "+337815076555", "07815076555"]
    assert phone_forms_together(ambiguous) == ambiguous
