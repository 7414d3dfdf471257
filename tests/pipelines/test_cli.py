"""The `hub` command: clear messages instead of tracebacks, and the template it writes."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from pipelines.cli import main


def test_link_with_a_missing_config_says_so_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["link", str(tmp_path / "absent.yaml"), "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert "absent.yaml" in err and "Traceback" not in err


def test_template_writes_the_intake_workbook(tmp_path: Path) -> None:
    target = tmp_path / "一表通.xlsx"
    assert main(["template", "--out", str(target)]) == 0
    book = openpyxl.load_workbook(target)
    assert {"居民信息", "事件上报"} <= set(book.sheetnames)
    assert book["居民信息"].data_validations.dataValidation, "gender and status come as dropdowns"


def test_decide_records_the_latest_word_on_a_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.warehouse import Warehouse

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    assert main(["decide", "grid:G1", "intake:社区A:居民信息:3", "--same", "--steward", "王"]) == 0
    assert main(["decide", "intake:社区A:居民信息:3", "grid:G1", "--different", "--note", "twins"]) == 0
    assert main(["decide", "grid:G2", "health:H9", "--same"]) == 0
    decisions = Warehouse.from_url(url).decisions()
    assert len(decisions) == 2
    pair = decisions[decisions["left_record_id"] == "社区A:居民信息:3"].iloc[0]
    assert not pair["same"] and pair["right_record_id"] == "G1"


def test_decide_rejects_a_record_without_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["decide", "G1", "health:H1", "--same"])
    assert "SOURCE:RECORD_ID" in capsys.readouterr().err
