"""MiniProgramClient against the simulated mini-program backend (cursor paging, app key)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from connectors.miniprogram import MiniProgramClient
from connectors.simulated.miniprogram_server import MiniProgramServer
from hub_errors import SourceError


def test_follows_the_cursor_to_the_end(bench_small: Path) -> None:
    with (bench_small / "resident_events.csv").open(encoding="utf-8", newline="") as handle:
        expected = list(csv.DictReader(handle))
    with MiniProgramServer(bench_small / "resident_events.csv", app_key="k1") as server:
        rows = list(MiniProgramClient(server.url, app_key="k1", limit=9).iter_events())
        assert server.request_count == -(-len(expected) // 9)
    assert all(row.pop("updated_at") for row in rows)  # the platform stamps every event
    assert rows == expected


def test_wrong_app_key_is_refused(bench_small: Path) -> None:
    with (
        MiniProgramServer(bench_small / "resident_events.csv", app_key="k1") as server,
        pytest.raises(SourceError, match="HTTP 403"),
    ):
        list(MiniProgramClient(server.url, app_key="other").iter_events())


def test_recovers_from_throttling_mid_stream(bench_small: Path) -> None:
    with MiniProgramServer(bench_small / "resident_events.csv") as server:

        def throttle_after_first_page(attempt_no: int, outcome: object) -> None:
            if server.request_count == 1:
                server.fail_next(1, status=429, retry_after="0")

        client = MiniProgramClient(server.url, limit=10, backoff=0.01, on_attempt=throttle_after_first_page)
        ids = [row["event_id"] for row in client.iter_events()]
        pages = -(-len(ids) // 10)
        assert server.request_count == pages + 1
    assert len(ids) == len(set(ids)) > 10
    assert client.last_pull is not None and client.last_pull.received == client.last_pull.expected_total == len(ids)
