"""The subcommands around a run: the local teacher, bundled datasets, inspect and report."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from evokd.cli.console import console, say
from evokd.cli.flags import UsageError
from evokd.settings import Context, add_flags, requested_model


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``teacher``, ``data``, ``inspect`` and ``report``."""
    from evokd.teacher.local import DEFAULT_PORT, DEFAULT_TEACHER, TEACHERS

    t = sub.add_parser("teacher", help="the offline local teacher").add_subparsers(dest="action", required=True)
    tf = t.add_parser("fetch", help="assemble and verify a local teacher model")
    tf.add_argument("--model", default=DEFAULT_TEACHER, choices=list(TEACHERS))
    ts = t.add_parser("serve", help="serve the local teacher on 127.0.0.1")
    ts.add_argument("--model", default=DEFAULT_TEACHER, help="a registered name or a GGUF file")
    ts.add_argument("--port", type=int, default=DEFAULT_PORT)
    ts.add_argument("--threads", type=int, default=None)
    for p in (tf, ts):
        p.set_defaults(handler=cmd_teacher)
    tc = t.add_parser("check", help="what an OpenAI-compatible endpoint can do, and what to set for it")
    add_flags(tc, Context, only=("teacher_url", "teacher_model", "concurrency", "timeout"))
    tc.add_argument("--api-key", default=None, help="API key (better: $OPENAI_API_KEY); never written to disk")
    tc.set_defaults(handler=cmd_teacher_check)
    d = sub.add_parser("data", help="bundled real datasets").add_subparsers(dest="action", required=True)
    d.add_parser("list", help="list bundled datasets").set_defaults(handler=cmd_data)
    df = d.add_parser("fetch", help="fetch and convert a bundled dataset")
    df.add_argument("name")
    df.set_defaults(handler=cmd_data)
    i = sub.add_parser("inspect", help="show a run's rounds, analyses, samples with lineage and metrics")
    i.add_argument("run_dir")
    i.add_argument("--round", type=int, default=None, help="only this round's analysis and samples")
    i.add_argument("--json", action="store_true", help="print everything as JSON")
    i.set_defaults(handler=cmd_inspect)
    rp = sub.add_parser("report", help="write a self-contained report.html for a run")
    rp.add_argument("run_dir")
    rp.add_argument("--out", default="", help="where to write it (default RUN_DIR/report.html)")
    rp.set_defaults(handler=cmd_report)


def cmd_teacher(args: argparse.Namespace) -> int:
    """Fetch a local teacher, or serve one in the foreground until Ctrl-C."""
    from evokd.teacher import local

    if args.action == "fetch":
        console.print(f"teacher ready: {local.fetch_teacher(args.model, progress=say)}")
    else:
        local.serve_forever(args.model, port=args.port, threads=args.threads, progress=say)
    return 0


def cmd_teacher_check(args: argparse.Namespace) -> int:
    """Probe the endpoint and print one line per finding; exit 1 if the model cannot be used as set."""
    from evokd.teacher.check import check

    if not args.teacher_url:
        raise UsageError(
            "teacher check: give --teacher-url (or set OPENAI_BASE_URL); evokd run checks the local "
            "teacher it starts itself"
        )
    model = requested_model(args.teacher_model)
    findings = check(args.teacher_url, model, concurrency=args.concurrency or 4, timeout=args.timeout or 60.0)
    for finding in findings:
        console.print(finding.line(), markup=False)
    return 0 if all(f.ok for f in findings if f.name in ("endpoint", "model")) else 1


def cmd_data(args: argparse.Namespace) -> int:
    """List the bundled datasets, or fetch and convert one."""
    from evokd.data import registry

    if args.action == "list":
        table = Table(title="bundled datasets")
        for col in ("name", "task", "fetched", "path"):
            table.add_column(col)
        for d in registry.list_datasets():
            table.add_row(str(d["name"]), str(d["kind"]), "yes" if d["fetched"] else "no", str(d.get("path", "")))
        Console(highlight=False).print(table)
    else:
        console.print(f"dataset ready: {registry.fetch_dataset(args.name, progress=say)}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print a run read back from its checkpoints: tables, or JSON on stdout."""
    from evokd.cli import inspection

    view = inspection.load_run(args.run_dir)
    if args.json:
        print(json.dumps(inspection.to_json(view, args.round), indent=2, ensure_ascii=False))
    else:
        inspection.show(view, args.round, Console(highlight=False))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write a run's self-contained HTML report."""
    from evokd.cli import html_report

    console.print(f"report written: {html_report.write_report(args.run_dir, args.out or None)}")
    return 0
