"""Personal data in what `hub demo` and `hub systems` leave behind: reports, rosters, pushes,
quarantine.csv, asset samples, printed output and the systems' address file.

Faults are injected into the department data the simulated systems serve (phone numbers in every
form people write them, formula payloads in fields that end in quarantine), and the demo runs on
the real PostgreSQL with a password in its URL.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
import sqlalchemy as sa

from pipelines.demo import run_demo
from pipelines.departments import ReportSpec, load_report_specs, min_id_candidates
from pipelines.metadata import mask_text

PASSWORD = "Pg-s3cret-42"
PHONE_FORMS = ("0595-25491170", "１３９１２３４５６７８", "+86 139 1234 5678", "0086-13912345678", "电话 138 0000 1111")
PHONE_SECRETS = ("25491170", "１２３４５６７８", "1234 5678", "13912345678", "138 0000")
FORMULAS = ('=HYPERLINK("http://example.invalid/?q=1","核对")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(1+1)")
EVENT_FORMULA = "=1+2"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
DIGITS = "0123456789"
WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
CHECK = "10X98765432"


@dataclass(frozen=True)
class DemoRun:
    out: Path
    printed: str


def rewrite_csv(path: Path, change: dict[int, dict[str, str]]) -> None:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for index, values in change.items():
        rows[index].update(values)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def inject_faults(bench: Path, data: Path) -> Path:
    data.mkdir()
    for path in bench.glob("*.csv"):
        (data / path.name).write_bytes(path.read_bytes())
    residents: dict[int, dict[str, str]] = {i: {"联系电话": phone} for i, phone in enumerate(PHONE_FORMS)}
    offset = len(PHONE_FORMS)
    residents.update({offset + i: {"出生日期": formula} for i, formula in enumerate(FORMULAS)})
    rewrite_csv(data / "grid_residents.csv", residents)
    rewrite_csv(data / "grid_events.csv", {0: {"发生时间": EVENT_FORMULA}})
    return data


@pytest.fixture(scope="module")
def demo_run(bench_small: Path, tmp_path_factory: pytest.TempPathFactory, pg_engine: sa.Engine) -> Iterator[DemoRun]:
    root = tmp_path_factory.mktemp("privacy_demo")
    data = inject_faults(bench_small, root / "data")
    schema = f"hub_privacy_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = pg_engine.url.set(password=PASSWORD, query={"options": f"-csearch_path={schema}"})
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("HUB_HOME", str(root / ".hub"))
            env.setenv("DAGSTER_HOME", str(root / ".dagster"))
            env.setenv("HUB_DATABASE_URL", url.render_as_string(hide_password=False))
            printed = io.StringIO()
            with redirect_stdout(printed):
                assert run_demo(data=data, people=0, seed=0, out=root / "out") == 0
            yield DemoRun(root / "out", printed.getvalue())
    finally:
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))


def count_ids(allowed: list[str]) -> int:
    """ID numbers that fit the allowed characters per position and their own check character."""
    counts = [1] + [0] * 10
    for position, chars in enumerate(allowed[:17]):
        following = [0] * 11
        for residue, count in enumerate(counts):
            for char in chars:
                following[(residue + int(char) * WEIGHTS[position]) % 11] += count
        counts = following
    return sum(count for residue, count in enumerate(counts) if CHECK[residue] in allowed[17])


def candidates(masked: str, birth: str | None, gender: str | None) -> int:
    """How many numbers a recipient cannot tell apart, knowing what the row shows beside the mask:
    the birth date, the sex and (from the address, conservatively) the county even if hidden."""
    assert len(masked) == 18, masked
    allowed = [char if char != "*" else DIGITS for char in masked]
    allowed[:6] = ["0"] * 6 if masked[:6] == "*" * 6 else [c if c != "*" else "0" for c in masked[:6]]
    if birth:
        allowed[6:14] = [c if c != "*" else b for c, b in zip(masked[6:14], birth, strict=True)]
    if gender and masked[16] == "*":
        allowed[16] = DIGITS[1::2] if gender == "1" else DIGITS[0::2]
    if masked[17] == "*":
        allowed[17] = DIGITS + "X"
    return count_ids(allowed)


@dataclass(frozen=True)
class IdView:
    """Where a report sheet puts the masked ID and the columns that narrow it down."""

    id_header: str
    birth_header: str | None
    gender_header: str | None
    gender_codes: dict[str, str]


def masked_id_views(specs: dict[str, ReportSpec]) -> dict[str, IdView]:
    views = {}
    for spec in specs.values():
        if "id_no" in spec.entitled:
            continue
        for section in spec.sections:
            by_field = {column.field: column for column in section.columns if column.field}
            if "id_no" not in by_field:
                continue
            birth, gender = by_field.get("birth"), by_field.get("gender")
            views[section.sheet] = IdView(
                by_field["id_no"].header,
                birth.header if birth else None,
                gender.header if gender else None,
                {code: golden for golden, code in (gender.codes or {}).items()} if gender else {},
            )
    return views


def birth_digits(text: object) -> str | None:
    match = re.fullmatch(r"\D*(\d{4})\D*(\d{1,2})\D*(\d{1,2})\D*", str(text or ""))
    return None if match is None else f"{match[1]}{int(match[2]):02d}{int(match[3]):02d}"


def rows_shown(out: Path, views: dict[str, IdView]) -> Iterator[tuple[str, dict[str, object]]]:
    """Every row a recipient receives that carries a masked ID: workbooks, rosters and pushes."""
    for path in sorted(out.rglob("*.xlsx")):
        book = openpyxl.load_workbook(path, read_only=True)
        for sheet in book.worksheets:
            if sheet.title not in views:
                continue
            rows = sheet.iter_rows(values_only=True)
            header = [str(value) for value in next(rows)]
            for values in rows:
                yield path.name, dict(zip(header, values, strict=False))
        book.close()
    id_headers = {view.id_header for view in views.values()}
    for path in sorted(out.rglob("*_received.json")):
        stack: list[object] = [json.loads(path.read_text(encoding="utf-8"))]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if id_headers & set(item):
                    yield path.name, item
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)


def test_no_masked_id_number_can_be_rebuilt_from_the_row_it_sits_in(demo_run: DemoRun) -> None:
    views = masked_id_views(load_report_specs())
    assert {"实有人口", "居民名册"} <= set(views)
    counted: dict[str, int] = {}
    fewest = None
    for source, row in rows_shown(demo_run.out, views):
        view = next(v for v in views.values() if v.id_header in row)
        masked = row[view.id_header]
        if not masked:
            continue
        assert isinstance(masked, str) and "*" in masked, (source, "an ID number shown unmasked")
        birth = birth_digits(row.get(view.birth_header)) if view.birth_header else None
        gender = view.gender_codes.get(str(row.get(view.gender_header))) if view.gender_header else None
        count = candidates(masked, birth, gender)
        fewest = count if fewest is None else min(fewest, count)
        counted[source] = counted.get(source, 0) + 1
    assert any(name.startswith("grid_") and name.endswith(".xlsx") for name in counted)
    assert sum(name.endswith(".xlsx") and not name.startswith("grid_") for name in counted) >= 3, "rosters"
    assert any(name.endswith(".json") for name in counted), "pushed rows"
    assert sum(counted.values()) >= 300
    assert fewest is not None and fewest >= min_id_candidates() >= 100


def test_quarantine_csv_holds_no_value_a_spreadsheet_would_run(demo_run: DemoRun) -> None:
    with (demo_run.out / "quarantine.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert not [value for row in rows for value in row.values() if value.startswith(TRIGGERS)]
    values = {row["value"] for row in rows}
    for payload in (*FORMULAS, EVENT_FORMULA):
        assert "'" + payload in values, payload


def test_the_demo_prints_no_password(demo_run: DemoRun) -> None:
    assert "warehouse: postgresql+psycopg://postgres:***@127.0.0.1" in demo_run.printed
    assert PASSWORD not in demo_run.printed


def test_asset_samples_mask_phone_numbers_in_every_form(demo_run: DemoRun) -> None:
    summary = json.loads((demo_run.out / "summary.json").read_text(encoding="utf-8"))
    instance = dg.DagsterInstance.get()
    records = instance.get_records_for_run(
        summary["dagster_run_id"], of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    samples = {
        r.event_log_entry.asset_materialization.asset_key.to_user_string(): str(
            r.event_log_entry.asset_materialization.metadata["sample"].value
        )
        for r in records
    }
    assert "****-****1170" in samples["raw_grid_residents"], "the injected rows are in the sample"
    for name, sample in samples.items():
        assert mask_text(sample) == sample, name
        assert not [secret for secret in PHONE_SECRETS if secret in sample], name


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda sig: sig.name)
def test_hub_systems_keeps_its_token_file_private_and_removes_it_when_stopped(
    stop: signal.Signals, bench_small: Path, tmp_path: Path
) -> None:
    env_file = tmp_path / "state" / "systems.env"
    env_file.parent.mkdir()
    env_file.write_text("left by an older run\n", encoding="utf-8")
    env_file.chmod(0o644)
    environment = {
        **os.environ,
        "HUB_HOME": str(tmp_path / ".hub"),
        "HUB_DATABASE_URL": f"postgresql+psycopg://hub:{PASSWORD}@127.0.0.1:5432/hub",
    }
    command = [sys.executable, "-m", "pipelines.cli", "systems", "--data", str(bench_small)]
    command += ["--env-file", str(env_file), "--out", str(tmp_path / "out")]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while "HUB_GRID_TOKEN=" not in (env_file.read_text(encoding="utf-8") if env_file.exists() else ""):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "hub systems did not write its address file"
            time.sleep(0.2)
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        token = next(line for line in env_file.read_text(encoding="utf-8").splitlines() if "TOKEN" in line)
        token = token.split("=", 1)[1]
        time.sleep(0.5)  # the addresses are printed right after the file is written
        process.send_signal(stop)
        printed, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    assert not env_file.exists()
    assert token and token not in printed + errors
    assert PASSWORD not in printed + errors and "hub:***@" in printed
