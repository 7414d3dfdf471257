"""Paged pulls against simulated servers that misbehave on purpose: every pull ends, on time, with
every record once or with a SourceError naming source, URL, page and why (never a record's content)."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.grid_api import GridApiClient, Paging
from connectors.http import JsonApiClient, as_raw_row
from connectors.miniprogram import MiniProgramClient
from connectors.paging import LatestById, PullGuard
from connectors.simulated import grid_server as grid_faults
from connectors.simulated import miniprogram_server as mini_faults
from connectors.simulated.grid_server import GridServer
from connectors.simulated.loopback import MALFORMED_JSON, TRICKLE, TRICKLE_HEAD
from connectors.simulated.miniprogram_server import MiniProgramServer
from hub_errors import SourceError

TOKEN = "grid-fault-token"
IDS = {"residents": "记录编号", "events": "事件编号"}
BOUND_SECONDS = 30.0
"""Far below what the faults would take unguarded (forever, or hours for a trickled body)."""


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def grid(bench_small: Path) -> Iterator[GridServer]:
    with GridServer(bench_small / "grid_residents.csv", bench_small / "grid_events.csv", token=TOKEN) as server:
        yield server


@pytest.fixture
def mini(bench_small: Path) -> Iterator[MiniProgramServer]:
    with MiniProgramServer(bench_small / "resident_events.csv") as server:
        yield server


def grid_client(server: GridServer, paging: Paging = "keyset", **options: float) -> GridApiClient:
    return GridApiClient(server.url, TOKEN, page_size=40, paging=paging, id_fields=IDS, backoff=0.01, **options)  # type: ignore[arg-type]


def pull_failure(pull: Iterator[object]) -> tuple[str, float]:
    """The SourceError a pull ends with, and how long it took to say so."""
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        list(pull)
    return str(caught.value), time.monotonic() - started


def record_values(rows: list[dict[str, str]]) -> set[str]:
    """Every value long enough to identify someone (names, ID numbers, phones, addresses)."""
    return {value for row in rows for value in row.values() if len(value) >= 2}


@pytest.mark.parametrize("paging", ["keyset", "page"])
def test_a_server_ignoring_the_page_and_always_saying_has_more_is_stopped_at_page_2(
    grid: GridServer, paging: Paging
) -> None:
    grid.inject(grid_faults.IGNORE_PAGE)
    message, _ = pull_failure(grid_client(grid, paging).iter_residents())
    assert "grid" in message and f"{grid.url}/api/v1/residents" in message
    assert "page 2" in message and "same records as on page 1" in message
    assert grid.request_count == 2


@pytest.mark.parametrize("paging", ["keyset", "page"])
def test_pages_past_the_servers_total_hit_the_ceiling_derived_from_it(
    grid: GridServer, bench_small: Path, paging: Paging
) -> None:
    grid.inject(grid_faults.BEYOND_TOTAL)
    total = len(csv_rows(bench_small / "grid_residents.csv"))
    ceiling = -(-total // 40) + 2
    message, _ = pull_failure(grid_client(grid, paging).iter_residents())
    assert f"page {ceiling + 1}" in message and f"holds {total} records" in message
    assert grid.request_count == ceiling


def test_max_pages_caps_a_pull_whatever_the_total_says(mini: MiniProgramServer) -> None:
    client = MiniProgramClient(mini.url, limit=5, max_pages=3)
    message, _ = pull_failure(client.iter_events())
    assert "page 4" in message and "max_pages" in message
    assert mini.request_count == 3


def test_a_cursor_going_round_in_a_circle_is_stopped(mini: MiniProgramServer) -> None:
    mini.inject(mini_faults.CURSOR_CYCLE)
    message, _ = pull_failure(MiniProgramClient(mini.url, limit=5).iter_events())
    assert "resident" in message and f"{mini.url}/api/events" in message
    assert "page 3" in message and "page 1 already gave" in message
    assert mini.request_count == 3


def test_a_platform_ignoring_the_cursor_is_stopped_on_the_repeated_page(mini: MiniProgramServer) -> None:
    mini.inject(mini_faults.IGNORE_CURSOR)
    message, _ = pull_failure(MiniProgramClient(mini.url, limit=5).iter_events())
    assert "page 2" in message and "same records as on page 1" in message


@pytest.mark.parametrize("fault", [grid_faults.EMPTY_PAGE_HAS_MORE, grid_faults.NO_MORE_AT_FIRST_PAGE])
def test_a_grid_server_stopping_early_is_a_shortfall_not_a_success(
    grid: GridServer, bench_small: Path, fault: str
) -> None:
    grid.inject(fault)
    total = len(csv_rows(bench_small / "grid_residents.csv"))
    client = grid_client(grid)
    message, _ = pull_failure(client.iter_residents())
    assert f"{grid.url}/api/v1/residents" in message
    if fault == grid_faults.EMPTY_PAGE_HAS_MORE:
        assert "page 2" in message and "empty page" in message
    else:
        assert f"40 records, but the server said it holds {total}; {total - 40} are missing" in message
    assert client.last_pull is None


@pytest.mark.parametrize("fault", [mini_faults.EMPTY_PAGE_WITH_CURSOR, mini_faults.DROP_CURSOR])
def test_a_platform_stopping_early_is_a_shortfall_not_a_success(
    mini: MiniProgramServer, bench_small: Path, fault: str
) -> None:
    mini.inject(fault)
    total = len(csv_rows(bench_small / "resident_events.csv"))
    message, _ = pull_failure(MiniProgramClient(mini.url, limit=5).iter_events())
    if fault == mini_faults.EMPTY_PAGE_WITH_CURSOR:
        assert "page 2" in message and "empty page" in message
    else:
        assert f"5 records, but the server said it holds {total}" in message


def test_a_complete_pull_exposes_expected_and_received_counts(grid: GridServer, bench_small: Path) -> None:
    total = len(csv_rows(bench_small / "grid_residents.csv"))
    client = grid_client(grid)
    rows = list(client.iter_residents())
    assert client.last_pull is not None
    assert (client.last_pull.expected_total, client.last_pull.received, len(rows)) == (total, total, total)
    assert client.last_pull.pages == grid.request_count == -(-total // 40)


@pytest.mark.parametrize(("server_kind", "interval"), [("grid", 0.1), ("mini", 0.1), ("grid", 20.0)])
def test_a_trickling_body_is_cut_by_the_pull_deadline(
    grid: GridServer, mini: MiniProgramServer, server_kind: str, interval: float
) -> None:
    server = grid if server_kind == "grid" else mini
    server.trickle_interval = interval
    server.inject(TRICKLE)
    pull = (
        grid_client(grid, pull_deadline=1.0).iter_residents()
        if server_kind == "grid"
        else MiniProgramClient(mini.url, limit=5, pull_deadline=1.0).iter_events()
    )
    message, seconds = pull_failure(pull)
    assert "deadline passed" in message and "bytes received" in message
    assert seconds < BOUND_SECONDS


def test_retries_stop_at_the_pull_deadline(grid: GridServer) -> None:
    grid.fail_next(100, status=503, retry_after="20")
    message, seconds = pull_failure(grid_client(grid, pull_deadline=2.0).iter_residents())
    assert "HTTP 503" in message and "deadline" in message
    assert seconds < BOUND_SECONDS and grid.request_count == 1


@pytest.mark.parametrize("server_kind", ["grid", "mini"])
def test_malformed_json_is_reported_without_a_word_of_the_records(
    grid: GridServer, mini: MiniProgramServer, bench_small: Path, server_kind: str
) -> None:
    if server_kind == "grid":
        grid.inject(MALFORMED_JSON)
        pull: Iterator[object] = grid_client(grid).iter_residents()
        served = csv_rows(bench_small / "grid_residents.csv")[:40]
    else:
        mini.inject(MALFORMED_JSON)
        pull = MiniProgramClient(mini.url, limit=5).iter_events()
        served = csv_rows(bench_small / "resident_events.csv")[:5]
    message, _ = pull_failure(pull)
    assert "did not return valid JSON" in message and "HTTP 200" in message and "application/json" in message
    assert "bytes" in message and "column" in message
    leaked = [value for value in record_values(served) if value in message]
    assert leaked == []


def test_an_error_answer_of_a_data_endpoint_is_not_quoted(grid: GridServer) -> None:
    grid.fail_next(10, status=500)
    message, _ = pull_failure(GridApiClient(grid.url, TOKEN, attempts=2, backoff=0).iter_residents())
    assert "HTTP 500 (application/json" in message and "page=1" in message
    assert "injected failure" not in message


def test_an_item_that_is_not_an_object_is_named_by_position_only() -> None:
    with pytest.raises(SourceError) as caught:
        as_raw_row(["张三", "350603194807060013"], source="grid", url="http://x/api", position="page 3, item 7")
    assert "page 3, item 7" in str(caught.value) and "list" in str(caught.value)
    assert "张三" not in str(caught.value) and "350603194807060013" not in str(caught.value)


def test_a_record_edited_between_two_pages_arrives_once_in_its_latest_version(
    grid: GridServer, bench_small: Path
) -> None:
    expected_ids = [row["记录编号"] for row in csv_rows(bench_small / "grid_residents.csv")]
    grid.edit_changes = {"联系电话": "13900000000"}
    grid.inject(grid_faults.EDIT_MID_PULL)
    client = grid_client(grid)
    rows = list(client.iter_residents())
    assert grid.edited == [expected_ids[0]]
    assert sorted(row["记录编号"] for row in rows) == sorted(expected_ids)
    edited = next(row for row in rows if row["记录编号"] == expected_ids[0])
    assert edited["联系电话"] == "13900000000"
    assert edited["updated_at"] == max(row["updated_at"] for row in rows)
    assert client.last_pull is not None and client.last_pull.superseded == 1
    assert client.last_pull.rows_pulled == len(expected_ids) + 1


def test_number_paging_under_an_edit_fails_clearly_instead_of_losing_a_record(grid: GridServer) -> None:
    grid.inject(grid_faults.EDIT_MID_PULL)
    message, _ = pull_failure(grid_client(grid, "page").iter_residents())
    assert "1 are missing" in message


def test_keyset_paging_follows_the_server_and_keeps_page_paging_working(grid: GridServer, bench_small: Path) -> None:
    expected = [row["记录编号"] for row in csv_rows(bench_small / "grid_residents.csv")]
    for paging in ("keyset", "page"):
        rows = list(grid_client(grid, paging).iter_residents())  # type: ignore[arg-type]
        assert [row["记录编号"] for row in rows] == expected
    answer = requests.get(
        f"{grid.url}/api/v1/residents",
        params={"page_size": 2, "after_updated_at": rows[0]["updated_at"], "after_id": expected[0]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    assert [item["记录编号"] for item in answer["items"]] == expected[1:3]
    assert answer["total"] == len(expected)


def test_a_record_pulled_twice_keeps_its_newest_version() -> None:
    kept = LatestById("id")
    kept.add({"id": "A", "v": "new", "updated_at": "2026-01-05T09:00:00+08:00"})
    kept.add({"id": "B", "v": "b", "updated_at": "2026-01-05T08:00:00+08:00"})
    kept.add({"id": "A", "v": "old", "updated_at": "2026-01-05T00:30:00+00:00"})
    kept.add({"id": "B", "v": "b2", "updated_at": "2026-01-05T08:00:01+08:00"})
    kept.add({"id": "", "v": "no id"})
    kept.add({"id": "B", "v": "b2", "updated_at": "2026-01-05T08:00:01+08:00"})
    assert [row["v"] for row in kept] == ["new", "b2", "no id"]
    assert (len(kept), kept.superseded) == (3, 3)


def test_two_records_sharing_an_id_are_both_kept_for_the_schema_to_quarantine() -> None:
    kept = LatestById("id")
    kept.add({"id": "A", "name": "one", "updated_at": "2026-01-05T09:00:00+08:00"})
    kept.add({"id": "A", "name": "other", "updated_at": "2026-01-05T09:00:00+08:00"})
    assert [row["name"] for row in kept] == ["one", "other"] and kept.superseded == 0


def test_the_guard_refuses_to_go_past_its_deadline() -> None:
    guard = PullGuard(source="grid", url="http://x/api", deadline_seconds=0.0, max_pages=10)
    time.sleep(0.01)
    with pytest.raises(SourceError, match=r"grid: pull from http://x/api stopped at page 1: the pull's deadline"):
        guard.before_request(1)


def test_unknown_fault_names_are_refused(grid: GridServer) -> None:
    with pytest.raises(ValueError, match="ignore_page"):
        grid.inject("ignore_pages")


def test_json_api_client_single_calls_are_bounded_too(mini: MiniProgramServer) -> None:
    mini.trickle_interval = 0.1
    mini.inject(TRICKLE)
    started = time.monotonic()
    with pytest.raises(SourceError, match="deadline passed"):
        JsonApiClient(mini.url, pull_deadline=0.5).get_json("/api/events", {"limit": 5})
    assert time.monotonic() - started < BOUND_SECONDS


def test_an_oversized_answer_is_cut_at_max_page_bytes(grid: GridServer) -> None:
    client = GridApiClient(grid.url, TOKEN, page_size=40, max_page_bytes=2000)
    message, _ = pull_failure(client.iter_residents())
    assert "grid: page 1" in message and "larger than 2000 bytes" in message


def test_keyset_paging_with_updated_since_counts_only_the_changes(grid: GridServer) -> None:
    client = grid_client(grid)
    everything = list(client.iter_residents())
    cursor = client.latest_updated_at
    changed_ids = [everything[5]["记录编号"], everything[90]["记录编号"]]
    for record_id in changed_ids:
        grid.residents.touch(record_id, 联系电话="13900000001")
    changed = list(client.iter_residents(updated_since=cursor))
    assert [row["记录编号"] for row in changed] == changed_ids
    assert client.last_pull is not None and client.last_pull.expected_total == client.last_pull.received == 2


def test_a_trickling_status_line_and_headers_are_cut_by_the_pull_deadline(grid: GridServer) -> None:
    grid.trickle_interval = 0.1
    grid.inject(TRICKLE_HEAD)
    message, seconds = pull_failure(grid_client(grid, pull_deadline=1.0, timeout=(5, 60)).iter_residents())
    assert "grid: page 1" in message and "no complete answer when the pull's deadline passed" in message
    assert seconds < BOUND_SECONDS
