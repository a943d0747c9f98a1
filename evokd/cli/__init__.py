"""The ``evokd`` command: parse flags, build a `Context`, run the graph with a SQLite checkpointer.

    evokd run --data rotten_tomatoes --shots 1 --rounds 4      # distil (local teacher if no URL)
    evokd resume runs/<name>                                   # continue a stopped or crashed run
    evokd inspect runs/<name> [--round N] [--json]             # rounds, analyses, samples, metrics
    evokd report runs/<name>                                   # one self-contained report.html
    evokd teacher fetch|serve                                  # the offline local teacher
    evokd data list|fetch NAME                                 # bundled real datasets
    evokd bench --datasets rotten_tomatoes --seeds 1,2,3       # methods at an equal teacher budget; speed

Errors a user can fix print one line and exit 2; a teacher that stays down exits 3 with the run
checkpointed for `evokd resume`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(stderr=True, highlight=False, soft_wrap=True)

# Context fields the run flags set directly (flag name = field name with dashes).
RUN_FIELDS = {
    "task": str, "shots": int, "seed": int, "per_round": int, "budget_tokens": int, "patience": int,
    "target": float, "replay": int, "dev_feedback": int, "feedback_limit": int, "student": str, "epochs": int, "min_steps": int, "lr": float,
    "batch_size": int, "max_length": int, "teacher_url": str, "teacher_model": str, "temperature": float,
    "max_tokens": int, "json_mode": str, "concurrency": int, "timeout": float, "max_retries": int,
    "parse_attempts": int, "task_description": str,
}
# Fields that are not saved in run.json because they are machine-specific or secret-adjacent.
EPHEMERAL = ("teacher_url",)


class UsageError(ValueError):
    """A bad flag or argument; printed as one line, exit code 2."""


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="rotten_tomatoes", help="data folder (train/dev/test files) or bundled name")
    p.add_argument("--task", choices=["classification", "ner"], default="classification")
    p.add_argument("--shots", type=int, default=1, help="seed examples per label (sentences per type for NER)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=5, dest="max_rounds", help="maximum evolution rounds")
    p.add_argument("--per-round", type=int, default=8, help="hard and easy texts per round (each)")
    p.add_argument("--budget-tokens", type=int, default=0, help="stop after this many teacher tokens (0 = none)")
    p.add_argument("--patience", type=int, default=3, help="stop after N rounds without a better dev score")
    p.add_argument("--target", type=float, default=0.0, help="stop once the dev score reaches this")
    p.add_argument("--replay", type=int, default=32, help="earlier samples replayed per round")
    p.add_argument("--dev-feedback", type=int, default=3,
                   help="dev texts the student gets wrong shown to the Analyst each round (0 = the paper's loop)")
    p.add_argument("--feedback-limit", type=int, default=6, help="wrong and right predictions each shown to the Analyst")
    p.add_argument("--student", default="", help="student encoder folder or id (default: bundled MiniLM)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--min-steps", type=int, default=40)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--teacher-url", default=os.environ.get("OPENAI_BASE_URL", ""),
                   help="OpenAI-compatible base URL (default $OPENAI_BASE_URL; none = local teacher)")
    p.add_argument("--teacher-model", default=os.environ.get("OPENAI_MODEL", ""), help="model name at that URL")
    p.add_argument("--api-key", default=None, help="API key (better: $OPENAI_API_KEY); never written to disk")
    p.add_argument("--local-teacher", default="qwen2.5-1.5b", help="local teacher when no URL is set")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--max-tokens", type=int, default=320)
    p.add_argument("--json-mode", choices=["json_schema", "json_object", "none"], default=None,
                   help="how JSON is requested (default json_schema; json_object for the local teacher)")
    p.add_argument("--concurrency", type=int, default=None, help="teacher requests in flight (default 4; 1 for the local teacher)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per teacher request (default 120; 600 local)")
    p.add_argument("--max-retries", type=int, default=4)
    p.add_argument("--parse-attempts", type=int, default=2)
    p.add_argument("--task-description", default="", help="one line telling the teacher what the labels mean")
    p.add_argument("--no-cache", action="store_true", help="do not cache teacher replies in the run folder")
    p.add_argument("--out", default="", help="run folder (default runs/<timestamp>)")
    p.add_argument("--prompt", action="append", default=[], metavar="AGENT=FILE",
                   help="use this prompt file for one agent (analyst, generator or critic); repeatable")
    p.add_argument("--prompts", default=None, metavar="DIR",
                   help="folder of prompt files (analyst.md, generator.md, critic.md, or <task>/<agent>.md)")
    p.add_argument("--review", default="", metavar="analysis,samples",
                   help="pause for a person after the Analyst (analysis) and/or the Critic (samples)")


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    ap = argparse.ArgumentParser(prog="evokd", description="Evolving knowledge distillation from a teacher LLM into a small student.")
    sub = ap.add_subparsers(dest="command", required=True)
    _add_run_flags(sub.add_parser("run", help="run a distillation"))
    r = sub.add_parser("resume", help="continue a stopped or crashed run from its last checkpoint")
    r.add_argument("run_dir")
    r.add_argument("--teacher-url", default=os.environ.get("OPENAI_BASE_URL", ""))
    r.add_argument("--api-key", default=None)
    r.add_argument("--local-teacher", default="qwen2.5-1.5b")
    t = sub.add_parser("teacher", help="the offline local teacher").add_subparsers(dest="action", required=True)
    tf = t.add_parser("fetch", help="assemble and verify a local teacher model")
    tf.add_argument("--model", default="qwen2.5-1.5b", choices=["qwen2.5-1.5b", "qwen2.5-0.5b"])
    ts = t.add_parser("serve", help="serve the local teacher on 127.0.0.1")
    ts.add_argument("--model", default="qwen2.5-1.5b")
    ts.add_argument("--port", type=int, default=8011)
    ts.add_argument("--threads", type=int, default=None)
    d = sub.add_parser("data", help="bundled real datasets").add_subparsers(dest="action", required=True)
    d.add_parser("list", help="list bundled datasets")
    df = d.add_parser("fetch", help="fetch and convert a bundled dataset")
    df.add_argument("name")
    from evokd.bench.bench import add_flags

    add_flags(sub.add_parser("bench", help="compare distillation methods at an equal teacher-token budget; speed"))
    i = sub.add_parser("inspect", help="show a run's rounds, analyses, samples with lineage and metrics")
    i.add_argument("run_dir")
    i.add_argument("--round", type=int, default=None, help="only this round's analysis and samples")
    i.add_argument("--json", action="store_true", help="print everything as JSON")
    rp = sub.add_parser("report", help="write a self-contained report.html for a run")
    rp.add_argument("run_dir")
    rp.add_argument("--out", default="", help="where to write it (default RUN_DIR/report.html)")
    from evokd.cli.handoff import add_commands  # predict, export

    ap.set_defaults(handlers=add_commands(sub))
    return ap


def context_from_args(args: argparse.Namespace, run_dir: Path) -> object:
    """A `Context` from parsed run flags, with every prompt loaded and checked."""
    from evokd import prompts
    from evokd.settings import Context

    values = {k: getattr(args, k) for k in RUN_FIELDS if getattr(args, k, None) is not None}
    texts = prompts.load(args.task, dict(_agent_file(p) for p in args.prompt), args.prompts)
    # Paths are made absolute: run.json and the checkpointed state keep them, and `evokd resume` may run elsewhere.
    run_dir = run_dir.resolve()
    data = str(Path(args.data).resolve()) if Path(args.data).exists() else args.data  # else a bundled name
    if values.get("student") and Path(values["student"]).exists():
        values["student"] = str(Path(values["student"]).resolve())
    return Context(**values, data=data, max_rounds=args.max_rounds, run_dir=str(run_dir),
                   cache="" if args.no_cache else str(run_dir / "teacher_cache.sqlite"),
                   review=_reviews(args.review), **{f"{agent}_prompt": text for agent, text in texts.items()})


def _agent_file(value: str) -> tuple[str, str]:
    """``--prompt analyst=path.md`` as (agent, path)."""
    agent, sep, path = value.partition("=")
    if not sep or not path:
        raise UsageError(f"--prompt {value}: expected AGENT=FILE, e.g. --prompt analyst=my_analyst.md")
    return agent.strip(), path


def _reviews(value: str) -> tuple[str, ...]:
    """``--review analysis,samples`` as a tuple of review points."""
    from evokd.settings import REVIEWS

    chosen = tuple(v.strip() for v in value.split(",") if v.strip())
    if unknown := [v for v in chosen if v not in REVIEWS]:
        raise UsageError(f"--review {value}: unknown {', '.join(unknown)}; use {','.join(REVIEWS)}")
    return chosen


def check_inputs(ctx: object) -> None:
    """Fail on bad data, prompts or student before anything is written or any teacher is called."""
    from evokd.data.readers import sample_shots
    from evokd.services import services
    from evokd.student import model

    ds = services(ctx).dataset  # type: ignore[attr-defined]
    sample_shots(ds.train, ds.task, ctx.shots, ctx.seed)  # type: ignore[attr-defined]
    for agent in ("analyst", "generator", "critic"):
        ctx.prompt(agent)  # type: ignore[attr-defined]
    # Loading is the only sure check (a folder can exist yet lack weights or a tokenizer); it is cheap next to a run.
    model.load(ctx.student or model.default_student_path(), ds.task, device="cpu")  # type: ignore[attr-defined]


# Teacher settings that depend on the endpoint. llama.cpp's server answers one request at a time, so
# concurrent requests would only queue there and time out while waiting; a CPU-bound local model
# also needs a longer timeout.
REMOTE = {"json_mode": "json_schema", "concurrency": 4, "timeout": 120.0}
LOCAL = {"json_mode": "json_object", "concurrency": 1, "timeout": 600.0}  # llama.cpp reads the schema from json_object


@contextmanager
def teacher_endpoint(url: str, local: str, chosen: dict[str, object]) -> Iterator[dict[str, object]]:
    """Context values for the teacher: the configured URL, else a local server for the run's length.

    ``chosen`` holds the endpoint settings the user set (None = not set); the rest take the endpoint's defaults.
    """
    def settle(defaults: dict[str, object]) -> dict[str, object]:
        return {k: v if chosen.get(k) is None else chosen[k] for k, v in defaults.items()}

    if url:
        yield {"teacher_url": url, **settle(REMOTE)}
        return
    from evokd.teacher.local import fetch_teacher, managed_server

    console.print(f"[bold]no teacher URL set: starting the local teacher ({local}) on 127.0.0.1[/]")
    path = fetch_teacher(local, progress=lambda line: console.print(line))
    with managed_server(path) as base_url:
        console.print(f"local teacher ready at {base_url}")
        yield {"teacher_url": base_url, **settle(LOCAL)}


@contextmanager
def exit_promptly(run_dir: Path) -> Iterator[None]:
    """Ctrl-C or SIGTERM during a run exits at once instead of waiting for a long node to finish.

    That is safe: every finished node is checkpointed, run files are append-only and idempotent, and
    teacher replies are cached, so `evokd resume` picks up exactly where the run stopped. A local
    teacher server started for the run dies with this process (it is spawned with a parent-death signal).
    """
    def stop(signum: int, _frame: object) -> None:
        print(f"\nevokd: stopped; continue with 'evokd resume {run_dir}'", file=sys.stderr, flush=True)
        os._exit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def execute(ctx: object, run_dir: Path, resume: bool) -> int:
    """Stream the graph for this run's thread, printing progress; return the exit code."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.types import Command

    from evokd.cli import console_review as review
    from evokd.graph.build import build_graph

    cfg = {"configurable": {"thread_id": run_dir.name}, "recursion_limit": 10_000}
    with SqliteSaver.from_conn_string(str(run_dir / "checkpoints.sqlite")) as saver:
        app = build_graph().compile(checkpointer=saver)
        snapshot = app.get_state(cfg)
        if resume and not snapshot.next and snapshot.values.get("summary"):
            console.print(f"run {run_dir} already finished ({snapshot.values['stop_reason']}); nothing to resume")
            show_summary(run_dir)
            return 0
        # A run stopped before its first checkpoint has nothing to continue from: it starts afresh.
        inputs: object = None if resume and snapshot.created_at else {}
        started = time.perf_counter()
        with exit_promptly(run_dir):
            while True:
                for mode, chunk in app.stream(inputs, cfg, context=ctx, stream_mode=["updates", "custom"], durability="sync"):
                    show_progress(mode, chunk)
                paused = app.get_state(cfg).interrupts
                if not paused:
                    break
                # a review point (--review): ask in the terminal, then resume the paused node with the answer
                inputs = Command(resume=review.ask(paused[0].value, read=input, show=lambda line: console.print(line, markup=False)))
        console.print(f"finished in {time.perf_counter() - started:.0f} s")
    show_summary(run_dir)
    return 0


