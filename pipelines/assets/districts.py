"""Resident linking partitioned by district (区县), and the city-wide reconciliation over it.

`district_person_clusters` has one Dagster partition per district of pipelines/config/districts.yaml:
a run for one district links that district's records only (its own learned weights, steward decisions
honoured) and replaces only that district's rows, so a district can be re-run, backfilled or scheduled
on its own and districts run in parallel on workers. `city_person_clusters` then joins the clusters of
people registered in two districts (dedup.reconcile: only records sharing an identifier across
districts are compared). Both are outside the main job (`hub demo` links the city at once); they run
as the `district_linking` (partitioned) and `city_reconciliation` jobs. The district step is in the
`district_linking` concurrency pool and backfill runs are limited by run tag (the instance's
dagster.yaml), so a backfill of every district cannot take the slots the daily runs need.
"""

import dagster as dg
import pandas as pd

from dedup import RESIDENT_FIELDS, link
from dedup.incremental import model_from_json, model_to_json
from dedup.presets import RESIDENT_VALIDITY
from dedup.reconcile import reconcile
from pipelines.districts import DISTRICT_COLUMN, assign_districts, load_districts
from pipelines.memory import release_memory_after_step
from pipelines.metadata import frame_metadata
from pipelines.resources.warehouse import WarehouseResource

GROUP = "districts"
POOL = "district_linking"
MODELS_TABLE = "district_link_models"
CLUSTER_COLUMNS = ["source", "record_id", DISTRICT_COLUMN, "cluster_id"]

district_partitions = dg.StaticPartitionsDefinition(load_districts().partition_keys)


def record_districts(residents: pd.DataFrame) -> pd.Series:
    """Each standardized resident record's district: ID region code, else its address."""
    text = [residents[column].astype("string").fillna("") for column in ("addr_district", "address")]
    places = text[0] + " " + text[1]
    return assign_districts(residents["id_no"], places)


@dg.asset(
    group_name=GROUP,
    partitions_def=district_partitions,
    io_manager_key="district_io_manager",
    pool=POOL,
    kinds={"python"},
)
def district_person_clusters(
    context: dg.AssetExecutionContext, std_residents: pd.DataFrame, warehouse: WarehouseResource
) -> pd.DataFrame:
    """One district's resident records linked into persons (cluster ids prefixed by the district)."""
    district = context.partition_key
    records = std_residents[(record_districts(std_residents) == district).to_numpy()].reset_index(drop=True)
    store = warehouse.get()
    if records.empty:
        context.add_output_metadata({"records": dg.MetadataValue.int(0)})
        return pd.DataFrame(columns=CLUSTER_COLUMNS)
    result = link(records, RESIDENT_FIELDS, decisions=store.decisions(), validity=RESIDENT_VALIDITY)
    clusters = result.clusters.assign(**{DISTRICT_COLUMN: district})
    clusters["cluster_id"] = district + ":" + clusters["cluster_id"].astype(str)
    model = pd.DataFrame(
        {DISTRICT_COLUMN: [district], "records": [len(records)], "model": [model_to_json(result.model)]}
    )
    with store.run_lock(context.run_id):
        store.replace_partition(MODELS_TABLE, model, DISTRICT_COLUMN, district, context.run_id)
    context.add_output_metadata(
        frame_metadata(
            clusters,
            persons=dg.MetadataValue.int(clusters["cluster_id"].nunique()),
            seconds_per_stage=dg.MetadataValue.json({k: round(v, 3) for k, v in result.timings.items()}),
        )
    )
    return clusters[CLUSTER_COLUMNS]


@dg.asset(
    group_name=GROUP,
    ins={"district_person_clusters": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"python"},
)
def city_person_clusters(
    context: dg.AssetExecutionContext,
    std_residents: pd.DataFrame,
    district_person_clusters: pd.DataFrame,
    warehouse: WarehouseResource,
) -> pd.DataFrame:
    """The districts' clusters joined city-wide: a person registered in two districts is one person."""
    districts = load_districts()
    keys = std_residents[["source", "record_id"]].astype(str)
    clusters = district_person_clusters.astype({"source": str, "record_id": str})
    placed = keys.merge(clusters, on=["source", "record_id"], how="left", validate="one_to_one")
    unlinked = placed["cluster_id"].isna()
    placed.loc[unlinked, DISTRICT_COLUMN] = record_districts(std_residents)[unlinked.to_numpy()].to_numpy()
    unlinked_ids = "unlinked:" + placed.loc[unlinked, "source"] + ":" + placed.loc[unlinked, "record_id"]
    placed.loc[unlinked, "cluster_id"] = unlinked_ids
    models = warehouse.get().read_table(MODELS_TABLE)
    model = model_from_json(str(models.sort_values("records", ascending=False)["model"].iloc[0]))
    outcome = reconcile(
        std_residents,
        RESIDENT_FIELDS,
        placed[DISTRICT_COLUMN].to_numpy(),
        placed["cluster_id"].to_numpy(),
        model,
        identifiers=districts.reconcile_on,
        validity=RESIDENT_VALIDITY,
    )
    city = placed.assign(cluster_id=outcome.clusters)
    spanning = city.groupby("cluster_id")[DISTRICT_COLUMN].nunique()
    context.add_output_metadata(
        frame_metadata(
            city,
            persons=dg.MetadataValue.int(city["cluster_id"].nunique()),
            persons_in_several_districts=dg.MetadataValue.int(int((spanning > 1).sum())),
            records_not_yet_linked_in_their_district=dg.MetadataValue.int(int(unlinked.sum())),
            boundary_records=dg.MetadataValue.int(outcome.boundary_records),
            candidate_pairs=dg.MetadataValue.int(outcome.candidate_pairs),
            joined=dg.MetadataValue.int(outcome.joined),
        )
    )
    city["cluster_id"] = city["cluster_id"].astype(str)
    return city[CLUSTER_COLUMNS].sort_values("cluster_id", kind="stable").reset_index(drop=True)


district_linking_job = dg.define_asset_job(
    "district_linking",
    selection=dg.AssetSelection.assets(district_person_clusters),
    partitions_def=district_partitions,
    description="Link one district's residents (a partition); backfill every district to rebuild the city.",
    hooks={release_memory_after_step},
)
city_reconciliation_job = dg.define_asset_job(
    "city_reconciliation",
    selection=dg.AssetSelection.assets(city_person_clusters),
    description="Join the persons registered in two districts, over the districts' latest clusters.",
    hooks={release_memory_after_step},
)
district_assets = [district_person_clusters, city_person_clusters]
district_jobs = [district_linking_job, city_reconciliation_job]
