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
