"""Full or incremental: how a run reads its sources, fixed once per run in the run tag ``hub/mode``.

``hub demo`` sets the tag (``--full``, or incremental when the warehouse holds a completed run).
An asset reads it with :func:`run_mode`; a run started without the tag (from the Dagster UI) is
incremental when the warehouse holds a completed run, full otherwise.
"""

from __future__ import annotations

from typing import Literal

import dagster as dg

from pipelines.warehouse import Warehouse

MODE_TAG = "hub/mode"
FULL = "full"
INCREMENTAL = "incremental"
Mode = Literal["full", "incremental"]


def default_mode(warehouse: Warehouse, *, full: bool = False) -> Mode:
    """Full when asked or when no run has completed on this warehouse yet; incremental otherwise."""
    return "full" if full or not warehouse.state.has_completed_run() else "incremental"


def tagged_mode(context: dg.AssetExecutionContext, *, untagged: Mode = "incremental") -> Mode:
    """The run's ``hub/mode`` tag; ``untagged`` for a run started without one (the stage then decides
    from its own state, e.g. no stored model or no earlier delivery means full)."""
    tag = context.run.tags.get(MODE_TAG)
    if tag in (FULL, INCREMENTAL):
        return "full" if tag == FULL else "incremental"
    return untagged


def run_mode(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Mode:
    """This run's mode: its ``hub/mode`` tag, else the warehouse's default."""
    return tagged_mode(context, untagged=default_mode(warehouse))