_last_epoch_line = [0.0]


def show_progress(mode: str, chunk: dict) -> None:
    """One terminal line per node update, and a training line every few seconds and at the end."""
    if mode == "custom":
        if "epoch" in chunk:
            if chunk["epoch"] < chunk["epochs"] and time.monotonic() - _last_epoch_line[0] < 5:
                return  # tiny data runs many one-step epochs; a line per epoch would flood the terminal
            _last_epoch_line[0] = time.monotonic()
            console.print(f"  round {chunk['round']} · student · epoch {chunk['epoch']}/{chunk['epochs']} "
                          f"step {chunk['step']}/{chunk['steps']} loss {chunk['loss']:.4f}")
        elif "status" in chunk:
            console.print(f"  round {chunk['round']} · {chunk['node']} · {chunk['status']}", style="dim")
        return
    for node, update in chunk.items():
        if not isinstance(update, dict):
            continue
        if node == "student" and update.get("history"):
            rec = update["history"][-1]
            console.print(f"[bold]round {rec['round']}[/] · student · dev {rec['dev']['score']:.4f} · "
                          f"test {rec['test']['score']:.4f} · accepted {rec.get('accepted', 0)} · "
                          f"teacher tokens {rec['teacher_tokens']:,}")
        elif node == "critic":
            batch = update.get("batch", [])
            ok = sum(s["verdict"] == "accepted" for s in batch)
            console.print(f"round {batch[0]['round'] if batch else '?'} · critic · {ok}/{len(batch)} accepted")
        elif node == "analyst":
            a = update.get("analysis", {})
            console.print(f"round {update.get('round')} · analyst · {len(a.get('weaknesses', []))} weaknesses ({a.get('status')})")
        elif node == "generator":
            console.print(f"round {update['batch'][0]['round'] if update.get('batch') else '?'} · generator · "
                          f"{sum(s['verdict'] == 'pending' for s in update.get('batch', []))} texts written")
        elif node == "finalize":
            console.print(f"stopped: {update.get('stop_reason')}")


