"""The runs a benchmark cell performs: a method on one dataset and seed, the full-shot and teacher references.

Each run writes only under its own folder: ``result.json`` with a fingerprint of everything that shapes
it (settings, method name, the sha256 of the installed source and of its task kind's prompts, the dataset's
files, the student's weights, the teacher's identity), the graph's SQLite checkpoint, and the teacher reply
cache. The cache key names the exact request and the teacher
that answers it (endpoint and model, or the local teacher's weights' sha256: `Services.teacher_identity`),
so two teachers never share replies; a finished run with the same fingerprint is reused, an unfinished
one resumes from its checkpoint, and neither pays the teacher twice for a reply it already has.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from langchain_core.runnables import RunnableConfig

from evokd.accounting import best_round
from evokd.bench.bench_task import bench_task
from evokd.bench.curves import at_budgets, ladder
from evokd.bench.methods import methods
from evokd.bench.settings import CACHE_FILE, Say, Settings, data_identity
from evokd.checkpoint import open_checkpointer
from evokd.data.registry import content_sha256
from evokd.records import read_jsonl, write_json
from evokd.services import services
from evokd.settings import Context
from evokd.state import State
from evokd.student import model
from evokd.student.recipe import dev_selection, fit, train_config
from evokd.student.train import predict
from evokd.tasks import evaluate, head_for

# How the teacher is reached: no part of a run that never asks it (an array task running only seed-only
# cells starts no teacher, and must still match the cells a full sweep finished).
TEACHER_SETTINGS = (
    "teacher_url",
    "teacher_model",
    "teacher_id",
    "json_mode",
    "concurrency",
    "timeout",
    "temperature",
    "max_tokens",
    "max_retries",
    "parse_attempts",
)


def fingerprint(obj: object) -> str:
    """A short hash of a run's settings: a finished run is reused only if nothing that shapes it changed."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# Test texts the teacher reference labels between two progress lines (a whole split took 22 min on bbc_news);
# each chunk's texts are still asked concurrently.
REFERENCE_CHUNK = 50
# The installed packages whose source shapes a cell (`pyproject.toml`'s packages): their .py and .md files.
SOURCE_PACKAGES = ("evokd", "evokd.agents", "evokd.graph", "evokd.student", "evokd.prompts", "evokd.bench")
NOT_SOURCE = {"results", "decisions", "__pycache__"}  # the benchmark's outputs and notes shape no result


def source_roots() -> dict[str, Path]:
    """The folder each of `SOURCE_PACKAGES` is installed from."""
    roots = {}
    for name in SOURCE_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations, name  # the packages of this installation
        roots[name] = Path(next(iter(spec.submodule_search_locations)))
    return roots


@functools.cache
def source_sha256() -> str:
    """sha256 of every source and prompt file the installed evokd packages hold (benchmark results left out),
    so any code change, not only a version bump, makes a finished cell stale."""
    files: dict[str, bytes] = {}
    for name, root in source_roots().items():
        for f in root.rglob("*"):
            rel = f.relative_to(root)
            if f.suffix in (".py", ".md") and f.is_file() and not NOT_SOURCE.intersection(rel.parts):
                files[f"{name}/{rel.as_posix()}"] = f.read_bytes()
    return content_sha256(files)


def code_identity(kind: str) -> dict[str, object]:
    """What shapes a run besides its settings: the installed source (`source_sha256`) and the prompt texts of
    the task kind the run reads (which a test or a user may point elsewhere)."""
    from evokd import prompts

    folder = prompts.default_path(kind, "analyst").parent
    return {
        "code_sha256": source_sha256(),
        "prompts_sha256": content_sha256({p.name: p.read_bytes() for p in sorted(folder.glob("*.md"))}),
    }


def student_identity(student: str) -> dict[str, str]:
    """The student's starting weights: the sha256 of every file of its folder (the bundled one when
    ``student`` is empty); a name that is no folder (a hub id) is its own identity."""
    path = Path(student or model.default_student_path()).expanduser()
    if not path.is_dir():
        return {"student_weights": student}
    stats = tuple(
        sorted((f.as_posix(), f.stat().st_size, f.stat().st_mtime_ns) for f in path.rglob("*") if f.is_file())
    )
    return {"student_sha256": _folder_sha256(path, stats)}


