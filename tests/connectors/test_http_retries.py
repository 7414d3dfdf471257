"""request_with_retries against real loopback servers that fail on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from connectors.http import JsonApiClient, make_session, request_with_retries, retry_after_seconds
from connectors.simulated.miniprogram_server import MiniProgramServer
from hub_errors import DeliveryError, SourceError

ONE_EVENT = [{"event_id": "RE1", "category": "噪音", "updated_at": "2026-01-05T09:00:00+08:00"}]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MiniProgramServer]:
    events = tmp_path / "resident_events.csv"
    events.write_text("event_id,category\nRE1,噪音\n", encoding="utf-8")
    with MiniProgramServer(events) as running:
        yield running


def test_recovers_after_server_errors_and_reports_every_attempt(server: MiniProgramServer) -> None:
    server.fail_next(2, status=503)
    attempts: list[tuple[int, object]] = []
    waits: list[float] = []
    response = request_with_retries(
        requests.Session(),
        "GET",
        server.url + "/api/events",
        backoff=0.01,
        on_attempt=lambda n, outcome: attempts.append((n, getattr(outcome, "status_code", outcome))),
        sleep=waits.append,
    )
    assert response.json()["data"] == ONE_EVENT
    assert attempts == [(1, 503), (2, 503), (3, 200)]
    assert waits == [0.01, 0.02]


def test_retry_after_seconds_is_honoured_and_capped(server: MiniProgramServer) -> None:
    server.fail_next(2, status=429, retry_after="7")
    waits: list[float] = []
    request_with_retries(
        requests.Session(), "GET", server.url + "/api/events", backoff=0.01, max_backoff=5, sleep=waits.append
    )
    assert waits == [5, 5]


def test_retry_after_really_waits(server: MiniProgramServer) -> None:
    server.fail_next(1, status=429, retry_after="1")
    started = datetime.now(UTC)
    request_with_retries(requests.Session(), "GET", server.url + "/api/events", backoff=0.01)
    assert (datetime.now(UTC) - started).total_seconds() >= 0.95


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    response = requests.Response()
    response.headers["Retry-After"] = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert retry_after_seconds(response, now=now) == 42
    response.headers["Retry-After"] = "soon"
    assert retry_after_seconds(response, now=now) is None


def test_gives_up_with_url_status_and_body(server: MiniProgramServer) -> None:
    server.fail_next(10, status=500)
    with pytest.raises(SourceError, match=r"after 3 attempts.*HTTP 500.*injected failure") as caught:
        request_with_retries(requests.Session(), "GET", server.url + "/api/events", attempts=3, backoff=0)
    assert server.url + "/api/events" in str(caught.value)
    assert server.request_count == 3


def test_client_errors_are_not_retried_and_error_class_is_the_callers(server: MiniProgramServer) -> None:
    with pytest.raises(DeliveryError, match="HTTP 404"):
        request_with_retries(
            make_session("secret"), "POST", server.url + "/nowhere", backoff=0, error_cls=DeliveryError
        )
    assert server.request_count == 1


def test_connection_refused_is_retried_then_reported() -> None:
    seen: list[object] = []
    with pytest.raises(SourceError, match="connection failed"):
        request_with_retries(
            requests.Session(),
            "GET",
            "http://127.0.0.1:9/",
            attempts=2,
            backoff=0,
            on_attempt=lambda n, outcome: seen.append(type(outcome)),
        )
    assert seen == [requests.ConnectionError, requests.ConnectionError]


def test_make_session_sets_bearer_token() -> None:
    assert make_session("abc").headers["Authorization"] == "Bearer abc"
    assert "Authorization" not in make_session().headers


def test_get_page_returns_the_listing_or_names_the_missing_key(server: MiniProgramServer) -> None:
    client = JsonApiClient(server.url, backoff=0)
    body, items = client.get_page("/api/events", {"limit": 5}, "data")
    assert items == ONE_EVENT and body["next_cursor"] is None
    with pytest.raises(
        SourceError, match=r"/api/events .*has no 'items' list; got keys \['data', 'next_cursor', 'total'\]"
    ):
        client.get_page("/api/events", {"limit": 5}, "items")