def show_summary(run_dir: Path) -> None:
    """The learning curve and where the run lives."""
    from evokd.records import read_jsonl

    table = Table(title=f"learning curve ({run_dir})")
    for col in ("round", "dev", "test", "accepted", "rejected", "teacher tokens", "seconds"):
        table.add_column(col, justify="right")
    for r in read_jsonl(run_dir / "rounds.jsonl"):
        table.add_row(str(r["round"]), f"{r['dev']['score']:.4f}", f"{r['test']['score']:.4f}", str(r.get("accepted", 0)),
                      str(sum(r.get("rejected", {}).values())), f"{r['teacher_tokens']:,}",
                      f"{sum(n.get('seconds', 0) for n in r.get('nodes', {}).values()):.0f}")
    Console(highlight=False).print(table)
    summary = run_dir / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        Console(highlight=False).print(
            f"best round {s['best_round']} · dev {s['dev']['score']:.4f} · test {s['test']['score']:.4f} "
            f"(seed-only test {s['seed_only']['test']['score']:.4f}) · stop: {s['stop_reason']} · model: {s['model']}")


def save_run_config(ctx: object, run_dir: Path) -> None:
    """run.json: the settings needed to resume (no API key, no machine-specific URL)."""
    from evokd.records import write_json

    values = {k: v for k, v in dataclasses.asdict(ctx).items() if k not in EPHEMERAL}  # type: ignore[call-overload]
    write_json(run_dir / "run.json", values)


