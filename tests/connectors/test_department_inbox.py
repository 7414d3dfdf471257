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
    assert first.json() == {"status": "accepted", "idempotency_key": "k1", "accepted": 1}
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "idempotency_key": "k1", "accepted": 1}
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


def test_login_page_fault_answers_200_with_html_and_stores_nothing(inbox: DepartmentInbox) -> None:
    inbox.serve_login_page(1)
    url = inbox.url_for("civil")
    page = post(url, "k1", [{"x": "1"}])
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "登录" in page.text
    assert inbox.batches == [] and inbox.holdings("civil") == []
    assert post(url, "k1", [{"x": "1"}]).json()["status"] == "accepted"


def batch_body(report: str, number: int, count: int, rows: list[dict[str, str]]) -> dict:
    return {"report": report, "batch": number, "batch_count": count, "rows": rows}


def test_department_holds_the_latest_batch_per_position(inbox: DepartmentInbox) -> None:
    url = inbox.url_for("grid")
    for key, body in [
        ("a1", batch_body("grid/r", 1, 2, [{"x": "1"}])),
        ("a2", batch_body("grid/r", 2, 2, [{"x": "2"}])),
        ("b2", batch_body("grid/r", 2, 2, [{"x": "B"}])),
        ("o1", batch_body("grid/other", 1, 1, [{"y": "1"}])),
    ]:
        requests.post(url, json=body, headers={"Idempotency-Key": key}, timeout=5)
    assert inbox.current_rows("grid", "grid/r") == [{"x": "1"}, {"x": "B"}]
    requests.post(url, json=batch_body("grid/r", 1, 1, [{"x": "only"}]), headers={"Idempotency-Key": "c1"}, timeout=5)
    assert inbox.current_rows("grid", "grid/r") == [{"x": "only"}]
    assert len(inbox.rows("grid")) == 5, "everything received since start, for counting deliveries"


def test_state_survives_a_restart_and_is_written_whole(tmp_path: Path) -> None:
    state = tmp_path / "inbox-state"
    with DepartmentInbox() as first:
        first.keep_state_in(state)
        post(first.url_for("grid"), "a", [{"x": "1"}])
    with (state / "received.jsonl").open("a", encoding="utf-8") as journal:
        journal.write('{"department": "grid", "idempotency_key": "cut sh')  # killed mid-write
    with DepartmentInbox() as second:
        second.keep_state_in(state)
        assert post(second.url_for("grid"), "a", [{"x": "1"}]).json()["status"] == "duplicate"
        post(second.url_for("civil"), "b", [{"y": "2"}])
        paths = second.write_received(tmp_path / "out")
    assert json.loads(paths["grid"].read_text(encoding="utf-8")) == [{"idempotency_key": "a", "rows": [{"x": "1"}]}]
    assert json.loads(paths["civil"].read_text(encoding="utf-8")) == [{"idempotency_key": "b", "rows": [{"y": "2"}]}]
    with DepartmentInbox() as third:
        third.keep_state_in(state)
        assert third.departments() == ["civil", "grid"] and third.batches == []


def test_write_received_saves_each_department(inbox: DepartmentInbox, tmp_path: Path) -> None:
    post(inbox.url_for("grid"), "a", [{"x": "1"}])
    paths = inbox.write_received(tmp_path)
    saved = json.loads(paths["grid"].read_text(encoding="utf-8"))
    assert saved == [{"idempotency_key": "a", "rows": [{"x": "1"}]}]


def test_journal_keeps_only_what_departments_hold_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "inbox-state"
    with DepartmentInbox() as inbox:
        inbox.keep_state_in(state)
        for n in range(5):
            body = batch_body("civil/r", 1, 1, [{"phone": str(n)}])
            requests.post(inbox.url_for("civil"), json=body, headers={"Idempotency-Key": f"k{n}"}, timeout=5)
    with DepartmentInbox() as restarted:
        restarted.keep_state_in(state)
        assert restarted.current_rows("civil") == [{"phone": "4"}]
    assert len((state / "received.jsonl").read_text(encoding="utf-8").splitlines()) == 1
