"""The `hub` command: `hub demo`, `hub worker`, `hub systems`, `hub link`, `hub template`, `hub decide`,
`hub explain`, `hub review`, `hub answer`, `hub form`.

Errors the hub raises on purpose (HubError) are printed as one clear message, not a traceback, with
any personal number or credential in it masked.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hub_errors import HubError

if TYPE_CHECKING:
    from pipelines.warehouse import Warehouse


class HELP(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where it has one worth showing (not for flags or empty values)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, "") or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("enter-once-hub")
    except PackageNotFoundError:
        return "unknown (not installed)"


def subcommand(
    commands: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand whose help says what it does (``summary`` in the list, ``description`` on its own
    page) and shows every option's default."""
    return commands.add_parser(name, help=summary, description=description, formatter_class=HELP)


def build_parser() -> argparse.ArgumentParser:
    from pipelines.settings import hub_home

    parser = argparse.ArgumentParser(
        prog="hub",
        description="Enter-once data hub for community governance: pull every department's records, check "
        "them, merge duplicates into persons and incidents, and send each department its report.",
        epilog="Every command finds its warehouse the same way: HUB_HOME, else the nearest .hub folder "
        f"above the current folder, else the per-user default (now: {hub_home()}).",
        formatter_class=HELP,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = subcommand(
        commands,
        "demo",
        "run the whole hub on simulated department systems",
        "Start the simulated department systems on 127.0.0.1, run every step through Dagster, and write "
        "reports/, rosters/, lineage_*.csv, quarantine.csv, alerts.csv and summary.json to OUT. Run again "
        "on the same HUB_HOME, it is a daily run that pulls only the sources' changes.",
    )
    demo.add_argument("--data", type=Path, help="serve the department files of DIR (bench layout) instead of the "
                      "seeded synthetic city")
    demo.add_argument("--people", type=positive, default=3000, help="people in the seeded synthetic city")
    demo.add_argument("--seed", type=int, default=1, help="seed of the synthetic city")
    demo.add_argument("--out", type=Path, default=Path("hub-out"), help="output folder")
    demo.add_argument(
        "--full", action="store_true", help="rebuild from everything the sources hold (otherwise only their changes)"
    )
    demo.add_argument(
        "--executor",
        choices=["in_process", "celery"],
        default="in_process",
        help="in_process (one process, nothing to install) or celery (steps on local Celery workers)",
    )
    demo.add_argument("--workers", type=positive, default=2, help="Celery workers it starts (--executor celery)")

    worker = subcommand(
        commands,
        "worker",
        "a Celery worker running the hub's steps",
        "A Celery worker on dagster-celery's app, taking the hub's steps from a queue. It reads "
        "HUB_BROKER_URL, HUB_DAGSTER_DATABASE_URL, HUB_DATABASE_URL and the department systems' addresses "
        "from the environment.",
    )
    worker.add_argument("--queue", default=os.environ.get("HUB_CELERY_QUEUE", "hub"), help="queue to take steps from")
    worker.add_argument("--name", default=None, help="worker name (none: hub-worker-<pid>@host)")
    worker.add_argument("--concurrency", type=positive, default=1, help="steps this worker runs at once")
    worker.add_argument("--loglevel", default="INFO", help="Celery log level")

    systems = subcommand(
        commands,
        "systems",
        "keep the simulated department systems running for the Dagster UI (make ui)",
        "Start the simulated department systems and keep them running until Ctrl-C, their addresses in "
        "ENV_FILE for `make ui`. A restart reuses the same ports and token, so a running `make ui` keeps "
        "reaching them.",
    )
    systems.add_argument("--data", type=Path, help="serve the department files of DIR (bench layout)")
    systems.add_argument("--people", type=positive, default=3000, help="people in the seeded synthetic city")
    systems.add_argument("--seed", type=int, default=1, help="seed of the synthetic city")
    systems.add_argument("--out", type=Path, default=Path("hub-out"), help="where reports go")
    systems.add_argument(
        "--env-file", type=Path, default=hub_home() / "systems.env", help="addresses for make ui (owner only)"
    )

    link = subcommand(
        commands,
        "link",
        "match records of any tables; write source,record_id,cluster_id",
        "Match the records of the CSV/XLSX tables CONFIG names (weights learned from the data, no labels) "
        "and write source,record_id,cluster_id.",
    )
    link.add_argument("config", type=Path, help="CONFIG.yaml naming sources and field kinds")
    link.add_argument("--out", type=Path, required=True, help="CLUSTERS.csv to write")

    decide = subcommand(
        commands,
        "decide",
        "record a steward's decision on two resident records; every later run honours it",
        "Record that two accepted resident records are (or are not) one person. Both must be among the "
        "accepted residents of the last run, and differ. Every later run honours the latest decision.",
    )
    decide.add_argument("left", type=record_key, help="SOURCE:RECORD_ID, e.g. grid:G00000001")
    decide.add_argument("right", type=record_key, help="SOURCE:RECORD_ID")
    verdict = decide.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--same", action="store_true", help="the two records are one person")
    verdict.add_argument("--different", action="store_true", help="the two records are different people")
    decide.add_argument("--steward", default=os.environ.get("USER", "steward"), help="who decided")
    decide.add_argument("--note", default="", help="why, for the next steward")

    explain = subcommand(
        commands,
        "explain",
        "why two resident records are (not) one person, field by field",
        "Score two accepted resident records with the model of the last run and show each field's "
        "contribution (personal numbers masked).",
    )
    explain.add_argument("left", type=record_key, help="SOURCE:RECORD_ID")
    explain.add_argument("right", type=record_key, help="SOURCE:RECORD_ID")

    review = subcommand(
        commands,
        "review",
        "the stewards' review workbook: pairs to judge and category words to map, in Excel",
        "export: write the last run's uncertain pairs (match_review) and unknown category words "
        "(unknown_categories) as one workbook with a dropdown per row. import: read a returned workbook; "
        "its decisions and mappings take effect in the next run, recorded with who decided and when. "
        "Returned workbooks dropped into the steward inbox are imported by the next run.",
    )
    review_commands = review.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    review_export = review_commands.add_parser(
        "export",
        help="write the review workbook",
        description="Write the review workbook (OUT/待核对_复核.xlsx) from the last run's tables.",
        formatter_class=HELP,
    )
    review_export.add_argument("--out", type=Path, default=Path("hub-out"), help="folder to write it to")
    review_import = review_commands.add_parser(
        "import",
        help="apply a returned review workbook",
        description="Record the decisions and word mappings chosen in a returned review workbook.",
        formatter_class=HELP,
    )
    review_import.add_argument("workbook", type=Path, help="the returned .xlsx")
    review_import.add_argument(
        "--steward", default=None, help="who decided (none: the workbook's 核对人 cell, else $USER)"
    )

    answer = subcommand(
        commands,
        "answer",
        "record a department's answer to a cross-department alert (核验); later runs keep it",
        "Record a department's answer to an alert, by its 核验编号, or every answer chosen in a returned "
        "workbook's 核验 sheet.",
    )
    answer.add_argument("alert_id", nargs="?", help="the alert's 核验编号, e.g. HY1A2B3C4D5E")
    answer.add_argument("answer", nargs="?", help="one of the answers in pipelines/config/alerts.yaml, e.g. 已更正")
    answer.add_argument("--workbook", type=Path, help="read the answers chosen in a returned workbook's 核验 sheet")
    answer.add_argument("--by", default=os.environ.get("USER", "steward"), help="who answered")
    answer.add_argument("--note", default="", help="the department's remark")

    form = subcommand(
        commands,
        "form",
        "department forms: send pre-filled, collect returns, remind, list",
        "Department forms (one YAML spec per form): send each community a pre-filled workbook, collect the "
        "returns from the community inbox into one consolidated workbook, re-send what is unanswered, or list "
        "the catalogue.",
    )
    form_commands = form.add_subparsers(dest="form_command", required=True)
    form_send = form_commands.add_parser(
        "send", help="one pre-filled workbook per community under OUT/forms/<form>/", formatter_class=HELP
    )
    form_send.add_argument("spec", type=Path, help="SPEC.yaml (form, title, department, population, known, ask, due)")
    form_send.add_argument("--out", type=Path, default=default_out(), help=OUT_HELP)
    form_collect = form_commands.add_parser(
        "collect",
        help="read the returned forms in the community inbox and write each form's consolidation now",
        formatter_class=HELP,
    )
    form_collect.add_argument("--inbox", type=Path, default=default_inbox(), help="community inbox folder")
    form_collect.add_argument("--out", type=Path, default=default_out(), help=OUT_HELP)
    form_remind = form_commands.add_parser(
        "remind", help="re-send each community the rows still unanswered", formatter_class=HELP
    )
    form_remind.add_argument("spec", type=Path, help="SPEC.yaml")
    form_remind.add_argument("--out", type=Path, default=default_out(), help=OUT_HELP)
    form_commands.add_parser(
        "list", help="every registered form, its fields and where each known field comes from", formatter_class=HELP
    )

    template = subcommand(
        commands,
        "template",
        "write the intake workbook community staff fill in",
        "Write the intake workbook (residents and incidents, with dropdowns) that community staff fill in "
        "and drop into the community inbox (community-inbox).",
    )
    template.add_argument("--out", type=xlsx_path, required=True, help="FILE.xlsx to write")
    return parser


OUT_HELP = "output folder ($HUB_OUT or ./hub-out)"


def default_out() -> Path:
    return Path(os.environ.get("HUB_OUT") or "hub-out")


def default_inbox() -> Path:
    from pipelines.settings import hub_home

    return Path(os.environ.get("HUB_COMMUNITY_INBOX") or hub_home() / "community-inbox")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number (at least 1)")
    return value


def xlsx_path(text: str) -> Path:
    """A workbook name: Excel opens an .xlsx by its extension, so another one is refused."""
    path = Path(text)
    if path.suffix.lower() != ".xlsx":
        suggestion = path.with_suffix(".xlsx").name if path.suffix else f"{path.name}.xlsx"
        raise argparse.ArgumentTypeError(f"{text!r} must end in .xlsx (it is an Excel workbook), e.g. {suggestion}")
    return path


def record_key(text: str) -> tuple[str, str]:
    """SOURCE:RECORD_ID (the record id may itself contain ':', as intake ids do)."""
    source, sep, record_id = text.partition(":")
    if not sep or not source or not record_id:
        raise argparse.ArgumentTypeError(f"{text!r} is not SOURCE:RECORD_ID (for example grid:G00000001)")
    return source, record_id


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        try:
            return run_command(args)
        except HubError as exc:
            from pipelines.metadata import mask_text

            print(f"hub {args.command}: {mask_text(str(exc))}", file=sys.stderr)
            return 2
    except BrokenPipeError:
        # the reader (`| head`) stopped early: what it wanted is printed; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def existing_warehouse() -> Warehouse:
    """The warehouse every command shares (pipelines.settings); a command that only reads or adds to
    it never creates a new, empty one."""
    from pipelines.settings import default_database_url, home_origin
    from pipelines.warehouse import Warehouse

    return Warehouse.existing(default_database_url(), found_by=home_origin())


def run_command(args: argparse.Namespace) -> int:
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

        return serve_systems(data=args.data, people=args.people, seed=args.seed, out=args.out, env_file=args.env_file)
    if args.command == "link":
        from pipelines.link_command import run_link

        summary = run_link(args.config, args.out)
        for field in summary.absent_fields:
            print(f"hub link: warning: field {field!r} is in no source; it counts for nothing", file=sys.stderr)
        print("\n".join(summary.lines()))
        return 0
    if args.command == "decide":
        from pipelines.review import check_distinct, check_pair
        from pipelines.settings import hub_home

        check_distinct(args.left, args.right)
        warehouse = existing_warehouse()
        check_pair(warehouse, args.left, args.right)
        warehouse.record_decision(args.left, args.right, same=args.same, steward=args.steward, note=args.note)
        verdict = "the same person" if args.same else "different people"
        print(
            f"recorded: {':'.join(args.left)} and {':'.join(args.right)} are {verdict} (by {args.steward}); "
            f"the next run on {hub_home()} honours it"
        )
        return 0
    if args.command == "explain":
        from pipelines.explain_command import explain_pair, explanation_lines

        why = explain_pair(existing_warehouse(), args.left, args.right)
        print("\n".join(explanation_lines(args.left, args.right, why)))
        return 0
    if args.command == "review":
        from pipelines.review import REVIEW_BOOK, apply_review, export_review

        if args.review_command == "export":
            path, pairs, words = export_review(existing_warehouse(), args.out / REVIEW_BOOK)
            print(f"review workbook written: {path} ({pairs} pairs to judge, {words} words to map)")
            return 0
        applied = apply_review(existing_warehouse(), args.workbook, steward=args.steward)
        print(applied.line(args.workbook.name))
        for problem in applied.problems:
            print(f"  not taken: {problem}", file=sys.stderr)
        return 2 if applied.problems else 0
    if args.command == "answer":
        from pipelines.alerts import apply_returned_answers, load_alert_rules

        if args.workbook is not None:
            done = apply_returned_answers(existing_warehouse(), args.workbook, by=args.by)
            print(f"recorded {done.applied} answer(s) from {args.workbook.name}; {done.unchanged} unchanged")
            for problem in done.problems:
                print(f"  not recorded: {problem}", file=sys.stderr)
            return 2 if done.problems else 0
        if not args.alert_id or not args.answer:
            print("hub answer: give ALERT_ID ANSWER, or --workbook FILE", file=sys.stderr)
            return 2
        existing_warehouse().answer_alert(
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
    return 1


if __name__ == "__main__":
    sys.exit(main())