@functools.cache
def _folder_sha256(path: Path, stats: tuple) -> str:
    """A folder's content sha256, computed once per process for each state of its files (``stats``)."""
    return content_sha256({f.relative_to(path).as_posix(): f.read_bytes() for f in path.rglob("*") if f.is_file()})


def finished(run_dir: Path, fp: str) -> dict | None:
    """The finished result in ``run_dir`` if it was made with these settings, else None."""
    done = run_dir / "result.json"
    if done.exists():
        result = json.loads(done.read_text(encoding="utf-8"))
        if result.get("fingerprint") == fp:
            return result
    return None


def prepare(run_dir: Path, fp: str) -> None:
    """Make ``run_dir`` ready for a run with fingerprint ``fp``: an unfinished run with the same settings is
    kept (its checkpoint resumes it), anything else is cleared except the reply cache, whose keys name the
    exact request and the teacher, so a changed setting can never be answered by a stale reply."""
    marker = run_dir / "fingerprint"
    if marker.exists() and marker.read_text(encoding="utf-8") == fp:
        return
    if run_dir.exists():
        for p in run_dir.iterdir():
            if not p.name.startswith(CACHE_FILE):  # the cache and its WAL/SHM companions
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(fp, encoding="utf-8")


def cached_result(s: Settings, run_dir: Path, fp: str, run: Callable[[], dict], say: Say, what: str) -> dict | None:
    """The result in ``run_dir/result.json`` if it was made with these settings, else ``run()``'s, written there.

    With ``--collect`` (report only) nothing runs and an unfinished run gives None.
    """
    if s.report_only:
        return finished(run_dir, fp)
    if (old := finished(run_dir, fp)) is not None:
        say(f"{what}: reusing finished run (test {old['score']:.4f})")
        return old
    prepare(run_dir, fp)
    result = run()
    write_json(run_dir / "result.json", result)
    return result


def within_budget(rounds: Sequence[dict], budget: int) -> list[dict]:
    """The recorded rounds a budget holds (0 = no limit): round 0 always, since its student trained on the shots
    alone whatever the shot check after it cost, then each round whose cumulative teacher tokens fit."""
    return [rounds[0], *(r for r in rounds[1:] if not budget or r["teacher_tokens"] <= budget)]


def select(rounds: list[dict], budget: int, protocol: str) -> dict:
    """The run's result at the budget: the loop's kept round among those within it (test labels never decide)."""
    within = within_budget(rounds, budget)
    best = best_round(within, protocol)
    return {
        "round": best["round"],
        "dev": best["dev"]["score"],
        "score": best["test"]["score"],
        "tokens": within[-1]["teacher_tokens"],
        "rounds": within[-1]["round"],
        "overrun_rounds": len(rounds) - len(within),
        "accepted": sum(r.get("accepted", 0) for r in within),
        "rejected": sum(sum(r.get("rejected", {}).values()) for r in within),
        "curve": [
            {
                "round": r["round"],
                "tokens": r["teacher_tokens"],
                "dev": r["dev"]["score"],
                "test": r["test"]["score"],
                "within_budget": r in within,
            }
            for r in rounds
        ],
    }


