"""The `hub` command: `hub demo`, `hub worker`, `hub systems`, `hub link`, `hub template`, `hub decide`,
`hub explain`, `hub answer`, `hub form`.

Errors the hub raises on purpose (HubError) are printed as one clear message, not a traceback, with
any personal number or credential in it masked.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hub_errors import HubError

OUT_HELP = "output folder (default $HUB_OUT or ./hub-out)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Enter-once data hub for community governance.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole hub on simulated department systems")
    demo.add_argument("--data", type=Path, help="serve the department files of DIR (bench layout)")
    demo.add_argument("--people", type=int, default=3000, help="people in the seeded synthetic city")
    demo.add_argument("--seed", type=int, default=1, help="seed of the synthetic city")
    demo.add_argument("--out", type=Path, default=Path("hub-out"), help="output folder (default ./hub-out)")
    demo.add_argument(
        "--full", action="store_true", help="rebuild from everything the sources hold (default: only their changes)"
    )
    demo.add_argument(
        "--executor",
        choices=["in_process", "celery"],
        default="in_process",
        help="in_process (default: one process, nothing to install) or celery (steps on local Celery workers)",
    )
    demo.add_argument("--workers", type=positive, default=2, help="Celery workers it starts (--executor celery)")

    worker = commands.add_parser(
        "worker", help="a Celery worker running the hub's steps (HUB_BROKER_URL, HUB_DAGSTER_DATABASE_URL, ...)"
    )
    worker.add_argument("--queue", default=os.environ.get("HUB_CELERY_QUEUE", "hub"), help="queue to take steps from")
    worker.add_argument("--name", default=None, help="worker name (default hub-worker-<pid>@host)")
    worker.add_argument("--concurrency", type=positive, default=1, help="steps this worker runs at once")
    worker.add_argument("--loglevel", default="INFO", help="Celery log level")

    systems = commands.add_parser(
        "systems", help="keep the simulated department systems running for the Dagster UI (make ui)"
    )
    systems.add_argument("--data", type=Path, help="serve the department files of DIR (bench layout)")
    systems.add_argument("--people", type=int, default=3000, help="people in the seeded synthetic city")
    systems.add_argument("--seed", type=int, default=1, help="seed of the synthetic city")
    systems.add_argument("--out", type=Path, default=Path("hub-out"), help="where reports go")
    systems.add_argument("--env-file", type=Path, default=Path(".hub/systems.env"), help="addresses for make ui")

    link = commands.add_parser("link", help="match records of any tables; write source,record_id,cluster_id")
    link.add_argument("config", type=Path, help="CONFIG.yaml naming sources and field kinds")
    link.add_argument("--out", type=Path, required=True, help="CLUSTERS.csv to write")

    decide = commands.add_parser(
        "decide", help="record a steward's decision on two resident records; every later run honours it"
    )
    decide.add_argument("left", type=record_key, help="SOURCE:RECORD_ID, e.g. grid:G00000001")
    decide.add_argument("right", type=record_key, help="SOURCE:RECORD_ID")
    verdict = decide.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--same", action="store_true", help="the two records are one person")
    verdict.add_argument("--different", action="store_true", help="the two records are different people")
    decide.add_argument("--steward", default=os.environ.get("USER", "steward"), help="who decided")
    decide.add_argument("--note", default="", help="why, for the next steward")

    explain = commands.add_parser("explain", help="why two resident records are (not) one person, field by field")
    explain.add_argument("left", type=record_key, help="SOURCE:RECORD_ID")
    explain.add_argument("right", type=record_key, help="SOURCE:RECORD_ID")

    answer = commands.add_parser(
        "answer", help="record a department's answer to a cross-department alert (核验); later runs keep it"
    )
    answer.add_argument("alert_id", nargs="?", help="the alert's 核验编号, e.g. HY1A2B3C4D5E")
    answer.add_argument("answer", nargs="?", help="one of the answers in pipelines/config/alerts.yaml, e.g. 已更正")
    answer.add_argument("--workbook", type=Path, help="read the answers chosen in a returned workbook's 核验 sheet")
    answer.add_argument("--by", default=os.environ.get("USER", "steward"), help="who answered")
    answer.add_argument("--note", default="", help="the department's remark")

    form = commands.add_parser("form", help="department forms: send pre-filled, collect returns, remind, list")
    form_commands = form.add_subparsers(dest="form_command", required=True)
    form_send = form_commands.add_parser("send", help="one pre-filled workbook per community under OUT/forms/<form>/")
    form_send.add_argument("spec", type=Path, help="SPEC.yaml (form, title, department, population, known, ask, due)")
    form_send.add_argument("--out", type=Path, default=default_out(), help=OUT_HELP)
    form_collect = form_commands.add_parser(
        "collect", help="read the returned forms in the community inbox and write each form's consolidation now"
    )
    form_collect.add_argument("--inbox", type=Path, default=default_inbox(), help="community inbox folder")
    form_collect.add_argument("--out", type=Path, default=default_out(), help=OUT_HELP)
    form_remind = form_commands.add_parser("remind", help="re-send each community the rows still unanswered")
    form_remind.add_argument("spec", type=Path, help="SPEC.yaml")
    form_remind.add_argument("--out", type=Path, default=default_out(), help=OUT_HELP)
    form_commands.add_parser("list", help="every registered form, its fields and where each known field comes from")

    template = commands.add_parser("template", help="write the intake workbook community staff fill in")
    template.add_argument("--out", type=Path, required=True, help="FILE.xlsx to write")
    return parser


def default_out() -> Path:
    return Path(os.environ.get("HUB_OUT") or "hub-out")


def default_inbox() -> Path:
    from pipelines.settings import hub_home

    return Path(os.environ.get("HUB_COMMUNITY_INBOX") or hub_home() / "community-inbox")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def record_key(text: str) -> tuple[str, str]:
    """SOURCE:RECORD_ID (the record id may itself contain ':', as intake ids do)."""
    source, sep, record_id = text.partition(":")
    if not sep or not source or not record_id:
        raise argparse.ArgumentTypeError(f"{text!r} is not SOURCE:RECORD_ID (for example grid:G00000001)")
    return source, record_id


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from pipelines.demo import run_demo

            return run_demo(
                data=args.data,
                people=args.people,
                seed=args.seed,
                out=args.out,
                full=args.full,
                executor=args.executor,
                workers=args.workers,
            )
        if args.command == "worker":
            import socket

            from pipelines.celery_run import run_worker

            name = args.name or f"hub-worker-{os.getpid()}@{socket.gethostname()}"
            return run_worker(queue=args.queue, name=name, concurrency=args.concurrency, loglevel=args.loglevel)
        if args.command == "systems":
            from pipelines.demo import serve_systems

            return serve_systems(
                data=args.data, people=args.people, seed=args.seed, out=args.out, env_file=args.env_file
            )
        if args.command == "link":
            from pipelines.link_command import run_link

            print("\n".join(run_link(args.config, args.out).lines()))
            return 0
        if args.command == "decide":
            from pipelines.settings import default_database_url
            from pipelines.warehouse import Warehouse

            Warehouse.from_url(default_database_url()).record_decision(
                args.left, args.right, same=args.same, steward=args.steward, note=args.note
            )
            verdict = "the same person" if args.same else "different people"
            print(f"recorded: {':'.join(args.left)} and {':'.join(args.right)} are {verdict}; the next run honours it")
            return 0
        if args.command == "explain":
            from pipelines.explain_command import explain_pair, explanation_lines
            from pipelines.settings import default_database_url
            from pipelines.warehouse import Warehouse

            why = explain_pair(Warehouse.from_url(default_database_url()), args.left, args.right)
            print("\n".join(explanation_lines(args.left, args.right, why)))
            return 0
        if args.command == "answer":
            from pipelines.alerts import apply_returned_answers, load_alert_rules
            from pipelines.settings import default_database_url
            from pipelines.warehouse import Warehouse

            if args.workbook is not None:
                done = apply_returned_answers(Warehouse.from_url(default_database_url()), args.workbook, by=args.by)
                print(f"recorded {done.applied} answer(s) from {args.workbook.name}; {done.unchanged} unchanged")
                for problem in done.problems:
                    print(f"  not recorded: {problem}", file=sys.stderr)
                return 2 if done.problems else 0
            if not args.alert_id or not args.answer:
                print("hub answer: give ALERT_ID ANSWER, or --workbook FILE", file=sys.stderr)
                return 2
            Warehouse.from_url(default_database_url()).answer_alert(
                args.alert_id, args.answer, by=args.by, note=args.note, allowed=load_alert_rules().answers
            )
            print(f"recorded: alert {args.alert_id} answered {args.answer}; it stays answered while its cause lasts")
            return 0
        if args.command == "form":
            from pipelines import form_command

            if args.form_command == "send":
                lines = form_command.run_send(args.spec, args.out)
            elif args.form_command == "collect":
                lines = form_command.run_collect(args.inbox, args.out)
            elif args.form_command == "remind":
                lines = form_command.run_remind(args.spec, args.out)
            else:
                lines = form_command.run_list()
            print("\n".join(lines))
            return 0
        if args.command == "template":
            from connectors.intake_workbook import write_intake_template

            write_intake_template(args.out)
            print(f"intake workbook written: {args.out}")
            return 0
    except HubError as exc:
        from pipelines.metadata import mask_text

        print(f"hub {args.command}: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
