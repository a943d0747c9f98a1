"""``evokd run`` and ``evokd resume``: check the inputs, settle the teacher endpoint, stream the graph.

The graph runs with a SQLite checkpointer in the run folder (or a PostgreSQL server given with
``--checkpointer``), so a stopped or crashed run continues with ``evokd resume``; run.json keeps the
settings it needs (no API key, no machine-specific URL, no database URL). A remote teacher is checked
(it answers, the key is accepted, the model is served) before anything is trained.
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
from typing import TYPE_CHECKING, Any, cast

from evokd.cli.console import console, say, show_progress, show_summary
from evokd.cli.flags import UsageError, add_endpoint_flags, add_run_flags, context_from_args
from evokd.settings import Context, endpoint_defaults, requested_model

if TYPE_CHECKING:  # only for annotations: the CLI imports langchain and langgraph lazily, when a run starts
    from langchain_core.runnables import RunnableConfig
    from langgraph.types import Command

    from evokd.state import State

# Fields that are not saved in run.json because they are machine-specific or secret-adjacent.
EPHEMERAL = ("teacher_url",)
# Where a run that checkpoints to PostgreSQL records that it does, and its thread (never the URL: it may hold a
# password).
CHECKPOINTER_FILE = "checkpointer.json"


def add_checkpointer_flag(p: argparse.ArgumentParser) -> None:
    """``--checkpointer``, shared by run and resume."""
    p.add_argument(
        "--checkpointer",
        default="",
        metavar="URL",
        help="postgresql://USER@HOST:PORT/DB to checkpoint on a PostgreSQL server (a run that must "
        "resume on another node; needs evokd[postgres]); default: SQLite in the run folder",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``run`` and ``resume`` subcommands."""
    run = sub.add_parser(
        "run",
        help="run a distillation",
        description="Distil a teacher into a student: "
        "evolve the student round by round on texts the teacher writes for its weaknesses.",
    )
    add_run_flags(run)
    add_checkpointer_flag(run)
    run.set_defaults(handler=cmd_run)
    resume = sub.add_parser("resume", help="continue a stopped or crashed run from its last checkpoint")
    resume.add_argument("run_dir")
    add_endpoint_flags(resume)
    add_checkpointer_flag(resume)
    resume.set_defaults(handler=cmd_resume)


def check_inputs(ctx: Context) -> None:
    """Fail on bad data, pool, prompts or student before anything is written or any teacher is called."""
    from evokd.services import services
    from evokd.student import model
    from evokd.tasks import head_for, sample_shots

    ds = services(ctx).dataset
    seeds = sample_shots(ds.train, ds.task, ctx.shots, ctx.seed)
    services(ctx).pool([e["text"] for e in seeds])  # a missing, empty, binary or text-less pool file fails here
    adapter = services(ctx).adapter  # fitted to the data and its card: a bad card.json fails here
    if ctx.label_batch > 1 and not adapter.batches_labels:
        raise UsageError(f"--label-batch: {ctx.task} labels one text per teacher call; drop --label-batch")
    if ctx.self_train and head_for(ds.task).per_token:
        raise UsageError(f"--self-train labels whole texts and {ctx.task} labels words; drop --self-train")
    for agent in ("analyst", "generator", "critic"):
        ctx.prompt(agent)
    # Loading is the only sure check (a folder can exist yet lack weights or a tokenizer); it is cheap next to a run.
    model.load(ctx.student or model.default_student_path(), head_for(ds.task), device="cpu")


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


def thread_of(run_dir: Path) -> str:
    """The run's checkpoint thread: recorded for a PostgreSQL run (shared by many runs), else the folder's name."""
    marker = run_dir / CHECKPOINTER_FILE
    if marker.exists():
        return str(json.loads(marker.read_text(encoding="utf-8"))["thread_id"])
    return run_dir.name


def execute(ctx: Context, run_dir: Path, resume: bool, checkpointer: str = "") -> int:
    """Stream the graph for this run's thread, printing progress; return the exit code."""
    from langgraph.types import Command

    from evokd.checkpoint import open_checkpointer
    from evokd.cli import console_review as review
    from evokd.graph.build import build_graph

    cfg: RunnableConfig = {"configurable": {"thread_id": thread_of(run_dir)}, "recursion_limit": 10_000}
    with open_checkpointer(checkpointer, run_dir) as saver:
        app = build_graph().compile(checkpointer=saver)
        snapshot = app.get_state(cfg)
        if resume and not snapshot.next and snapshot.values.get("summary"):
            console.print(f"run {run_dir} already finished ({snapshot.values['stop_reason']}); nothing to resume")
            show_summary(run_dir)
            return 0
        # A run stopped before its first checkpoint has nothing to continue from: it starts afresh.
        inputs: State | Command[str] | None = None if resume and snapshot.created_at else {}
        started = time.perf_counter()
        with exit_promptly(run_dir):
            while True:
                for part in app.stream(inputs, cfg, context=ctx, stream_mode=["updates", "custom"], durability="sync"):
                    # With a list of stream modes each part is a (mode, chunk) pair; the stubs type it as a chunk.
                    mode, chunk = cast("tuple[str, dict[str, Any]]", part)
                    show_progress(mode, chunk)
                paused = app.get_state(cfg).interrupts
                if not paused:
                    break
                # a review point (--review): ask in the terminal, then resume the paused node with the answer
                inputs = Command(resume=review.ask(paused[0].value, read=input, show=say))
        console.print(f"finished in {time.perf_counter() - started:.0f} s")
    show_summary(run_dir)
    return 0


