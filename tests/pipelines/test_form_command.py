"""`hub form list` and `hub form send` through the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.warehouse import Warehouse


def golden(person_id: str, community: str, birth: str) -> dict[str, object]:
    return {
        "person_id": person_id, "name": "陈秀兰", "id_no": None, "gender": "2", "birth": birth, "phone": None,
        "address": f"{community}幸福路1号", "address_canonical": f"{community}幸福路1号", "addr_district": None,
        "addr_street": None, "addr_community": community, "grid": None, "attributes": "{}", "sources": "grid",
        "record_count": 1, "provenance": '{"name": {"source": "grid", "record_id": "G1"}}',
    }


def test_form_list_names_each_known_field_and_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    assert main(["form", "list"]) == 0
    printed = capsys.readouterr().out
    assert "elderly_living_alone: 老年人独居情况排查表" in printed
    assert "known 联系电话 (phone): source grid > intake > health > civil" in printed
    assert "masked on the community copy" in printed and "ask   是否独居: choice [是/否], required" in printed


def test_form_send_writes_one_workbook_per_community(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_AS_OF", "2026-11-28")
    from pipelines.settings import default_database_url

    people = pd.DataFrame([golden("P1", "东铺头社区", "1940-01-01"), golden("P2", "新华社区", "1950-01-01"),
                           golden("P3", "新华社区", "2000-01-01")])
    Warehouse.from_url(default_database_url()).write_table("golden_persons", people, "test")
    spec = Path(__file__).resolve().parents[2] / "pipelines" / "forms" / "elderly_living_alone.yaml"
    assert main(["form", "send", str(spec), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "2 community workbook(s), 2 person(s)" in printed
    books = sorted(p.name for p in (tmp_path / "out" / "forms" / "elderly_living_alone").glob("*.xlsx"))
    assert books == ["东铺头社区_老年人独居情况排查表_2026-11-28.xlsx", "新华社区_老年人独居情况排查表_2026-11-28.xlsx"]
