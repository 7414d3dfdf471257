"""Progress of a long run, step by step with counts, for the person waiting at the terminal.

A Dagster logger (`progress`): the demo switches it on in its run config, and every asset written
prints one line (`  [3] std_residents: 39,565 rows (12.4 s)`); step failures print too. Runs launched
from the UI leave it off.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

import dagster as dg

LOG_RECORD_EVENT_ATTR = "dagster_event"


class ProgressHandler(logging.Handler):
    """Prints one line per asset materialization and per failed step, with the time since the start."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(level=logging.DEBUG)
        self.stream = stream
        self.started = time.perf_counter()
        self.written = 0

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, LOG_RECORD_EVENT_ATTR, None)
        if event is None:
            return
        line = self.describe(event)
        if line:
            print(line, file=self.stream or sys.stderr, flush=True)

    def describe(self, event: dg.DagsterEvent) -> str | None:
        elapsed = f"{time.perf_counter() - self.started:.1f} s"
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            rows = materialization.metadata.get("rows")
            count = f"{int(rows.value):,} rows" if rows is not None else "written"  # type: ignore[arg-type]
            self.written += 1
            return f"  [{self.written}] {materialization.asset_key.to_user_string()}: {count} ({elapsed})"
        if event.is_step_failure:
            return f"  step {event.step_key} failed ({elapsed})"
        return None


@dg.logger(config_schema={}, description="One line per asset written, with its row count (hub demo switches it on).")
def progress_logger(_init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("hub.progress")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.handlers = [ProgressHandler()]
    return logger
