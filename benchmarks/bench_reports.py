"""CPU seconds of the report, roster and golden-record steps alone, on the tables of a finished demo.

    .venv/bin/python benchmarks/bench_reports.py sqlite:////tmp/x/hub/warehouse.sqlite --work /tmp/x/bench \
        [--steps golden,rosters,civil,grid,health] [--profile]

Reads the demo's golden records, incidents, alerts (and, for ``golden``, its standardized residents,
person lineage and community corrections) from that warehouse, which it never writes, and runs each step
as a first (full) delivery would, against a fresh warehouse in WORK and a simulated department inbox on
127.0.0.1: the department's report built, its workbook written, its rows pushed and its snapshot kept;
the community rosters built, written and their sends recorded; every golden record rebuilt. The run id,
times and report date are fixed, so two versions of the code write the same workbooks and pushes to
compare (benchmarks/compare_workbooks.py), with the rows they keep in the warehouse (WORK/out/tables).
``--profile`` writes each step's cProfile to WORK/profiles.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.simulated.department_inbox import DepartmentInbox
from pipelines.alerts import verification_table
from pipelines.assets.resolved import with_community_records
from pipelines.changes import deliver_daily, plan_report
from pipelines.departments import ReportSpec, load_report_specs
from pipelines.golden_state import golden_digests, update_golden
from pipelines.reporting import build_community_rosters, write_community_rosters
from pipelines.roster_returns import record_roster_sends
from pipelines.survivorship import load_survivorship_rules
from pipelines.warehouse import Warehouse

RUN_ID = "bench-reports-run"
GENERATED_AT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 30)
STEPS = ("golden", "rosters", "civil", "grid", "health")
# What the steps keep in the warehouse, compared too: snapshots, roster cells sent, golden records.
KEPT_TABLES = {
    "report_snapshot_rows": ["report", "sheet", "row_key"],
    "report_person_digests": ["report", "person_id"],
    "roster_send_rows": ["send_id", "person_id"],
    "golden_persons": ["person_id"],
    "golden_person_digests": ["person_id"],
}


def timed(name: str, step: Callable[[], object], profiles: Path | None) -> float:
    """CPU seconds of ``step`` (its cProfile to ``profiles`` when given: slower, so timed apart)."""
    profile = cProfile.Profile() if profiles else None
    started = time.process_time()
    if profile:
        profile.enable()
    step()
    if profile:
        profile.disable()
    seconds = time.process_time() - started
    if profile and profiles:
        profiles.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(str(profiles / f"{name}.prof"))
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(60)
        (profiles / f"{name}.txt").write_text(text.getvalue(), encoding="utf-8")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", help="URL of a finished demo's warehouse (read only)")
    parser.add_argument("--work", type=Path, required=True, help="fresh folder for the outputs (emptied first)")
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    steps = [step for step in args.steps.split(",") if step]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    source = Warehouse.existing(args.warehouse)
    shutil.rmtree(args.work, ignore_errors=True)
    (args.work / "out").mkdir(parents=True)
    work = Warehouse.from_url(f"sqlite:///{args.work / 'warehouse.sqlite'}")
    persons = source.read_table("golden_persons")
    incidents = source.read_table("incidents")
    alerts = source.read_table("alerts")
    specs = load_report_specs()
    profiles = args.work / "profiles" if args.profile else None
    seconds: dict[str, float] = {}
    with DepartmentInbox() as inbox:
        env = {"HUB_DEPARTMENT_INBOX_URL": inbox.url}
        for step in steps:
            if step == "golden":
                records, lineage = with_community_records(
                    source.read_table("std_residents"),
                    source.read_table("person_lineage"),
                    source.read_table("community_corrections"),
                    corrected_only=True,
                )
                rules = load_survivorship_rules()
                golden = partial(update_golden, work, records, lineage, rules, RUN_ID, full=True)
                seconds[step] = timed(step, golden, profiles)
            elif step == "rosters":
                spec = next(spec for spec in specs.values() if spec.kind == "roster")

                def rosters(spec: ReportSpec = spec) -> None:
                    built = build_community_rosters(persons, spec, as_of=AS_OF)
                    write_community_rosters(
                        built, spec, args.work / "out", run_id=RUN_ID, generated_at=GENERATED_AT, as_of=AS_OF
                    )
                    record_roster_sends(work, spec, built, run_id=RUN_ID, as_of=AS_OF)

                seconds[step] = timed(step, rosters, profiles)
            else:
                spec = specs[step]

                def report(spec: ReportSpec = spec) -> None:
                    plan = plan_report(
                        spec, persons, incidents, engine=work.engine, mode="full", as_of=AS_OF,
                        golden_digests=golden_digests(source),
                        verification=lambda: verification_table(spec, alerts, persons),
                    )  # fmt: skip
                    deliver_daily(
                        plan.report, out_dir=args.work / "out", run_id=RUN_ID, engine=work.engine, mode="full",
                        generated_at=GENERATED_AT, env=env, digests=plan.digests, scope=plan.scope,
                    )  # fmt: skip

                seconds[step] = timed(step, report, profiles)
            print(f"{step:10s} {seconds[step]:8.2f} s CPU", flush=True)
        inbox.write_received(args.work / "out" / "received")
    tables = args.work / "out" / "tables"
    tables.mkdir()
    for name, order in KEPT_TABLES.items():
        if work.has_table(name):
            frame = work.read_table(name)
            if name == "report_person_digests":  # the part bound to the spec hashes its file's path too
                frame["digest"] = frame["digest"].str.split(":").str[0]
            frame.sort_values(order, kind="stable").to_csv(tables / f"{name}.csv", index=False)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'total':10s} {sum(seconds.values()):8.2f} s CPU; peak {peak_mb:,.0f} MB; persons {len(persons):,}")
    (args.work / "step_cpu.json").write_text(json.dumps({**seconds, "peak_mb": peak_mb}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
