"""Golden records: survivorship by authority, recency and frequency, with provenance."""

from __future__ import annotations

import json

import pandas as pd

from dedup.golden import GOLDEN_COLUMNS, build_golden


def _records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["grid", "health", "civil", "grid"],
            "record_id": ["g1", "h1", "c1", "g2"],
            "name": ["张伟", "张伟", "张 伟", "李娜"],
            "id_no": ["", "350602199001010214", "350602199001010214", ""],
            "phone": ["13900000001", "13900000002", "13900000002", ""],
            "address": ["新华路1号", "新华路1号1栋", "", "胜利路2号"],
            "address_canonical": ["新华路1号", "新华路1号1栋", None, "胜利路2号"],
            "updated": ["2024-05-01", "2023-01-01", "2022-01-01", "2024-01-01"],
            "attributes": ['{"residence_status": "户在人在"}', '{"chronic": "高血压"}', '{"aid_type": "低保"}', ""],
        }
    )


def _clusters() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["grid", "health", "civil", "grid"],
            "record_id": ["g1", "h1", "c1", "g2"],
            "cluster_id": ["A", "A", "A", "B"],
        }
    )


def test_one_row_per_person_with_contract_columns() -> None:
    golden = build_golden(_records(), _clusters(), {})
    assert list(golden.columns) == GOLDEN_COLUMNS
    assert len(golden) == 2
    person = golden[golden["record_count"] == 3].iloc[0]
    assert person["sources"] == "civil;grid;health"
    assert json.loads(str(person["attributes"])) == {
        "aid_type": "低保",
        "chronic": "高血压",
        "residence_status": "户在人在",
    }
    assert person["person_id"] == "A", "the cluster id is the person id (kept stable across runs upstream)"


def test_authority_then_recency_then_frequency() -> None:
    rules = {"authority": {"name": ["civil"]}, "recency": "updated"}
    person = build_golden(_records(), _clusters(), rules).set_index("record_count").loc[3]
    provenance = json.loads(str(person["provenance"]))
    assert person["name"] == "张 伟" and provenance["name"] == {"source": "civil", "record_id": "c1"}
    assert person["phone"] == "13900000001"  # most recent record wins without an authority
    assert provenance["address_canonical"] == provenance["address"] == {"source": "grid", "record_id": "g1"}
    by_frequency = build_golden(_records(), _clusters(), {}).set_index("record_count").loc[3]
    assert by_frequency["phone"] == "13900000002"


def test_person_id_is_stable_when_a_record_joins() -> None:
    first = build_golden(_records(), _clusters(), {})
    more = pd.concat([_records(), _records().iloc[[3]].assign(source="health", record_id="h9")], ignore_index=True)
    clusters = pd.concat([_clusters(), pd.DataFrame({"source": ["health"], "record_id": ["h9"], "cluster_id": ["B"]})])
    second = build_golden(more, clusters, {})
    assert set(first["person_id"]) == set(second["person_id"])


def test_a_record_missing_from_the_clusters_is_a_person_of_its_own() -> None:
    golden = build_golden(_records(), _clusters().head(3), {})
    assert sorted(golden["record_count"]) == [1, 3]
    alone = golden[golden["record_count"] == 1].iloc[0]
    assert alone["person_id"].startswith("P") and alone["name"] == "李娜"


def test_prefer_latest_takes_the_newest_value_over_a_more_trusted_source() -> None:
    records = pd.DataFrame(
        {
            "source": ["civil", "grid", "health"],
            "record_id": ["c1", "g1", "h1"],
            "name": ["张伟", "张伟", "张伟"],
            "phone": ["13900000001", "13900000002", "13900000003"],
            "address": ["新华路1号", "胜利路2号", ""],
            "updated_at": ["2024-05-01T09:00:00+08:00", "2024-05-01T02:00:00+00:00", None],
        }
    )
    clusters = records[["source", "record_id"]].assign(cluster_id="A")
    rules = {"authority": {"phone": ["civil", "health", "grid"], "address": ["civil", "grid"]}, "recency": "updated_at"}
    person = build_golden(records, clusters, rules).iloc[0]
    assert person["phone"] == "13900000001", "without a latest rule the trusted source wins"
    latest = build_golden(records, clusters, {**rules, "prefer": {"phone": "latest"}}).iloc[0]
    assert latest["phone"] == "13900000002", "02:00 UTC is later than 09:00 in UTC+8 (01:00 UTC)"
    assert json.loads(str(latest["provenance"]))["phone"] == {"source": "grid", "record_id": "g1"}
    assert latest["address"] == "新华路1号", "fields without the rule keep authority first"
    records.loc[1, "updated_at"] = None
    undated = build_golden(records, clusters, {**rules, "prefer": {"phone": "latest"}}).iloc[0]
    assert undated["phone"] == "13900000001", "a record without an update time ranks after a dated one"


def test_a_verified_source_wins_its_fields_before_recency_and_authority() -> None:
    records = pd.DataFrame(
        {
            "source": ["civil", "grid", "community"],
            "record_id": ["c1", "g1", "m1"],
            "name": ["张伟", "张伟", "张玮"],
            "phone": ["13900000001", "13900000002", "13900000009"],
            "address": ["新华路1号", "胜利路2号", "幸福路3号"],
            "addr_community": ["新华社区", "胜利社区", "幸福社区"],
            "updated_at": ["2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z", "2024-04-01T00:00:00Z"],
        }
    )
    clusters = records[["source", "record_id"]].assign(cluster_id="A")
    rules = {
        "authority": {"phone": ["civil", "grid"], "address": ["grid", "civil"], "name": ["civil", "grid"]},
        "recency": "updated_at",
        "prefer": {"phone": "latest"},
        "verified": {"phone": ["community"], "address": ["community"]},
    }
    person = build_golden(records, clusters, rules).iloc[0]
    assert person["phone"] == "13900000009", "verified wins over the later department value"
    assert (person["address"], person["addr_community"]) == ("幸福路3号", "幸福社区"), "its parts travel with it"
    assert person["name"] == "张伟", "a field it is not listed for keeps authority"
    assert json.loads(str(person["provenance"]))["phone"] == {"source": "community", "record_id": "m1"}
    unverified = build_golden(records, clusters, {**rules, "verified": {}}).iloc[0]
    assert unverified["phone"] == "13900000002"


def test_provenance_is_the_json_of_each_field_source_even_for_ids_json_must_escape() -> None:
    records = _records()
    records["record_id"] = ['g"1', "h\\1", "c\n1", "g2"]
    clusters = _clusters().assign(record_id=records["record_id"])
    golden = build_golden(records, clusters, {"authority": {"name": ["civil"]}})
    person = golden.set_index("record_count").loc[3]
    provenance = json.loads(str(person["provenance"]))
    assert provenance["name"] == {"source": "civil", "record_id": "c\n1"}
    assert provenance["id_no"]["record_id"] in {"h\\1", "c\n1"}
    assert str(person["provenance"]) == json.dumps(provenance, ensure_ascii=False, sort_keys=True)


def test_equal_candidates_fall_back_to_source_then_record_id_order() -> None:
    records = pd.DataFrame(
        {"source": ["health", "grid", "grid"], "record_id": ["h9", "g2", "g1"], "phone": ["1", "2", "3"]}
    )
    clusters = records[["source", "record_id"]].assign(cluster_id="A")
    person = build_golden(records, clusters, {}).iloc[0]
    assert person["phone"] == "3", "one vote each: the smallest (source, record_id) wins, whatever the row order"
    assert json.loads(str(person["provenance"]))["phone"] == {"source": "grid", "record_id": "g1"}