def run_method(s: Settings, dataset: str, name: str, seed: int, run_dir: Path, thread: str, say: Say) -> dict | None:
    """One method on one dataset and seed, run through its graph at the top budget; its result at every rung.

    The graph checkpoints to SQLite in ``run_dir`` under ``thread``: a killed or retried run resumes there.
    """
    method = methods(s.per_round)[name]
    ctx = s.context(dataset, seed, run_dir, **method.overrides)
    unused = {"run_dir", "cache", *([] if method.uses_teacher else TEACHER_SETTINGS)}
    fp = fingerprint(
        {
            "method": name,
            **code_identity(ctx.task),
            **data_identity(dataset),
            **student_identity(ctx.student),
            **{k: v for k, v in dataclasses.asdict(ctx).items() if k not in unused},
        }
    )

    def run() -> dict:
        started = last = time.perf_counter()
        walls: list[float] = []  # wall seconds of each round run here, seen from outside the nodes
        cfg: RunnableConfig = {"configurable": {"thread_id": thread}, "recursion_limit": 10_000}
        with open_checkpointer("", run_dir) as saver:
            app = method.graph().compile(checkpointer=saver)
            start: State | None = None if saver.get_tuple(cfg) else {}  # None: resume from the checkpoint
            if start is None:
                say(f"[{dataset}] {name} seed {seed}: resuming from its checkpoint")
            for chunk in app.stream(start, cfg, context=ctx, stream_mode="updates"):
                # A round ends with the update that records it (the seed, student or SetFit node's).
                closed = [u["history"][-1] for u in chunk.values() if isinstance(u, dict) and u.get("history")]
                for rec in closed:
                    now = time.perf_counter()
                    walls.append(round(now - last, 3))
                    last = now
                    say(
                        f"[{dataset}] {name} seed {seed} · round {rec['round']} · dev {rec['dev']['score']:.4f} · "
                        f"test {rec['test']['score']:.4f} · tokens {rec['teacher_tokens']:,} · {walls[-1]:.0f} s"
                    )
        rounds = read_jsonl(run_dir / "rounds.jsonl")
        # the stop rule's inputs (pool_picked and pool_tokens size the last pool round) and the scores
        fields = (
            *("round", "teacher_tokens", "dev", "test", "accepted", "rejected", "fresh_agreement"),
            *("pool_picked", "pool_tokens"),
        )
        kept = [{k: r.get(k) for k in fields} for r in rounds]
        stop = {
            "max_rounds": ctx.max_rounds,
            "patience": ctx.patience,
            "target": ctx.target,
            "protocol": ctx.protocol,
            "pool_growth": ctx.pool_growth,  # the pool schedule a shrunk last round is cut from
            "pool_per_round": ctx.pool_per_round,  # and a shrunk pool round to hold at least this many picks
        }
        seeds = len(read_jsonl(run_dir / "seeds.jsonl"))
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        return {
            "method": name,
            "dataset": dataset,
            "seed": seed,
            "fingerprint": fp,
            "seconds": round(time.perf_counter() - started, 1),
            "round_walls": walls,
            "round_nodes": [r["nodes"] for r in rounds],
            "rounds_run": kept,
            # All the run spent (the shot check after round 0 included, even when no round followed it).
            "teacher_tokens_spent": summary["teacher_tokens"],
            "shot_check": summary.get("shot_check"),
            "stop": stop,
            # Labelled texts the teacher and student saw: the seeds, plus any dev texts shown each round.
            "labelled": seeds + ctx.dev_feedback * max(0, len(rounds) - 1),
            # Which labels decided, and the gold dev labels that took (the whole dev split under oracle-dev).
            "protocol": ctx.protocol,
            "gold_dev_labels": len(services(ctx).dataset.dev) if ctx.protocol == "oracle-dev" else 0,
            "budgets": at_budgets(kept, ladder(s.budget_tokens), stop),
            **select(kept, ctx.budget_tokens, ctx.protocol),
        }

    return cached_result(s, run_dir, fp, run, say, f"[{dataset}] {name} seed {seed}")


def full_shot(s: Settings, dataset: str, seed: int, run_dir: Path, say: Say) -> dict | None:
    """Reference: the student trained on the whole train split (or its first ``full_shot_limit``) with the same
    recipe."""
    ctx = s.context(dataset, seed, run_dir, epochs=s.full_shot_epochs or s.epochs)
    fp = fingerprint(
        {
            "cfg": dataclasses.asdict(train_config(ctx, 0)),
            "balance": ctx.balance,
            "select": ctx.select_epoch,
            "limit": s.full_shot_limit,
            "student": s.student,
            "data": dataset,
            "eval_limit": s.eval_limit,
            **code_identity(ctx.task),
            **data_identity(dataset),
            **student_identity(s.student),
        }
    )

    def run() -> dict:
        ds = services(ctx).dataset
        data = ds.train[: s.full_shot_limit] if s.full_shot_limit else ds.train
        say(f"[{dataset}] full-shot seed {seed}: training on {len(data)} examples, up to {ctx.epochs} epoch(s)")
        started = time.perf_counter()
        net = model.load(s.student or model.default_student_path(), head_for(ds.task))
        stats = fit(net, data, ctx, 0, dev_selection(ctx, ds.task, ds.dev, evaluate))
        dev = evaluate(ds.task, ds.dev, predict(net, ds.dev, max_length=s.max_length))
        test = evaluate(ds.task, ds.test, predict(net, ds.test, max_length=s.max_length))
        result = {
            "method": "full-shot",
            "dataset": dataset,
            "seed": seed,
            "fingerprint": fp,
            "protocol": ctx.protocol,  # whether dev picked its epoch: the table's note says which
            "score": test["score"],
            "dev": dev["score"],
            "tokens": 0,
            "train_examples": len(data),
            "labelled": len(data),
            "epochs": stats["epochs"],
            "epoch": stats["epoch"],
            "samples_per_s": round(stats["samples_per_s"], 2),
            "seconds": round(time.perf_counter() - started, 1),
        }
        say(f"[{dataset}] full-shot seed {seed}: test {test['score']:.4f} ({result['seconds']:.0f} s)")
        return result

    return cached_result(s, run_dir, fp, run, say, f"[{dataset}] full-shot seed {seed}")