def cmd_run(args: argparse.Namespace) -> int:
    """``evokd run``."""
    run_dir = Path(args.out)
    if (run_dir / "checkpoints.sqlite").exists():
        raise UsageError(f"{run_dir} already holds a run; continue it with 'evokd resume {run_dir}' or pick another --out")
    ctx = context_from_args(args, run_dir)
    check_inputs(ctx)
    chosen = {k: getattr(args, k) for k in ("json_mode", "concurrency", "timeout")}
    with teacher_endpoint(args.teacher_url, args.local_teacher, chosen) as endpoint:
        ctx = dataclasses.replace(ctx, **endpoint)  # type: ignore[type-var]
        run_dir.mkdir(parents=True, exist_ok=True)
        save_run_config(ctx, run_dir)
        console.print(f"run folder: {run_dir}")
        return execute(ctx, run_dir, resume=False)


def cmd_resume(args: argparse.Namespace) -> int:
    """``evokd resume RUN_DIR``."""
    from evokd.settings import Context

    run_dir = Path(args.run_dir)
    if not (run_dir / "run.json").exists() or not (run_dir / "checkpoints.sqlite").exists():
        raise UsageError(f"{run_dir}: no run.json/checkpoints.sqlite here; give a folder made by 'evokd run'")
    saved = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    ctx = Context(**saved)
    chosen = {k: saved.get(k) for k in ("json_mode", "concurrency", "timeout")}
    with teacher_endpoint(args.teacher_url, args.local_teacher, chosen) as endpoint:
        return execute(dataclasses.replace(ctx, **endpoint), run_dir, resume=True)


