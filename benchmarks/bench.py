"""`evokd bench`: settings from flags, one teacher for the whole benchmark, then the runs and speed measurements."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from evokd.bench import METHOD_NAMES, REFERENCES

if TYPE_CHECKING:  # the heavy modules load only when a benchmark runs, not when the CLI parses flags
    from evokd.bench.runner import Say, Settings

BENCH_PORT = 8019  # a fixed port: the reply cache is keyed by the teacher URL, so a rerun must see the same one
# Quick mode: small enough for CI (minutes), large enough that every code path runs.
QUICK = dict(seeds=[1], budget_tokens=1_500, per_round=2, max_rounds=4, epochs=1, min_steps=8, teacher_eval=20,
             full_shot_limit=256, out="runs/bench-quick/results", work="runs/bench-quick")


def add_flags(p: argparse.ArgumentParser) -> None:
    """The ``evokd bench`` flags."""
    p.add_argument("--datasets", default="rotten_tomatoes,bbc_news", help="comma-separated bundled names or data folders")
    p.add_argument("--methods", default=",".join([*METHOD_NAMES, *REFERENCES]),
                   help=f"comma-separated, from: {', '.join([*METHOD_NAMES, *REFERENCES])} (none: only --speed)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default 1,2,3; quick: 1)")
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--budget-tokens", type=int, default=None, help="teacher tokens per run, the same for every method")
    p.add_argument("--per-round", type=int, default=None, help="hard and easy texts per round (each)")
    p.add_argument("--teacher-eval", type=int, default=None, help="test texts the teacher labels zero-shot (0 = all)")
    p.add_argument("--full-shot-limit", type=int, default=None, help="train examples for full-shot (0 = all)")
    p.add_argument("--full-shot-epochs", type=int, default=None,
                   help="most epochs of the full-shot reference (default: the methods' recipe)")
    p.add_argument("--eval-limit", type=int, default=None, help="first N dev and test examples used (0 = all)")
    p.add_argument("--student", default="", help="student encoder folder (default: bundled MiniLM)")
    p.add_argument("--max-length", type=int, default=None, help="student max sub-tokens (default 128)")
    p.add_argument("--min-steps", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the student and the local teacher (default 1)")
    p.add_argument("--quick", action="store_true", help="a few minutes: 1 seed, small budget, 0.5B local teacher")
    p.add_argument("--speed", action="store_true", help="also measure speed (writes speed.json|md)")
    p.add_argument("--report-only", action="store_true", help="rewrite tables and plots from finished runs; run nothing")
    p.add_argument("--no-cache", action="store_true", help="do not cache teacher replies")
    p.add_argument("--teacher-url", default="", help="OpenAI-compatible base URL (default: the local teacher)")
    p.add_argument("--teacher-model", default="teacher")
    p.add_argument("--json-mode", choices=["json_schema", "json_object", "none"], default=None)
    p.add_argument("--concurrency", type=int, default=None, help="teacher requests in flight (default 1 local, 4 remote)")
    p.add_argument("--port", type=int, default=BENCH_PORT, help="loopback port of the local teacher (keep it fixed: "
                   "the reply cache is keyed by the teacher URL)")
    p.add_argument("--local-teacher", default=None, help="local teacher name (default qwen2.5-1.5b; quick: qwen2.5-0.5b)")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--work", default=None, help="run folders and reply cache (default runs/bench)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """`Settings` from the flags; --quick fills in what was not given."""
    from evokd.bench.runner import Settings

    s = Settings(**(QUICK if args.quick else {}))  # type: ignore[arg-type]
    given = {
        "datasets": args.datasets.split(","), "methods": args.methods.split(","), "shots": args.shots,
        "seeds": [int(x) for x in args.seeds.split(",")] if args.seeds else None,
        "budget_tokens": args.budget_tokens, "per_round": args.per_round, "teacher_eval": args.teacher_eval,
        "full_shot_limit": args.full_shot_limit, "full_shot_epochs": args.full_shot_epochs, "eval_limit": args.eval_limit, "student": args.student, "min_steps": args.min_steps, "max_length": args.max_length, "threads": args.threads,
        "epochs": args.epochs, "cache": not args.no_cache, "teacher_model": args.teacher_model,
        "out": args.out, "work": args.work, "quick": args.quick, "report_only": args.report_only,
    }
    if given["methods"] == ["none"]:  # --methods none --speed: only the speed measurements
        given["methods"] = []
    unknown = [m for m in given["methods"] if m not in (*METHOD_NAMES, *REFERENCES)]  # type: ignore[union-attr]
    if unknown:
        raise ValueError(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join([*METHOD_NAMES, *REFERENCES])}")
    return dataclasses.replace(s, **{k: v for k, v in given.items() if v is not None})


@contextlib.contextmanager
def teacher(args: argparse.Namespace, s: Settings, say: Say) -> Iterator[Settings]:
    """The settings with a teacher endpoint: the given URL, or the local teacher started once for the whole run."""
    if args.teacher_url:
        yield dataclasses.replace(s, teacher_url=args.teacher_url, json_mode=args.json_mode or "json_schema",
                                  concurrency=args.concurrency or 4, teacher_name=s.teacher_name or args.teacher_model)
        return
    from evokd.teacher.local import LOOPBACK, TEACHERS, fetch_teacher, managed_server

    name = args.local_teacher or ("qwen2.5-0.5b" if args.quick else "qwen2.5-1.5b")
    # llama.cpp serves one request at a time: more in flight would only queue (and time out) there.
    local = dataclasses.replace(s, teacher_url=f"http://{LOOPBACK}:{args.port}/v1", json_mode=args.json_mode or "json_object",
                                concurrency=args.concurrency or 1, teacher_name=f"{TEACHERS[name].model} (llama.cpp, local)")
    if s.report_only:  # the same settings (and so the same run fingerprints), without a server
        yield local
        return
    path = fetch_teacher(name, progress=say)
    say(f"starting the local teacher {name} on {LOOPBACK}:{args.port} for the whole benchmark")
    with managed_server(path, port=args.port, threads=s.threads) as url:
        yield dataclasses.replace(local, teacher_url=url)


def main(args: argparse.Namespace, say: Say) -> int:
    """Run the benchmark (and the speed measurements) and print where the results are."""
    from evokd.bench import speed
    from evokd.bench.runner import run_benchmark

    # A benchmark is long: let `kill` unwind like Ctrl-C, so the local teacher server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    s = settings_from_args(args)
    teacher_needed = any(m not in ("seed-only", "full-shot") for m in s.methods)
    if s.methods:
        with (teacher(args, s, say) if teacher_needed else contextlib.nullcontext(s)) as s:
            say(f"benchmark: {', '.join(s.datasets)} · methods {', '.join(s.methods)} · seeds {s.seeds} · "
                f"{s.shots}-shot · budget {s.budget_tokens:,} tokens · teacher {s.teacher_name or s.teacher_model}")
            summaries = run_benchmark(s, say)
        for summary in summaries:
            say(f"wrote {Path(s.out) / Path(summary['dataset']).name}.json|md|png")
    if args.speed and s.report_only:
        speed.refresh_split(s.out, s.work, s.datasets)
    elif args.speed:
        speed.run(s.out, s.data_folder(s.datasets[0]), s.student, s.work, s.datasets, say, quick=s.quick)
        say(f"wrote {Path(s.out) / 'speed.json'}|md")
    return 0
