"""District-partitioned resident linking through Dagster: one district re-run alone, the city reconciled."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from dedup import pairwise_scores
from pipelines.assets.districts import (
    city_person_clusters,
    district_partitions,
    district_person_clusters,
    record_districts,
)
from pipelines.resources.warehouse import PartitionedTableIOManager, WarehouseIOManager, WarehouseResource
from pipelines.warehouse import Warehouse

STD = dg.SourceAsset("std_residents")


@pytest.fixture
def residents(bench_small_residents: pd.DataFrame) -> pd.DataFrame:
    return bench_small_residents


def resources(url: str) -> dict[str, object]:
    return {
        "io_manager": WarehouseIOManager(url=url),
        "district_io_manager": PartitionedTableIOManager(url=url),
        "warehouse": WarehouseResource(url=url),
    }


def link_district(url: str, district: str) -> None:
    result = dg.materialize(
        [STD, district_person_clusters], partition_key=district, resources=resources(url), raise_on_error=True
    )
    assert result.success


def test_one_district_is_re_linked_alone_and_the_others_keep_their_rows(
    tmp_path: Path, residents: pd.DataFrame
) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    store = Warehouse.from_url(url)
    store.write_table("std_residents", residents, run_id="std-1")
    present = sorted(set(record_districts(residents)))
    assert len(present) >= 3 and set(present) <= set(district_partitions.get_partition_keys())
    for district in present:
        link_district(url, district)
    before = store.read_table("district_person_clusters")
    assert len(before) == len(residents) and set(before["district"]) == set(present)

    target = present[0]
    gone = residents[(record_districts(residents) == target).to_numpy()].iloc[0]
    day2 = residents[~((residents["source"] == gone["source"]) & (residents["record_id"] == gone["record_id"]))]
    store.write_table("std_residents", day2, run_id="std-2")
    link_district(url, target)

    after = store.read_table("district_person_clusters")
    assert len(after) == len(before) - 1
    assert not ((after["source"] == gone["source"]) & (after["record_id"] == gone["record_id"])).any()
    untouched = before[before["district"] != target].sort_values(["source", "record_id"]).reset_index(drop=True)
    kept = after[after["district"] != target].sort_values(["source", "record_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(untouched, kept)
    models = store.read_table("district_link_models")
    assert sorted(models["district"]) == present


def test_the_city_step_joins_people_registered_in_two_districts(
    tmp_path: Path, residents: pd.DataFrame, bench_small: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    store = Warehouse.from_url(url)
    store.write_table("std_residents", residents, run_id="std-1")
    for district in sorted(set(record_districts(residents))):
        link_district(url, district)
    by_district = store.read_table("district_person_clusters")
    result = dg.materialize(
        [STD, district_person_clusters, city_person_clusters],
        selection=[city_person_clusters],
        resources=resources(url),
    )
    assert result.success
    city = store.read_table("city_person_clusters")
    assert len(city) == len(residents)
    (materialization,) = result.asset_materializations_for_node("city_person_clusters")
    assert materialization.metadata["persons_in_several_districts"].value > 0
    truth = pd.read_csv(bench_small / "truth_residents.csv", dtype=str)
    partitioned = pairwise_scores(truth, by_district[["source", "record_id", "cluster_id"]])
    reconciled = pairwise_scores(truth, city[["source", "record_id", "cluster_id"]])
    assert reconciled.recall > partitioned.recall
    assert reconciled.precision >= 0.99 and reconciled.f1 >= 0.99


def test_a_district_backfill_cannot_take_every_run_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.demo import prepare_dagster_home

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_monitoring:\n  enabled: true\n")
    prepare_dagster_home(tmp_path)  # an instance configured before the limits existed gets them added
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
    assert {"key": "dagster/backfill", "limit": 1} in config.run_queue_config.tag_concurrency_limits
    assert config.pool_config.default_pool_limit is not None and config.pool_config.default_pool_limit >= 1
    assert district_person_clusters.op.pool == "district_linking"
