"""The warehouse as a Dagster resource, and as the IO manager that stores every asset as a table."""

from __future__ import annotations

from functools import lru_cache

import dagster as dg
import pandas as pd

from pipelines.warehouse import Warehouse, WarehouseError


@lru_cache(maxsize=8)
def warehouse_for(url: str) -> Warehouse:
    """One Warehouse (and connection pool) per URL for the whole process."""
    return Warehouse.from_url(url)


class WarehouseResource(dg.ConfigurableResource):
    """SQLAlchemy warehouse: SQLite file by default, PostgreSQL through HUB_DATABASE_URL."""

    url: str

    def get(self) -> Warehouse:
        return warehouse_for(self.url)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Each asset's DataFrame becomes the warehouse table of the same name, replaced every run.

    Stewards can then query any stage (raw, standardized, persons, reports) with plain SQL.
    """

    url: str

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        """Replace the table; under the run lock, so two runs never replace one table at once."""
        table = "_".join(context.asset_key.path)
        warehouse = warehouse_for(self.url)
        with warehouse.run_lock(context.run_id):
            warehouse.write_table(table, obj, context.run_id)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """The whole table, or only the columns the input names (``AssetIn(metadata={"columns": [...]})``)."""
        table = "_".join(context.asset_key.path)
        columns = (context.definition_metadata or {}).get("columns")
        return warehouse_for(self.url).read_table(table, columns=list(columns) if columns else None)


class WrittenTableIOManager(WarehouseIOManager):
    """For an asset that writes its own table together with other rows in one transaction (the person
    lineage with its id history): storing is already done, loading reads the table as usual."""

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        table = "_".join(context.asset_key.path)
        written = warehouse_for(self.url).table_run(table)
        if written is None or written["run_id"] != context.run_id:
            raise WarehouseError(f"asset {table} was expected to have written its own table in run {context.run_id}")


class CurrentTableIOManager(WrittenTableIOManager):
    """For the current standardized records, which the standardize step writes itself (only a day's
    changes): loading gives them in one order whatever order the rows were written in (each table's
    sources in ``source_orders``' order, then record id), as a full rewrite would."""

    source_orders: dict[str, list[str]]

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        frame = super().load_input(context)
        table = "_".join(context.asset_key.path)
        rank = {source: position for position, source in enumerate(self.source_orders.get(table, []))}
        if frame.empty or not {"source", "record_id"} <= set(frame.columns):
            return frame
        order = pd.DataFrame(
            {"rank": frame["source"].map(rank).fillna(len(rank)), "record_id": frame["record_id"].astype(str)}
        )
        return frame.loc[order.sort_values(["rank", "record_id"], kind="stable").index].reset_index(drop=True)


class PartitionedTableIOManager(WarehouseIOManager):
    """A district-partitioned asset: its run replaces only its partition's rows of the table (the
    ``district`` column), and a reader gets the rows of the partitions it asks for."""

    column: str = "district"

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        table = "_".join(context.asset_key.path)
        warehouse = warehouse_for(self.url)
        if not context.has_asset_partitions:
            super().handle_output(context, obj)
            return
        key = context.asset_partition_key
        if not obj.empty and set(obj[self.column].astype(str)) != {key}:
            raise WarehouseError(f"asset {table}, partition {key}: rows of other partitions in the output")
        with warehouse.run_lock(context.run_id):
            warehouse.replace_partition(table, obj, self.column, key, context.run_id)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = "_".join(context.asset_key.path)
        if not context.has_asset_partitions:
            return super().load_input(context)
        return warehouse_for(self.url).read_partitions(table, self.column, context.asset_partition_keys)
