"""`hub link` reads each date column in the order its own values show, and says which it inferred."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dedup.prepare import prepare
from pipelines.cli import main
from pipelines.link_command import load_link_config, run_link, source_records

US_ROWS = "id,name,born\nu1,Ann Lee,11/23/1994\nu2,Bob Stone,05/06/1994\nu3,Cy Hart,12/25/1980\nu4,Di Moss,01/02/1970\n"
EU_ROWS = "id;name;born\ne1;Ann Lee;23.11.1994\ne2;Bob Stone;06.05.1994\ne3;Cy Hart;25.12.1980\ne4;Di Moss;02.01.1970\n"


def _write(folder: Path) -> Path:
    (folder / "us.csv").write_text(US_ROWS, encoding="utf-8")
    (folder / "eu.csv").write_text(EU_ROWS, encoding="utf-8")
    config = {
        "sources": {
            "us": {"path": "us.csv", "id": "id", "columns": {"born": "birth"}},
            "eu": {"path": "eu.csv", "id": "id", "columns": {"born": "birth"}},
        },
        "fields": {"name": "name", "birth": "date"},
    }
    path = folder / "link.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_an_ambiguous_date_reads_in_its_columns_order(tmp_path: Path) -> None:
    config_path = _write(tmp_path)
    config = load_link_config(config_path)
    fields = {"name": "name", "birth": "date"}
    us = source_records("us", config["sources"]["us"], tmp_path, fields)
    eu = source_records("eu", config["sources"]["eu"], tmp_path, fields)
    birth = {field.name: field for field in prepare(us, fields)}["birth"]
    assert birth.value_of(1) == "1994-05-06"
    assert birth.value_of(3) == "1970-01-02"
    eu_birth = {field.name: field for field in prepare(eu, fields)}["birth"]
    assert [eu_birth.value_of(i) for i in range(4)] == [birth.value_of(i) for i in range(4)]
    assert us.attrs["date_formats"]["birth"].startswith("month-first")
    assert eu.attrs["date_formats"]["birth"].startswith("day-first")


def test_hub_link_prints_the_inferred_format_per_date_column_not_into_the_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = _write(tmp_path)
    out = tmp_path / "clusters.csv"
    assert main(["link", str(config_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "date format us.birth: month-first" in printed
    assert "date format eu.birth: day-first" in printed
    assert out.read_text(encoding="utf-8").splitlines()[0] == "source,record_id,cluster_id"
    assert "month-first" not in out.read_text(encoding="utf-8")
    summary = run_link(config_path, out)
    assert set(summary.date_formats) == {"us.birth", "eu.birth"}
