"""Report specifications: the ID mask, kept as data, must not give the number away."""

from __future__ import annotations

from pathlib import Path

import pytest
from stdnum.cn import ric

from hub_errors import ConfigError
from pipelines.departments import (
    SPEC_FOLDER,
    Mask,
    fewest_id_candidates,
    id_candidates,
    load_report_spec,
    load_report_specs,
    min_id_candidates,
)

DIGITS = "0123456789"
ID = "35062719850101002"
ID = ID + ric.calc_check_digit(ID + "0")


def reader_view(masked: str, birth: str, male: bool) -> list[str]:
    """What a reader can narrow each position to: shown characters, the county (from the address),
    the birth date column and the sex column; the check position allows any check character."""
    allowed = [char if char != "*" else DIGITS for char in masked]
    allowed[:6] = list(ID[:6])
    allowed[6:14] = [char if char != "*" else digit for char, digit in zip(masked[6:14], birth, strict=True)]
    if masked[16] == "*":
        allowed[16] = DIGITS[1::2] if male else DIGITS[0::2]
    if masked[17] == "*":
        allowed[17] = DIGITS + "X"
    return allowed


def test_the_old_mask_gives_the_number_away_and_the_new_one_does_not() -> None:
    assert id_candidates(list(ID)) == 1
    old = Mask(6, 4).apply(ID)
    assert old == "350627********" + ID[-4:]
    assert id_candidates(reader_view(old, "19850101", male=False)) == 1
    new = Mask(6, 0).apply(ID)
    assert new == "350627************"
    assert id_candidates(reader_view(new, "19850101", male=False)) == 500


@pytest.mark.parametrize(
    ("mask", "fewest"),
    [(Mask(6, 4), 1), (Mask(6, 1), 45), (Mask(6, 2), 9), (Mask(15, 0), 50), (Mask(6, 0), 500), (Mask(14, 0), 500)],
)
def test_fewest_candidates_a_mask_leaves(mask: Mask, fewest: int) -> None:
    assert fewest_id_candidates(mask) == fewest


def test_every_shipped_specification_masks_ids_safely() -> None:
    specs = load_report_specs()
    for spec in specs.values():
        if "id_no" not in spec.entitled:
            assert fewest_id_candidates(spec.mask_for("id_no")) >= min_id_candidates() >= 100
    assert specs["grid"].masks["id_no"] == Mask(6, 0) and specs["community"].masks["id_no"] == Mask(6, 0)


def test_a_specification_whose_id_mask_leaks_is_refused(tmp_path: Path) -> None:
    text = (SPEC_FOLDER / "grid.yaml").read_text(encoding="utf-8")
    leaky = tmp_path / "grid.yaml"
    leaky.write_text(text.replace("id_no: {keep_start: 6, keep_end: 0}", "id_no: {keep_start: 6, keep_end: 4}"))
    with pytest.raises(ConfigError, match=r"grid\.yaml.*masks\.id_no.*only 1 possible"):
        load_report_spec(leaky)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("id_no: {keep_start: 6, keep_end: 0}", "id_no: {keep_start: six}"))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*masks\.id_no"):
        load_report_spec(bad)