def cmd_teacher(args: argparse.Namespace) -> int:
    """``evokd teacher fetch|serve``."""
    from evokd.teacher import local as local_teacher

    if args.action == "fetch":
        path = local_teacher.fetch_teacher(args.model, progress=lambda line: console.print(line))
        console.print(f"teacher ready: {path}")
    else:
        local_teacher.serve_forever(args.model, port=args.port, threads=args.threads,
                                    progress=lambda line: console.print(line))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """``evokd data list|fetch``."""
    from evokd.data import registry as datasets

    if args.action == "list":
        table = Table(title="bundled datasets")
        for col in ("name", "task", "fetched", "path"):
            table.add_column(col)
        for d in datasets.list_datasets():
            table.add_row(str(d["name"]), str(d["kind"]), "yes" if d["fetched"] else "no", str(d.get("path", "")))
        Console(highlight=False).print(table)
    else:
        console.print(f"dataset ready: {datasets.fetch_dataset(args.name, progress=lambda line: console.print(line))}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """``evokd inspect RUN_DIR``."""
    from evokd.cli import inspection

    view = inspection.load_run(args.run_dir)
    if args.json:
        print(json.dumps(inspection.to_json(view, args.round), indent=2, ensure_ascii=False))
    else:
        inspection.show(view, args.round, Console(highlight=False))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``evokd report RUN_DIR``."""
    from evokd.cli import html_report as report

    console.print(f"report written: {report.write_report(args.run_dir, args.out or None)}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """``evokd bench``: the benchmark itself lives in benchmarks/ (installed as `evokd.bench`)."""
    from evokd.bench.bench import main as bench

    try:
        return bench(args, lambda line: console.print(line, markup=False))
    except ValueError as e:  # bad flags or data: one line, exit 2
        raise UsageError(str(e)) from None


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input, shown as one line with exit code 2."""
    from evokd.data.registry import DataNotFound, DatasetError
    from evokd.cli.inspection import RunNotFound
    from evokd.prompts import PromptError
    from evokd.data.readers import DataError
    from evokd.student.model import StudentError

    return (UsageError, DataError, DataNotFound, PromptError, StudentError, RunNotFound)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``evokd`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # our own progress lines replace theirs
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    args = parser().parse_args(argv)
    if getattr(args, "api_key", None):
        os.environ["OPENAI_API_KEY"] = args.api_key  # kept in this process only, never written
    if args.command == "run" and not args.out:
        args.out = f"runs/{time.strftime('%Y%m%d-%H%M%S')}"
    commands = {"run": cmd_run, "resume": cmd_resume, "teacher": cmd_teacher, "data": cmd_data,
                "inspect": cmd_inspect, "report": cmd_report, "bench": cmd_bench}
    from evokd.teacher.client import TeacherUnavailable
    from evokd.teacher.local import TeacherError

    run_dir = getattr(args, "out", "") or getattr(args, "run_dir", "RUN_DIR")  # `resume` has no --out
    try:
        return {**commands, **args.handlers}[args.command](args)
    except user_errors() as e:
        print(f"evokd: error: {e}", file=sys.stderr)
        return 2
    except (TeacherUnavailable, TeacherError) as e:
        where = f"; the run is checkpointed: continue with 'evokd resume {run_dir}'" if args.command in ("run", "resume") else ""
        print(f"evokd: teacher error: {e}{where}", file=sys.stderr)
        return 3
    except EOFError:  # stdin ended while a review was waiting for a reply
        print(f"evokd: no reply to the review (end of input); the run is paused: continue with 'evokd resume {run_dir}'",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted; a started run can be continued with 'evokd resume RUN_DIR'", style="yellow")
        return 130

