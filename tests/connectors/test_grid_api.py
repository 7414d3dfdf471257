"""GridApiClient against the simulated grid system over real loopback HTTP."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.grid_api import GridApiClient, GridSystem
from connectors.simulated.grid_server import GridServer
from hub_errors import SourceError

TOKEN = "grid-test-token"


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def grid(bench_small: Path) -> Iterator[GridServer]:
    residents, events = bench_small / "grid_residents.csv", bench_small / "grid_events.csv"
    with GridServer(residents, events, token=TOKEN) as server:
        yield server


def test_pages_to_the_end_with_every_row_once_and_unchanged(grid: GridServer, bench_small: Path) -> None:
    expected = csv_rows(bench_small / "grid_residents.csv")
    client: GridSystem = GridApiClient(grid.url, TOKEN, page_size=37)
    rows = list(client.iter_residents())
    assert [{k: v for k, v in row.items() if k != "updated_at"} for row in rows] == expected
    assert grid.request_count == -(-len(expected) // 37)
    assert all(isinstance(value, str) for row in rows for value in row.values())
    events = list(client.iter_events())
    expected_events = csv_rows(bench_small / "grid_events.csv")
    assert [row["事件编号"] for row in events] == [row["事件编号"] for row in expected_events]


def test_updated_since_cursor_returns_only_changes(grid: GridServer) -> None:
    client = GridApiClient(grid.url, TOKEN, page_size=50)
    everything = list(client.iter_residents())
    cursor = client.latest_updated_at
    assert cursor == everything[-1]["updated_at"]
    assert list(client.iter_residents(updated_since=cursor)) == []
    edited_id = everything[3]["记录编号"]
    grid.residents.touch(edited_id, 联系电话="13900000000")
    changed = list(client.iter_residents(updated_since=cursor))
    assert [(row["记录编号"], row["联系电话"]) for row in changed] == [(edited_id, "13900000000")]
    assert client.latest_updated_at is not None and client.latest_updated_at > cursor


def test_without_token_the_server_answers_401_and_the_client_says_so(grid: GridServer) -> None:
    with pytest.raises(SourceError, match="HTTP 401"):
        list(GridApiClient(grid.url, "wrong-token").iter_residents())
    assert grid.request_count == 1


def test_errors_then_recovery_yield_every_record_once(grid: GridServer, bench_small: Path) -> None:
    def fail_after_first_page(attempt_no: int, outcome: object) -> None:
        if grid.request_count == 1:
            grid.fail_next(2, status=500)

    client = GridApiClient(grid.url, TOKEN, page_size=100, backoff=0.01, on_attempt=fail_after_first_page)
    ids = [row["记录编号"] for row in client.iter_residents()]
    expected = [row["记录编号"] for row in csv_rows(bench_small / "grid_residents.csv")]
    assert ids == expected
    assert grid.request_count == -(-len(expected) // 100) + 2


def test_a_server_that_stays_down_raises_a_source_error(grid: GridServer) -> None:
    grid.fail_next(5, status=502)
    with pytest.raises(SourceError, match=r"grid|/api/v1/residents.*502"):
        list(GridApiClient(grid.url, TOKEN, attempts=3, backoff=0).iter_residents())


def test_bad_cursor_is_refused(grid: GridServer) -> None:
    with pytest.raises(SourceError, match=r"HTTP 400.*updated_since=yesterday"):
        list(GridApiClient(grid.url, TOKEN).iter_residents(updated_since="yesterday"))
