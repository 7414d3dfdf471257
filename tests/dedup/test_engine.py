"""The matching engine end to end on small hand-made cases, each a real-world trap."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dedup import RESIDENT_FIELDS, link, pairwise_scores
from dedup.compare import LEVEL_LABELS
from dedup.identity import identity_codes

FIELDS = {"name": "name", "id_no": "cn_id", "birth": "date", "gender": "exact", "phone": "phone", "address": "address"}

# Background population, so EM has non-matches and matches to learn from.
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def _id_with_check(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _population(people: int = 160) -> list[dict[str, str]]:
    rows = []
    for person in range(people):
        surname = _SURNAMES[person % len(_SURNAMES)]
        given = _GIVEN[(person * 7) % len(_GIVEN)] + _GIVEN[(person * 3 + 1) % len(_GIVEN)]
        birth = f"19{40 + person % 50}-{1 + person % 12:02d}-{1 + person % 27:02d}"
        id_no = _id_with_check(f"350602{birth.replace('-', '')}{person % 900 + 100:03d}")
        base = {
            "name": surname + given,
            "id_no": id_no,
            "birth": birth,
            "gender": "1" if person % 2 else "2",
            "phone": f"139{person:08d}",
            "address": f"漳州市芗城区胜利路{person % 400 + 1}号{person % 9 + 1}栋{person % 5 + 1}单元{person % 30 + 101}室",  # noqa: E501
        }
        rows.append({"source": "grid", "record_id": f"g{person}", "truth": f"p{person}", **base})
        copy = dict(base, phone="" if person % 3 else base["phone"], id_no="" if person % 4 == 0 else id_no)
        rows.append({"source": "health", "record_id": f"h{person}", "truth": f"p{person}", **copy})
    return rows


def _link(extra: list[dict[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    records = pd.DataFrame(_population() + extra)
    result = link(records, FIELDS)
    return records, result.clusters


def _same(clusters: pd.DataFrame, a: str, b: str) -> bool:
    ids = clusters.set_index("record_id")["cluster_id"]
    return bool(ids[a] == ids[b])


TWIN_A = _id_with_check("35060219900101021")
TWIN_B = _id_with_check("35060219900101023")
HOME = {"birth": "1990-01-01", "phone": "13800000001", "address": "漳州市芗城区新华路9号1栋1单元101室"}


def test_twins_with_different_ids_never_merge() -> None:
    twins = [
        {"source": "grid", "record_id": "t1", "name": "郑明华", "id_no": TWIN_A, "gender": "1", **HOME},
        {"source": "health", "record_id": "t2", "name": "郑明丽", "id_no": TWIN_B, "gender": "1", **HOME},
        {"source": "civil", "record_id": "t3", "name": "郑明华", "id_no": TWIN_A, "gender": "1", **HOME},
    ]
    _, clusters = _link(twins)
    assert _same(clusters, "t1", "t3")
    assert not _same(clusters, "t1", "t2")


def test_typo_in_name_with_same_id_merges() -> None:
    person = {"id_no": TWIN_A, "gender": "1", **HOME}
    rows = [
        {"source": "grid", "record_id": "a1", "name": "郑明华", **person},
        {"source": "health", "record_id": "a2", "name": "郑名华", **person},
    ]
    _, clusters = _link(rows)
    assert _same(clusters, "a1", "a2")


def test_old_15_digit_and_18_digit_id_of_one_person_merge() -> None:
    rows = [
        {"source": "grid", "record_id": "o1", "name": "郑明华", "id_no": TWIN_A, "gender": "1", **HOME},
        {"source": "civil", "record_id": "o2", "name": "郑明华", "id_no": "350602900101021", "gender": "", **HOME},
    ]
    _, clusters = _link(rows)
    assert _same(clusters, "o1", "o2")


def test_background_population_is_resolved_and_explained() -> None:
    records, clusters = _link([])
    truth = records[["source", "record_id", "truth"]]
    score = pairwise_scores(truth, clusters)
    assert score.f1 > 0.98
    result = link(records, FIELDS)
    why = result.explain(("grid", "g1"), ("health", "h1"))
    assert list(why.fields["field"]) == list(FIELDS)
    assert why.same_cluster and why.probability > 0.9
    row = why.fields.set_index("field").loc["id_no"]
    assert row["level"] == "exact" and row["weight"] > 0
    apart = result.explain(("grid", "g1"), ("grid", "g2"))
    assert not apart.same_cluster and apart.total < 0


def test_cluster_ids_are_stable_when_rows_are_reordered() -> None:
    records = pd.DataFrame(_population())
    first = link(records, FIELDS).clusters.set_index(["source", "record_id"])["cluster_id"]
    shuffled = records.sample(frac=1.0, random_state=3)
    second = link(shuffled, FIELDS).clusters.set_index(["source", "record_id"])["cluster_id"]
    assert (first.sort_index() == second.sort_index()).all()


def test_unique_source_keeps_two_of_its_records_apart() -> None:
    person = {"name": "郑明华", "id_no": "", "gender": "1", **HOME}
    rows = [
        {"source": "roster", "record_id": "u1", **person},
        {"source": "roster", "record_id": "u2", **person},
    ]
    records = pd.DataFrame(_population() + rows)
    together = link(records, FIELDS).clusters
    apart = link(records, FIELDS, unique_sources=["roster"]).clusters
    assert _same(together, "u1", "u2")
    assert not _same(apart, "u1", "u2")


def test_resident_preset_names_standardized_columns() -> None:
    assert RESIDENT_FIELDS["id_no"] == "cn_id"
    assert RESIDENT_FIELDS["name_key"] == "name"
    assert set(RESIDENT_FIELDS.values()) <= {"name", "cn_id", "date", "exact", "phone", "address"}


def test_bench_sample_scores_high(bench_small: Path) -> None:
    from shutil import copy

    from pipelines.link_command import run_link

    config = bench_small / "link_bench.yaml"
    copy(Path(__file__).resolve().parents[2] / "benchmarks" / "link_bench.yaml", config)
    out = bench_small / "clusters_engine_test.csv"
    run_link(config, out)
    score = pairwise_scores(pd.read_csv(bench_small / "truth_residents.csv", dtype=str), pd.read_csv(out, dtype=str))
    assert score.f1 > 0.97


def test_many_pairs_are_explained_at_once_with_the_same_figures() -> None:
    records, _ = _link([])
    result = link(records, FIELDS)
    pairs = result.pairs.head(40)
    batch = result.field_contributions(pairs["left"].to_numpy(), pairs["right"].to_numpy())
    assert len(batch) == len(pairs)
    for position, (left, right) in enumerate(pairs[["left", "right"]].itertuples(index=False)):
        one = result.explain(int(left), int(right))
        assert abs(batch["total"].iloc[position] - one.total) < 1e-9
        for field in one.fields.itertuples():
            assert batch[f"{field.field}_level"].iloc[position] == field.level
    assert abs(batch["probability"] - pairs["probability"].to_numpy()).max() < 1e-9


# --- identity rules with evidence ------------------------------------------------------------------

MOTHER_ID = _id_with_check("35060219650304022")
CHILD_ID = _id_with_check("35060219920811003")
FAMILY = {"phone": "13800000077", "address": "漳州市芗城区新华路77号2栋1单元301室"}


def _row(source: str, record_id: str, name: str, id_no: str, birth: str, **rest: str) -> dict[str, str]:
    values = {"gender": "1", "phone": "", "address": "", **rest}
    return {"source": source, "record_id": record_id, "name": name, "id_no": id_no, "birth": birth, **values}


def _level(result: object, a: tuple[str, str], b: tuple[str, str], field: str) -> str:
    return str(result.explain(a, b).fields.set_index("field").loc[field, "level"])  # type: ignore[attr-defined]


def test_a_relatives_id_that_contradicts_the_record_does_not_keep_it_from_its_owner() -> None:
    """The child's health record carries the mother's valid ID (its birth date says 1965, the record
    1992): the ID is suspect, so it neither merges the child into the mother nor keeps it apart."""
    rows = [
        _row("grid", "m1", "林秀英", MOTHER_ID, "1965-03-04", gender="2", **FAMILY),
        _row("grid", "c1", "陈志强", CHILD_ID, "1992-08-11", **FAMILY),
        _row("health", "c2", "陈志强", MOTHER_ID, "1992-08-11", **FAMILY),
    ]
    result = link(pd.DataFrame(_population() + rows), FIELDS)
    assert _same(result.clusters, "c1", "c2")
    assert not _same(result.clusters, "m1", "c2")
    assert _level(result, ("grid", "c1"), ("health", "c2"), "id_no") == LEVEL_LABELS["cn_id"][4]


def test_same_id_with_a_different_birth_date_still_merges_when_the_rest_agrees() -> None:
    """A lunar birthday on one record: identical ID, name, phone and address outweigh the date."""
    home = {"phone": HOME["phone"], "address": HOME["address"]}
    rows = [
        _row("grid", "l1", "郑明华", TWIN_A, "1990-01-01", **home),
        _row("health", "l2", "郑明华", TWIN_A, "1989-12-05", **home),
    ]
    clusters = link(pd.DataFrame(_population(1500) + rows), FIELDS).clusters
    assert _same(clusters, "l1", "l2")


def test_placeholder_names_are_no_name_evidence() -> None:
    """A newborn filed as 林秀英之子 without an ID is not merged into its mother 林秀英."""
    rows = [
        _row("grid", "n0", "林秀英", MOTHER_ID, "1965-03-04", gender="2", **FAMILY),
        _row("health", "n1", "林秀英之子", "", "2026-10-02", **FAMILY),
        _row("civil", "n2", "新生儿", "", "2026-10-02", **FAMILY),
    ]
    result = link(pd.DataFrame(_population() + rows), FIELDS)
    assert not _same(result.clusters, "n0", "n1")
    assert _level(result, ("grid", "n0"), ("health", "n1"), "name") == "missing"


def test_swapped_given_name_characters_are_a_near_match() -> None:
    rows = [
        _row("grid", "s1", "曾梓轩", "", "2015-06-01", phone="13800000099"),
        _row("health", "s2", "曾轩梓", "", "2015-06-01", phone="13800000099"),
    ]
    result = link(pd.DataFrame(_population(1500) + rows), FIELDS)
    row = result.explain(("grid", "s1"), ("health", "s2")).fields.set_index("field").loc["name"]
    different = result.model.fields[0].weights[-1]
    assert row["level"] == "same characters in another order" and row["weight"] > different + 3
    assert _same(result.clusters, "s1", "s2")


@pytest.mark.parametrize("kind", ["name", "date", "identifier", "cn_id", "phone", "address", "exact", "text"])
def test_a_field_empty_in_every_row_does_not_crash(kind: str) -> None:
    records = pd.DataFrame(_population()).assign(empty="")
    result = link(records, {**FIELDS, "empty": kind})
    assert len(result.clusters) == len(records)
    assert not [w for w in result.check() if w.field == "empty"]


@pytest.mark.parametrize("rows", [0, 1])
def test_no_records_or_one_record_do_not_crash(rows: int) -> None:
    records = pd.DataFrame(_population())[["source", "record_id", "name", "id_no", "birth", "gender"]].head(rows)
    result = link(records, {"name": "name", "id_no": "cn_id", "birth": "date", "gender": "exact"})
    assert len(result.clusters) == rows and result.check() == []


def test_only_empty_fields_give_singletons() -> None:
    records = pd.DataFrame({"source": ["a"] * 3, "record_id": ["1", "2", "3"], "id_no": ["", "", ""]})
    result = link(records, {"id_no": "cn_id"})
    assert result.clusters["cluster_id"].nunique() == 3


def test_spreadsheet_damaged_ids_are_no_identity() -> None:
    """Two different people whose IDs a spreadsheet turned into the same float: never merged on it."""
    rows = [
        _row("grid", "e1", "黄志明", "350627199001010000.0", "1990-01-01", phone="13900000001"),
        _row("health", "e2", "许国栋", "350627199001010000.0", "1990-01-01", phone="13900000002"),
        _row("civil", "e3", "黄志明", "3.50627199001011e+17", "1990-01-01", phone="13900000001"),
    ]
    result = link(pd.DataFrame(_population() + rows), FIELDS)
    assert not _same(result.clusters, "e1", "e2")
    assert _level(result, ("grid", "e1"), ("health", "e2"), "id_no") == "missing"
    assert _level(result, ("grid", "e1"), ("civil", "e3"), "id_no") == "missing"


def test_an_id_that_standardize_marked_not_valid_is_no_identity() -> None:
    rows = [
        _row("grid", "v1", "黄志明", TWIN_A, "1990-01-01"),
        _row("health", "v2", "许国栋", TWIN_A, "1971-05-05"),
    ]
    flagged = pd.DataFrame(_population() + rows)
    flagged["id_valid"] = flagged["record_id"] != "v2"
    plain = link(flagged, FIELDS)
    checked = link(flagged, FIELDS, validity={"id_no": "id_valid"})
    assert _level(plain, ("grid", "v1"), ("health", "v2"), "id_no") != "missing"
    assert _level(checked, ("grid", "v1"), ("health", "v2"), "id_no") == "missing"
    assert not _same(checked.clusters, "v1", "v2")


def _truncated_id_that_passes_its_check() -> tuple[str, str]:
    """An intact number and what a spreadsheet makes of it (last three digits 000) when the damaged
    number still passes its check character."""
    for district in range(10):
        for order in range(10):
            prefix = f"35060{district}19710305{order}"
            if _id_with_check(prefix + "00") == prefix + "000":
                return _id_with_check(prefix + "23"), prefix + "000"
    raise AssertionError("no truncated number passes its check in this range")


def test_a_spreadsheet_truncated_id_is_no_identity_and_stays_with_its_owner() -> None:
    """The subsidy list's number went through Excel (…000) and still passes its check: it neither
    keeps the record from the owner's intact number nor identifies anyone."""
    intact, truncated = _truncated_id_that_passes_its_check()
    birth = f"{intact[6:10]}-{intact[10:12]}-{intact[12:14]}"
    rows = [
        _row("grid", "t1", "黄海生", intact, birth, **FAMILY),
        _row("civil", "t2", "黄海生", truncated, birth, phone=FAMILY["phone"]),
    ]
    result = link(pd.DataFrame(_population() + rows), FIELDS)
    assert _same(result.clusters, "t1", "t2")
    assert _level(result, ("grid", "t1"), ("civil", "t2"), "id_no") == "one edit or old/new form"
    position = int(result.clusters.index[result.clusters["record_id"] == "t2"][0])
    assert identity_codes(result.prepared)[0][position] == -1
