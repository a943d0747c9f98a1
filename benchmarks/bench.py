"""`evokd bench`: settings from flags, one teacher for the whole benchmark, then the runs and speed measurements."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from evokd.bench import METHOD_NAMES, REFERENCES

if TYPE_CHECKING:  # the heavy modules load only when a benchmark runs, not when the CLI parses flags
    from evokd.bench.settings import Say, Settings

BENCH_PORT = 8019  # a fixed port: run fingerprints include the teacher URL, so a rerun must see the same one
# (the reply cache does not depend on it: for the local teacher its key names the weights' sha256)
# Quick mode: small enough for CI (minutes), large enough that every code path runs.
QUICK = dict(
    seeds=[1],
    budget_tokens=1_500,
    per_round=2,
    max_rounds=4,
    epochs=1,
    min_steps=8,
    teacher_eval=20,
    eval_limit=300,
    full_shot_limit=256,
    out="runs/bench-quick/results",
    work="runs/bench-quick",
)


def _flagged(shared: bool) -> list[str]:
    """The `Settings` fields with a declared flag: those it shares with `Context` (``shared``), or its own.

    The teacher URL is left out: ``evokd bench`` has a flag of its own for it, as it ignores $OPENAI_BASE_URL.
    """
    from evokd.bench.settings import Settings

    return [
        f.name
        for f in dataclasses.fields(Settings)
        if f.metadata.get("flag") and bool(f.metadata.get("setting")) == shared and f.name != "teacher_url"
    ]


def add_flags(p: argparse.ArgumentParser) -> None:
    """The ``evokd bench`` flags: what to compare and how, then its settings (help from their declarations)."""
    from evokd.bench.settings import Settings
    from evokd.settings import add_flags as add_setting_flags

    p.add_argument(
        "--datasets", default="rotten_tomatoes,bbc_news", help="comma-separated bundled names or data folders"
    )
    p.add_argument(
        "--methods",
        default=",".join([*METHOD_NAMES, *REFERENCES]),
        help=f"comma-separated, from: {', '.join([*METHOD_NAMES, *REFERENCES])} (none: only --speed)",
    )
    p.add_argument(
        "--seeds", default=None, help="comma-separated seeds (default 1-5 on classification, 1-3 on NER; quick: 1)"
    )
    p.add_argument("--quick", action="store_true", help="a few minutes: 1 seed, small budget, 0.5B local teacher")
    p.add_argument("--speed", action="store_true", help="also measure speed (writes speed.json|md)")
    p.add_argument(
        "--report-only", action="store_true", help="rewrite tables and plots from finished runs; run nothing"
    )
    p.add_argument("--no-cache", action="store_true", help="do not cache teacher replies")
    cells = p.add_argument_group("cells: one dataset x method x seed each, run in this process by default")
    cells.add_argument("--list-cells", action="store_true", help="print every cell, one per line with its index")
    cells.add_argument(
        "--cell-index", type=int, default=None, help="run only cell I (an array job: --cell-index $SLURM_ARRAY_TASK_ID)"
    )
    cells.add_argument("--collect", action="store_true", help="build the tables from finished cells; run nothing")
    cells.add_argument(
        "--ray-address",
        default="",
        help="run cells as Ray tasks: 'local' (a private cluster here), 'auto' or HOST:PORT",
    )
    cells.add_argument("--cell-cpus", type=float, default=1.0, help="CPUs per Ray task (default 1)")
    cells.add_argument("--cell-gpus", type=float, default=0.0, help="GPUs per Ray task (default 0)")
    p.add_argument("--teacher-url", default="", help="OpenAI-compatible base URL (default: the local teacher)")
    p.add_argument(
        "--port",
        type=int,
        default=BENCH_PORT,
        help="loopback port of the local teacher (keep it fixed: run fingerprints include the teacher URL)",
    )
    p.add_argument(
        "--local-teacher", default=None, help="local teacher name (default qwen2.5-1.5b; quick: qwen2.5-0.5b)"
    )
    # Every settings flag defaults to None, so --quick can fill in what was not given.
    for shared, title in ((False, "benchmark settings"), (True, "run settings, shared with evokd run")):
        names = _flagged(shared)
        add_setting_flags(p.add_argument_group(title), Settings, only=names, unset=names)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """`Settings` from the flags; --quick fills in what was not given."""
    from evokd.bench.settings import Settings

    s = Settings(**(QUICK if args.quick else {}))  # type: ignore[arg-type]
    given = {
        "datasets": args.datasets.split(","),
        "methods": args.methods.split(","),
        "seeds": [int(x) for x in args.seeds.split(",")] if args.seeds else None,
        "cache": not args.no_cache,
        "quick": args.quick,
        "report_only": args.report_only or args.collect,
        **{name: getattr(args, name) for name in [*_flagged(False), *_flagged(True)]},
    }
    if given["methods"] == ["none"]:  # --methods none --speed: only the speed measurements
        given["methods"] = []
    unknown = [m for m in given["methods"] if m not in (*METHOD_NAMES, *REFERENCES)]
    if unknown:
        raise ValueError(
            f"--methods: unknown {', '.join(unknown)}; choose from {', '.join([*METHOD_NAMES, *REFERENCES])}"
        )
    from evokd.bench.methods import methods

    for name in given["methods"]:
        need = methods(s.per_round)[name].requires if name in METHOD_NAMES else ""
        if need and importlib.util.find_spec(need) is None:
            raise ValueError(f"--methods {name}: needs the {need} package: pip install 'evokd[{need}]'")
    return dataclasses.replace(s, **{k: v for k, v in given.items() if v is not None})


@contextlib.contextmanager
def teacher(args: argparse.Namespace, s: Settings, say: Say) -> Iterator[Settings]:
    """The settings with a teacher endpoint: the given URL, or the local teacher started once for the whole run.

    The endpoint policy is `evokd run`'s (`teacher_endpoint`); with --report-only the local teacher's settings
    (and so the same run fingerprints) come without a server.
    """
    from evokd.settings import endpoint_defaults
    from evokd.teacher.local import DEFAULT_TEACHER, TEACHERS, teacher_endpoint

    name = args.local_teacher or ("qwen2.5-0.5b" if args.quick else DEFAULT_TEACHER)
    chosen = {k: getattr(args, k) for k in endpoint_defaults(local=False)}
    with teacher_endpoint(
        args.teacher_url, name, chosen, say, port=args.port, threads=s.threads, start=not s.report_only
    ) as endpoint:
        named = (
            (s.teacher_name or s.teacher_model) if args.teacher_url else f"{TEACHERS[name].model} (llama.cpp, local)"
        )
        yield dataclasses.replace(s, **endpoint, teacher_name=named)


def main(args: argparse.Namespace, say: Say) -> int:
    """Run the benchmark's cells (here, on Ray, or the one an array index names), then build the tables."""
    from evokd.bench import speed
    from evokd.bench.cells import all_cells, asks_teacher, cell_at, collect, run_cell, run_local, run_ray

    # A benchmark is long: let `kill` unwind like Ctrl-C, so the local teacher server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    s = settings_from_args(args)
    if args.list_cells:
        for i, cell in enumerate(all_cells(s)):
            print(f"{i}\t{cell.id}", flush=True)
        return 0
    cells = [cell_at(s, args.cell_index)] if args.cell_index is not None else all_cells(s)
    # With --collect the teacher's settings still come (run fingerprints name its URL), its server does not start.
    teacher_needed = any(asks_teacher(s, c) for c in cells)
    if cells:
        with teacher(args, s, say) if teacher_needed else contextlib.nullcontext(s) as s:
            say(
                f"benchmark: {len(cells)} cell(s) of {', '.join(s.datasets)} · methods {', '.join(s.methods)} · "
                f"{s.shots}-shot · top budget {s.budget_tokens:,} tokens · teacher {s.teacher_name or s.teacher_model}"
            )
            if args.cell_index is not None:
                run_cell(s, cells[0], say)
                say(f"cell {args.cell_index} ({cells[0].id}) finished; build the tables with --collect")
                return 0
            failed: list[str] = []
            if args.ray_address and not s.report_only:
                failed = run_ray(s, cells, args.ray_address, args.cell_cpus, args.cell_gpus, say)
            elif not s.report_only:
                run_local(s, cells, say)
            summaries = collect(s)
        for summary in summaries:
            say(f"wrote {Path(s.out) / Path(summary['dataset']).name}.json|md|png")
        if failed:
            say(f"{len(failed)} cell(s) failed; rerun the same command to resume them")
            return 1
    if args.speed and s.report_only:
        speed.refresh_split(s.out, s.work, s.datasets)
    elif args.speed:
        speed.run(s.out, s.data_folder(s.datasets[0]), s.student, s.work, s.datasets, say, quick=s.quick)
        say(f"wrote {Path(s.out) / 'speed.json'}|md")
    return 0


def say(line: str) -> None:
    """A progress line on stderr."""
    print(line, file=sys.stderr, flush=True)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """``evokd bench``, mounted through the ``evokd.commands`` entry point (the CLI never names the benchmark)."""
    b = sub.add_parser("bench", help="compare distillation methods at an equal teacher-token budget; speed")
    add_flags(b)
    b.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    """Run the benchmark; bad flags or data are one line and exit code 2, like the CLI's own errors."""
    try:
        return main(args, say)
    except ValueError as e:
        print(f"evokd: error: {e}", file=sys.stderr)
        return 2