def teacher_reference(s: Settings, dataset: str, run_dir: Path, say: Say) -> dict | None:
    """Reference: the teacher's own zero-shot labels on the test texts every method is scored on (or the first
    ``teacher_eval`` of them), with a bootstrap 95% interval over those texts.

    It labels with the Critic's call and label matching, the same call a run labels its texts with
    (`Context.critic_call`: label-only by default); an answer naming no allowed label counts as wrong.
    """
    ctx = s.context(dataset, 0, run_dir)
    fp = fingerprint(
        {
            "data": dataset,
            "n": s.teacher_eval,
            "eval_limit": s.eval_limit,
            "url": s.teacher_url,
            "model": s.teacher_model,
            "teacher_id": s.teacher_id,  # the local teacher's weights' sha256 (empty for a remote teacher)
            "prompt": ctx.prompt("critic"),
            "call": ctx.critic_call(),
            "words": bench_task(services(ctx).adapter).label_words,
            **code_identity(ctx.task),
            **data_identity(dataset),
        }
    )
    return cached_result(
        s, run_dir, fp, lambda: _teacher_labels(s, ctx, dataset, fp, say), say, f"[{dataset}] teacher zero-shot"
    )


def _teacher_labels(s: Settings, ctx: Context, dataset: str, fp: str, say: Say) -> dict:
    """The teacher reference's result: its labels on the test texts, scored like the student's predictions."""
    from evokd.bench.over_texts import TEACHER_PREDICTIONS
    from evokd.handoff.card import bootstrap

    ds = services(ctx).dataset
    test = ds.test[: s.teacher_eval] if s.teacher_eval else ds.test
    say(f"[{dataset}] teacher zero-shot: labelling {len(test)} test texts")
    started = time.perf_counter()
    teacher, labeller = services(ctx).teacher(labelling=True), bench_task(services(ctx).adapter)
    predicted: list = []
    replies: list = []
    off_list = 0
    for start in range(0, len(test), REFERENCE_CHUNK):
        part = test[start : start + REFERENCE_CHUNK]
        got, said, off = labeller.reference_labels(
            teacher, ctx.prompt("critic"), ds.task, services(ctx).description, part, ctx.critic_call()
        )
        predicted.extend(got)
        replies.extend(said)
        off_list += off
        if len(part) < len(test):
            done, seconds = start + len(part), time.perf_counter() - started
            say(f"[{dataset}] teacher zero-shot: {done} of {len(test)} test texts labelled ({seconds:.0f} s)")
    scores = evaluate(ds.task, test, predicted)
    low, high = bootstrap(ds.task, list(test), predicted)
    # Kept beside the result so a student can be compared with the teacher text by text (`over_texts`).
    write_json(Path(ctx.run_dir) / TEACHER_PREDICTIONS, predicted)
    result = {
        "method": "teacher",
        "dataset": dataset,
        "fingerprint": fp,
        "score": scores["score"],
        "interval": [round(low, 4), round(high, 4)],
        "n": len(test),
        "of": len(ds.test),
        "off_list": off_list,
        "labelled": 0,
        "tokens": sum(r.tokens for r in replies),
        "call": ctx.critic_call(),
        "seconds": round(time.perf_counter() - started, 1),
        "per_label": scores.get("per_label", scores.get("per_type", {})),
    }
    say(f"[{dataset}] teacher zero-shot: {result['score']:.4f} on {len(test)} test texts ({result['seconds']:.0f} s)")
    return result


def run_benchmark(s: Settings, say: Say) -> list[dict]:
    """The whole benchmark in this process: every cell in turn, then the tables from disk."""
    from evokd.bench.cells import all_cells, collect, run_local

    run_local(s, all_cells(s), say)
    return collect(s)
