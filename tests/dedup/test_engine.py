"""The matching engine end to end on small hand-made cases, each a real-world trap."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dedup import RESIDENT_FIELDS, link, pairwise_scores

FIELDS = {"name": "name", "id_no": "cn_id", "birth": "date", "gender": "exact", "phone": "phone", "address": "address"}

# Background population, so EM has non-matches and matches to learn from.
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def _id_with_check(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _population() -> list[dict[str, str]]:
    rows = []
    for person in range(160):
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
            "address": f"漳州市芗城区胜利路{person + 1}号{person % 9 + 1}栋{person % 5 + 1}单元{person % 30 + 101}室",
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
