"""The simulated department inbox: real HTTP on loopback, idempotency, injected failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.simulated.department_inbox import DepartmentInbox


@pytest.fixture
def inbox() -> Iterator[DepartmentInbox]:
    with DepartmentInbox() as server:
        yield server


def post(url: str, key: str, rows: list[dict[str, str]]) -> requests.Response:
    return requests.post(url, json={"rows": rows}, headers={"Idempotency-Key": key}, timeout=5)


def test_accepts_a_batch_once_per_idempotency_key(inbox: DepartmentInbox) -> None:
    url = inbox.url_for("civil")
    assert url.startswith("http://127.0.0.1:")
    first = post(url, "k1", [{"姓名": "张三"}])
    again = post(url, "k1", [{"姓名": "张三"}])
    assert first.json()["status"] == "accepted"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert inbox.keys("civil") == ["k1"]
    assert inbox.rows("civil") == [{"姓名": "张三"}]
    assert inbox.keys("grid") == []
    assert [request.status for request in inbox.requests] == [200, 200]


def test_injected_failures_then_recovery(inbox: DepartmentInbox) -> None:
    inbox.fail_next(2, 429, retry_after="0")
    url = inbox.url_for("health")
    answers = [post(url, f"k{n}", []) for n in range(3)]
    assert [answer.status_code for answer in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "0"
    assert inbox.keys("health") == ["k2"]
    assert [(r.department, r.idempotency_key, r.status) for r in inbox.requests] == [
        ("health", "k0", 429),
        ("health", "k1", 429),
        ("health", "k2", 200),
    ]


def test_refuses_requests_without_key_or_json(inbox: DepartmentInbox) -> None:
    url = inbox.url_for("grid")
    assert requests.post(url, json={"rows": []}, timeout=5).status_code == 400
    bad_body = requests.post(url, data=b"not json", headers={"Idempotency-Key": "k"}, timeout=5)
    assert bad_body.status_code == 400
    assert (
        requests.post(
            f"{inbox.url}/elsewhere", json={"rows": []}, headers={"Idempotency-Key": "k"}, timeout=5
        ).status_code
        == 404
    )
    assert requests.get(url, headers={"Idempotency-Key": "k"}, timeout=5).status_code == 404
    assert inbox.batches == []
    assert inbox.request_count == 4


def test_write_received_saves_each_department(inbox: DepartmentInbox, tmp_path: Path) -> None:
    post(inbox.url_for("grid"), "a", [{"x": "1"}])
    paths = inbox.write_received(tmp_path)
    saved = json.loads(paths["grid"].read_text(encoding="utf-8"))
    assert saved == [{"idempotency_key": "a", "rows": [{"x": "1"}]}]
