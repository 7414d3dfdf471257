"""The `hub` command: clear messages instead of tracebacks, and the template it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
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
    accepted = pd.DataFrame(
        {"source": ["grid", "intake", "grid", "health"], "record_id": ["G1", "社区A:居民信息:3", "G2", "H9"]}
    )
    Warehouse.from_url(url).write_table("std_residents", accepted, "run-1")
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


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("hub 0.")


@pytest.mark.parametrize(
    ("command", "default"),
    [
        (["demo"], "(default: 3000)"),
        (["demo"], "(default: hub-out)"),
        (["systems"], "(default: 3000)"),
        (["worker"], "(default: 1)"),
        (["decide"], "(default: "),
        (["review", "export"], "(default: hub-out)"),
        (["link"], "CONFIG"),
        (["explain"], "contribution"),
        (["answer"], "核验"),
        (["template"], "community-inbox"),
    ],
)
def test_each_subcommand_says_what_it_does_and_shows_its_defaults(
    command: list[str], default: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    page = capsys.readouterr().out
    rest = page.partition("\n\n")[2]
    description = rest.split("\n\n")[0]
    assert len(description.split()) >= 5, f"{command} has no description: {page}"
    assert default in page


def test_zero_people_is_refused_by_name_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["demo", "--people", "0"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--people" in err and "positive" in err and "Traceback" not in err


def test_a_data_folder_that_does_not_exist_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    assert main(["demo", "--data", str(tmp_path / "nonexistent"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "nonexistent does not exist" in err and "lacks" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("nonsense", "is not a database URL"),
        ("mysql://hub@127.0.0.1/hub", "no driver"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/hub", "unreachable"),
    ],
)
def test_a_bad_database_url_is_said_once_in_one_line(
    url: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / ".hub"))
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    assert main(["demo", "--people", "50", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.count(said) == 1


def test_template_refuses_a_name_that_is_not_xlsx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["template", "--out", str(tmp_path / "t.csv")])
    assert stopped.value.code == 2
    assert "t.xlsx" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_template_and_readme_name_one_community_inbox(tmp_path: Path) -> None:
    target = tmp_path / "一表通.xlsx"
    assert main(["template", "--out", str(target)]) == 0
    book = openpyxl.load_workbook(target)
    text = "\n".join(str(cell.value) for sheet in book for row in sheet.iter_rows() for cell in row if cell.value)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "community-inbox" in text and "community-inbox" in readme
    assert "待导入" not in text and "待导入" not in readme


def test_link_warns_about_a_field_no_source_has(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "id,name,birth\n" + "".join(f"{i},Name{i % 7} Smith,19{50 + i % 40}-01-0{1 + i % 9}\n" for i in range(60))
    (tmp_path / "a.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "b.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "link.yaml").write_text(
        "sources:\n  a: {path: a.csv, id: id}\n  b: {path: b.csv, id: id}\n"
        "fields:\n  name: name\n  birth: date\n  mobile: phone\n",
        encoding="utf-8",
    )
    assert main(["link", str(tmp_path / "link.yaml"), "--out", str(tmp_path / "c.csv")]) == 0
    captured = capsys.readouterr()
    assert "'mobile' is in no source" in captured.err
    assert "'name'" not in captured.err and "'birth'" not in captured.err


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader (`| head`) is gone before the command prints
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "template", "--out", str(tmp_path / "t.xlsx")],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert "Traceback" not in finished.stderr and "BrokenPipeError" not in finished.stderr
    assert finished.returncode == 0