def save_run_config(ctx: Context, run_dir: Path) -> None:
    """run.json: the settings needed to resume (no API key, no machine-specific URL)."""
    from evokd.records import write_json

    write_json(run_dir / "run.json", {k: v for k, v in dataclasses.asdict(ctx).items() if k not in EPHEMERAL})


def cmd_run(args: argparse.Namespace) -> int:
    """Refuse a folder that holds a run, check every input (settings, data, pool, prompts, student, teacher,
    checkpointer), and only then make the run folder and run with the teacher endpoint settled."""
    from evokd.checkpoint import SQLITE_FILE, is_postgres, open_checkpointer
    from evokd.services import services
    from evokd.teacher.check import preflight
    from evokd.teacher.client import TeacherUnavailable
    from evokd.teacher.local import teacher_endpoint

    run_dir = Path(args.out)
    if (run_dir / SQLITE_FILE).exists() or (run_dir / CHECKPOINTER_FILE).exists():
        raise UsageError(
            f"{run_dir} already holds a run; continue it with 'evokd resume {run_dir}' or pick another --out"
        )
    if args.checkpointer and not is_postgres(args.checkpointer):
        raise UsageError("--checkpointer: give postgresql://USER@HOST:PORT/DB, or leave it out for SQLite")
    ctx = context_from_args(args, run_dir)
    check_inputs(ctx)
    if args.checkpointer:  # the server answers and takes our tables, or the run stops here with nothing written
        with open_checkpointer(args.checkpointer, run_dir):
            pass
    if args.teacher_url:  # seconds, not a seed-pass training later: the endpoint, the key, the model
        try:
            preflight(args.teacher_url, requested_model(ctx.teacher_model))
        except TeacherUnavailable as e:  # nothing is written yet, so this is bad input, not a paused run
            raise UsageError(f"teacher check failed: {e}") from None
    chosen = {k: getattr(args, k) for k in endpoint_defaults(local=False)}  # None = left to the endpoint
    with teacher_endpoint(args.teacher_url, args.local_teacher, chosen, say) as endpoint:
        ctx = dataclasses.replace(ctx, **endpoint)
        ctx = dataclasses.replace(ctx, teacher_id=services(ctx).teacher_identity)  # kept in run.json for resume
        run_dir.mkdir(parents=True, exist_ok=True)
        save_run_config(ctx, run_dir)
        if args.checkpointer:
            from evokd.records import write_json

            thread = f"{run_dir.name}-{os.urandom(4).hex()}"  # unique on a server that many runs share
            write_json(run_dir / CHECKPOINTER_FILE, {"kind": "postgres", "thread_id": thread})
        console.print(f"run folder: {run_dir}")
        return execute(ctx, run_dir, resume=False, checkpointer=args.checkpointer)


def cmd_resume(args: argparse.Namespace) -> int:
    """Continue a run from run.json and its checkpoints; the endpoint settings saved with it still apply."""
    from evokd.checkpoint import SQLITE_FILE
    from evokd.teacher.local import teacher_endpoint

    run_dir = Path(args.run_dir)
    on_postgres = (run_dir / CHECKPOINTER_FILE).exists()
    if not (run_dir / "run.json").exists() or not (on_postgres or (run_dir / SQLITE_FILE).exists()):
        raise UsageError(f"{run_dir}: no run.json/checkpoints.sqlite here; give a folder made by 'evokd run'")
    if on_postgres != bool(args.checkpointer):
        raise UsageError(
            f"{run_dir} checkpoints to PostgreSQL: give its --checkpointer postgresql://... again"
            if on_postgres
            else f"{run_dir} checkpoints to SQLite in its folder: leave --checkpointer out"
        )
    saved = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    chosen = {k: saved.get(k) for k in endpoint_defaults(local=False)}
    with teacher_endpoint(args.teacher_url, args.local_teacher, chosen, say) as endpoint:
        ctx = dataclasses.replace(Context(**saved), **endpoint)
        return execute(ctx, run_dir, resume=True, checkpointer=args.checkpointer)
