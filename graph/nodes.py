"""The graph's nodes: the three agents, the Student (a tool node) and the final report.

Each node reads the state and the run's settings, calls plain functions (`evokd.agents`,
`evokd.student`) with the run's services, and returns an update. The heavy lifting is in those
functions; these only move data between the state, the run folder and them.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

import numpy as np
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from evokd import prompts, tasks
from evokd.agents.analyst import analyse
from evokd.agents.critic import label_batch
from evokd.agents.generator import generate, plan
from evokd.agents.noise import contradicted, doubted
from evokd.agents.selector import choose, least_sure, picks, subset, uncertainty
from evokd.graph.cost import cost, stopwatch
from evokd.graph.routing import reason_for
from evokd.handoff.card import PREDICTIONS, write_model_card
from evokd.records import append_new, copy_dir, write_json, write_text
from evokd.services import resolved, services
from evokd.settings import Context
from evokd.state import NodeStats, Prediction, RoundRecord, Sample, State, teacher_tokens
from evokd.student import model
from evokd.student.distributed import Job, train_in_ranks
from evokd.student.train import TrainConfig, class_keys, embeddings, predict, probabilities, train
from evokd.task import Example, Task
from evokd.tasks import TaskAdapter, adapter_for
from evokd.text import normalise


def feedback_for(adapter: TaskAdapter, examples: list[Example], predicted: list) -> list[Prediction]:
    """Pair each example with the student's prediction: the wrong/right split the Analyst reads."""
    return [
        Prediction(text=ex["text"], gold=adapter.gold(ex), predicted=p, correct=adapter.gold(ex) == p)
        for ex, p in zip(examples, predicted, strict=True)
    ]


def train_config(ctx: Context, rnd: int) -> TrainConfig:
    """The student recipe for one round (a seed per round keeps resumed runs identical)."""
    return TrainConfig(
        lr=ctx.lr,
        batch_size=ctx.batch_size,
        epochs=ctx.epochs,
        min_steps=ctx.min_steps,
        max_length=ctx.max_length,
        patience=ctx.patience_epochs,
        seed=ctx.seed * 1_000 + rnd,
        soft_targets=ctx.soft_targets,
    )


@dataclass(frozen=True)
class DevScore:
    """The task's selection metric on held-out examples (never test); picklable, so data-parallel ranks get it."""

    task: Task
    dev: list[Example]
    max_length: int

    def __call__(self, student: model.Student) -> float:
        return float(
            tasks.evaluate(self.task, self.dev, predict(student, self.dev, max_length=self.max_length))["score"]
        )


def fit(
    net: model.Student,
    examples: list[Example],
    ctx: Context,
    rnd: int,
    task: Task,
    dev: list[Example],
    on_progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train with the run's recipe: class-balanced batches and the epoch chosen on `dev` (by the task's
    selection metric) where the settings say so. The one way every method, and the benchmark's
    references, train the student; with ``student_procs`` > 1 the pass runs data-parallel in local ranks."""
    balance_by = class_keys(net.head, examples) if ctx.balance else None
    dev_score = DevScore(task, dev, ctx.max_length) if ctx.select_epoch and dev else None
    if ctx.student_procs <= 1:
        return train(net, examples, train_config(ctx, rnd), on_progress, balance_by=balance_by, dev_score=dev_score)
    with tempfile.TemporaryDirectory(prefix="evokd-student-") as tmp:
        model.save(net, Path(tmp) / "in")
        job = Job(
            str(Path(tmp) / "in"),
            net.head,
            examples,
            train_config(ctx, rnd),
            str(Path(tmp) / "out"),
            balance_by,
            dev_score,
        )
        stats = train_in_ranks(job, ctx.student_procs)
        net.model.load_state_dict(model.load(job.out_dir, net.head, device=str(net.device)).model.state_dict())
    return stats


def mark_noise(net: model.Student, adapter: TaskAdapter, accepted: list[Sample], max_length: int) -> None:
    """The noise step (small-loss selection): mark each accepted pool sample ``kept``, or ``held_out`` when
    the student just trained on it still contradicts its teacher label (`evokd.agents.noise`)."""
    mine = [s for s in accepted if s.get("source") == "pool"]
    examples = [adapter.to_example(s) for s in mine]
    flags = contradicted(
        probabilities(net, examples, max_length=max_length), [adapter.gold(e) for e in examples], net.head.names
    )
    for s, held in zip(mine, flags, strict=True):
        s["noise"] = "held_out" if held else "kept"


def mark_doubted(adapter: TaskAdapter, accepted: list[Sample]) -> None:
    """The confidence noise step: mark each accepted pool sample ``kept``, or ``held_out`` when the teacher
    doubted its label and the student, not yet trained on it, predicted otherwise (`evokd.agents.noise`)."""
    mine = [s for s in accepted if s.get("source") == "pool"]
    flags = doubted(
        [s.get("teacher_confidence") for s in mine],
        [adapter.gold(adapter.to_example(s)) for s in mine],
        [s["predicted"] for s in mine],
    )
    for s, held in zip(mine, flags, strict=True):
        s["noise"] = "held_out" if held else "kept"


def prune(student_dir: Path, keep: set[str]) -> None:
    """Delete round checkpoints that neither resume nor the final model can need any more.

    ``.round-*`` folders are the temporary folders of a save that a crash cut short: never needed.
    """
    for d in [*student_dir.glob("round-*"), *student_dir.glob(".round-*")]:
        if str(d) not in keep:
            shutil.rmtree(d, ignore_errors=True)


def next_round(state: State) -> int:
    """The round a node that opens one works on: one past the last finished round, whether the selector
    or the Analyst (or both: the selector first) opens it."""
    history = state.get("history") or []
    return history[-1]["round"] + 1 if history else state.get("round", 0) + 1


def selector(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node (with ``--pool``): open a round by picking the pool texts to label, with the current student.

    The picks are checkpointed state, so a resumed run labels the same texts (and the reply cache makes
    that free); a pool text is never picked twice in a run.
    """
    ctx = resolved(runtime.context or Context())
    run, rnd = services(ctx), next_round(state)
    task, adapter = Task.from_dict(state["task"]), services(ctx).adapter
    with stopwatch() as elapsed:
        taken = set(state.get("picked", []))
        every = subset(run.pool([e["text"] for e in state.get("seeds", [])]), ctx.pool_limit, ctx.seed)
        scored = [item for item in every if item["id"] not in taken]
        runtime.stream_writer({"node": "selector", "round": rnd, "status": f"scoring {len(scored)} pool texts"})
        net = model.load(state["student_path"], adapter.head(task))
        scores = uncertainty(probabilities(net, scored, max_length=ctx.max_length))
        cache = ctx.run_path(config) / "pool_embeddings.safetensors"
        vectors = pool_embeddings(cache, net, every, scored, ctx.max_length) if ctx.query == "diverse" else None
        chosen = choose(ctx.query, scores, ctx.pool_per_round, ctx.seed * 100_003 + rnd, vectors)
        picked = picks(scored, chosen, scores, rnd, first=2 * ctx.per_round)  # after the generated ones
    return {
        "round": rnd,
        "batch": [],
        "picks": picked,
        "picked": [p["pool_id"] for p in picked],
        "uncertain": least_sure(scored, scores, ctx.feedback_limit),
        "stats": {str(rnd): {"selector": cost([], elapsed[0])}},
    }


def pool_embeddings(
    path: Path, net: model.Student, every: list[Example], wanted: list[Example], max_length: int
) -> np.ndarray:
    """The embeddings of ``wanted``, cached in ``path`` (safetensors, keyed by pool id: nothing is unpickled):
    computed once per run for ``every`` scored item, by the student that first asks (the seed student: the
    selector first runs after the seed pass), so later rounds only look theirs up and a resumed run clusters
    the same vectors."""
    from safetensors.torch import load_file, save_file

    cached = load_file(path) if path.exists() else {}
    if missing := [it for it in every if it["id"] not in cached]:
        vectors = embeddings(net, missing, max_length=max_length)
        cached.update({it["id"]: v.contiguous() for it, v in zip(missing, vectors, strict=True)})
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(cached, path)
    return np.stack([cached[it["id"]].numpy() for it in wanted]) if wanted else np.zeros((0, 0))


def analyst(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: start a new round (or go on with the one the selector opened) with an analysis of the student's
    latest feedback."""
    ctx = resolved(runtime.context or Context())
    run = services(ctx)
    task, rnd = Task.from_dict(state["task"]), next_round(state)
    runtime.stream_writer({"node": "analyst", "round": rnd, "status": "analysing"})
    with stopwatch() as elapsed:
        analysis, reply = analyse(
            run.teacher(),
            ctx.prompt("analyst"),
            task,
            run.description,
            state.get("feedback", []),
            ctx.feedback_limit,
            seed=ctx.seed * 100_003 + rnd,
            uncertain=state.get("uncertain", []) if ctx.pool else [],
        )
    return {
        "round": rnd,
        "analysis": analysis,
        "batch": [],
        "stats": {str(rnd): {"analyst": cost([reply], elapsed[0])}},
    }


def generator(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: write this round's hard and easy samples."""
    ctx = resolved(runtime.context or Context())
    run = services(ctx)
    task, rnd = Task.from_dict(state["task"]), state["round"]
    runtime.stream_writer({"node": "generator", "round": rnd, "status": f"writing {2 * ctx.per_round} samples"})
    with stopwatch() as elapsed:
        requests = plan(task, state.get("analysis", {}), ctx.per_round, ctx.per_round, rnd)
        batch, replies = generate(
            run.teacher(),
            ctx.prompt("generator"),
            task,
            run.description,
            state.get("analysis", {}),
            state.get("seeds", []),
            state.get("pool", []),
            requests,
            seed=ctx.seed * 100_003 + rnd * 1_009,
            words=run.typical_words,
            adapter=run.adapter,
        )
    return {"batch": batch, "stats": {str(rnd): {"generator": cost(replies, elapsed[0])}}}


def critic(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: label and filter this round's batch."""
    ctx = resolved(runtime.context or Context())
    run = services(ctx)
    task, rnd = Task.from_dict(state["task"]), state["round"]
    # The round's generated texts and its pool picks go through the same labelling call and checks.
    todo = [*state.get("batch", []), *(p for p in state.get("picks", []) if p.get("round") == rnd)]
    runtime.stream_writer({"node": "critic", "round": rnd, "status": f"labelling {len(todo)} samples"})
    with stopwatch() as elapsed:
        seeds = tuple(e["text"] for e in state.get("seeds", []))
        seen = {normalise(e["text"]) for e in state.get("pool", [])}
        # Log-probabilities only where they are used, so a run without a pool sends the requests it always has.
        batch, replies = label_batch(
            run.teacher(labelling=True),
            ctx.prompt("critic"),
            task,
            run.description,
            todo,
            seen,
            run.leak_index(seeds),
            adapter=run.adapter,
            logprobs=bool(ctx.pool or ctx.min_confidence),
            min_confidence=ctx.min_confidence,
            per_call=ctx.label_batch,
            label_call=ctx.label_call,
        )
    return {"batch": batch, "stats": {str(rnd): {"critic": cost(replies, elapsed[0])}}}


def student(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node: predict the new batch (feedback), train on it plus replayed history, evaluate, save.

    The first pass (round 0) samples the k-shot seeds and trains on them alone.
    """
    ctx = resolved(runtime.context or Context())
    write, started = runtime.stream_writer, time.perf_counter()
    run, ds, rnd = ctx.run_path(config), services(ctx).dataset, state.get("round", 0)
    task, adapter = ds.task, services(ctx).adapter
    update: dict[str, object] = {}
    if rnd == 0:
        seeds = adapter.sample_shots(ds.train, task, ctx.shots, ctx.seed)
        services(ctx).pool([e["text"] for e in seeds])  # a bad pool file fails the run now, not after seed training
        update.update(task=task.to_dict(), seeds=seeds)
        append_new(run / "seeds.jsonl", [{"n": i, **s} for i, s in enumerate(seeds)], key="n")
        for agent in prompts.AGENTS:  # the prompt texts the run starts with, for the record (CLI and Studio alike)
            write_text(run / "prompts" / f"{agent}.md", ctx.prompt(agent))
        net = model.load(ctx.student or model.default_student_path(), adapter.head(task))
        new: list[Example] = list(seeds)
        batch: list[Sample] = []
    else:
        seeds = state["seeds"]
        net = model.load(state["student_path"], adapter.head(task))
        batch = [Sample(**s) for s in state.get("batch", [])]
        accepted = [s for s in batch if s["verdict"] == "accepted"]
        new = [adapter.to_example(s) for s in accepted]
        if new:  # the paper's Step 1: the student predicts the new batch before it learns from it
            write({"node": "student", "round": rnd, "status": f"predicting {len(new)} new samples"})
            for s, p in zip(accepted, predict(net, new, max_length=ctx.max_length), strict=True):
                s["predicted"] = cast("str | list[str]", p)  # a class name, or one tag per word
            update["feedback"] = feedback_for(adapter, new, [s["predicted"] for s in accepted])
            if ctx.noise == "confidence":  # the teacher's doubt and the student's other guess, before training
                mark_doubted(adapter, accepted)
            new = [ex for s, ex in zip(accepted, new, strict=True) if s.get("noise") != "held_out"]

    # Review history: replay earlier generated samples (and always the seeds) against forgetting.
    history_pool = list(state.get("pool", []))
    replay = random.Random(ctx.seed * 7 + rnd).sample(history_pool, min(ctx.replay, len(history_pool)))
    train_set = new + ([] if rnd == 0 else list(seeds)) + replay
    train_stats: dict[str, object] = {"steps": 0}
    if rnd == 0 or new:
        write({"node": "student", "round": rnd, "status": f"training on {len(train_set)} examples"})
        train_stats = fit(
            net, train_set, ctx, rnd, task, ds.dev, on_progress=lambda p: write({"node": "student", "round": rnd, **p})
        )
    if rnd and new:  # replayed in later rounds, less what the noise step holds out
        if ctx.noise == "small-loss":
            mark_noise(net, adapter, accepted, ctx.max_length)
        update["pool"] = [adapter.to_example(s) for s in accepted if s.get("noise") != "held_out"]
    if rnd == 0:  # no generated batch yet: the first analysis reads the seeds as the student now sees them
        update["feedback"] = feedback_for(adapter, seeds, predict(net, seeds, max_length=ctx.max_length))

    write({"node": "student", "round": rnd, "status": "evaluating"})
    eval_started = time.perf_counter()
    dev_predicted = predict(net, ds.dev, max_length=ctx.max_length)
    dev = tasks.evaluate(task, ds.dev, dev_predicted)
    if ctx.dev_feedback:  # real texts the student still gets wrong, shown to the Analyst ahead of generated ones
        wrong = [p for p in feedback_for(adapter, ds.dev, dev_predicted) if not p["correct"]]
        shown = random.Random(ctx.seed * 11 + rnd).sample(wrong, min(ctx.dev_feedback, len(wrong)))
        update["feedback"] = shown + list(update.get("feedback", []))  # type: ignore[call-overload]
    test_predicted = predict(net, ds.test, max_length=ctx.max_length)
    test = tasks.evaluate(task, ds.test, test_predicted)  # reported only, never used to decide
    eval_seconds = time.perf_counter() - eval_started
    path = run / "student" / f"round-{rnd}"
    model.save(net, path)
    # Kept beside the weights (and so in model/ once this round is the best): the model card's intervals
    # come from them instead of predicting dev and test once more at the end.
    write_json(path / PREDICTIONS, {"dev": dev_predicted, "test": test_predicted})

    best = dict(state.get("best") or {})
    if not best or float(dev["score"]) > float(best["score"]):  # type: ignore[arg-type]
        best = {"round": rnd, "score": dev["score"], "path": str(path)}
    # The checkpointed best is kept too: if a crash hits before this node's checkpoint, the rerun
    # starts from that state and, should its training differ (GPU), may keep that best.
    prune(
        run / "student",
        {
            str(path),
            str(best["path"]),
            str(state.get("student_path", "")),
            str((state.get("best") or {}).get("path", "")),
        },
    )

    stats = dict(state.get("stats", {}))
    node_cost: NodeStats = {
        "seconds": round(time.perf_counter() - started, 3),
        "calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "train_seconds": round(float(cast(float, train_stats.get("seconds", 0.0))), 3),  # fit() times in seconds
        "eval_seconds": round(eval_seconds, 3),
    }
    nodes = {**stats.get(str(rnd), {}), "student": node_cost}
    rejected = Counter(s["reason"] for s in batch if s["verdict"] == "rejected")
    from_pool = [s for s in batch if s.get("source") == "pool"]
    pool_accepted = sum(s["verdict"] == "accepted" for s in from_pool)
    pool_tokens = sum(s.get("teacher_tokens", 0) for s in from_pool)
    round_tokens = sum(n.get("prompt_tokens", 0) + n.get("completion_tokens", 0) for n in nodes.values())
    record = RoundRecord(
        round=rnd,
        dev=dev,
        test=test,
        train=train_stats,
        accepted=sum(s["verdict"] == "accepted" for s in batch),
        rejected=dict(rejected),
        hard_accepted=sum(s["verdict"] == "accepted" and s.get("stance") == "hard" for s in batch),
        easy_accepted=sum(s["verdict"] == "accepted" and s.get("stance") == "easy" for s in batch),
        pool_accepted=pool_accepted,
        held_out=sum(s.get("noise") == "held_out" for s in from_pool),
        pool_tokens=pool_tokens,
        **per_accepted(
            pool_tokens,
            pool_accepted,
            round_tokens - pool_tokens,
            sum(s["verdict"] == "accepted" for s in batch) - pool_accepted,
        ),
        nodes=nodes,
        teacher_tokens=teacher_tokens({**stats, str(rnd): nodes}),
        student_path=str(path),
    )
    append_new(run / "samples.jsonl", batch, key="id")
    append_new(run / "rounds.jsonl", [record], key="round")
    return {
        **update,
        "batch": batch,
        "history": [record],
        "student_path": str(path),
        "best": best,
        "stats": {str(rnd): {"student": node_cost}},
    }


class PerAccepted(TypedDict):
    """Teacher tokens per accepted sample, the `RoundRecord` and summary fields of that name."""

    tokens_per_accepted_pool: float | None
    tokens_per_accepted_generated: float | None


def per_accepted(
    pool_tokens: int,
    pool_accepted: int,
    generated_tokens: int,
    generated_accepted: int,
) -> PerAccepted:
    """Teacher tokens per accepted sample, pool and generated apart (None where none was accepted).

    A pool sample costs its labelling call; a generated one everything else the round spent on the
    teacher (analysis, generation, labelling), the price of choosing what to write."""

    def per(tokens: int, accepted: int) -> float | None:
        return round(tokens / accepted, 1) if accepted else None

    return {
        "tokens_per_accepted_pool": per(pool_tokens, pool_accepted),
        "tokens_per_accepted_generated": per(generated_tokens, generated_accepted),
    }


def finalize(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node: keep the best student (by dev score) as the run's model and write summary.json."""
    ctx = runtime.context or Context()
    run = ctx.run_path(config)
    best, history = state["best"], state["history"]
    best_record = next(r for r in history if r["round"] == best["round"])
    copy_dir(str(best["path"]), run / "model")
    summary = {
        "stop_reason": reason_for(state, ctx) or "max_rounds",
        "rounds": history[-1]["round"],
        "best_round": best["round"],
        "metric": adapter_for(Task.from_dict(state["task"])).metric,
        "dev": best_record["dev"],
        "test": best_record["test"],
        "seed_only": {"dev": history[0]["dev"], "test": history[0]["test"]},
        "teacher_tokens": teacher_tokens(state.get("stats", {})),
        "accepted": sum(r.get("accepted", 0) for r in history),
        "rejected": sum(sum(r.get("rejected", {}).values()) for r in history),
        "pool_accepted": sum(r.get("pool_accepted", 0) for r in history),
        "held_out": sum(r.get("held_out", 0) for r in history),
        **per_accepted(
            sum(r.get("pool_tokens", 0) for r in history),
            sum(r.get("pool_accepted", 0) for r in history),
            teacher_tokens(state.get("stats", {})) - sum(r.get("pool_tokens", 0) for r in history),
            sum(r.get("accepted", 0) - r.get("pool_accepted", 0) for r in history),
        ),
        "seconds": round(
            sum(n.get("seconds", 0.0) for nodes in state.get("stats", {}).values() for n in nodes.values()), 1
        ),
        "model": str(run / "model"),
    }
    write_json(run / "summary.json", summary)
    write_model_card(run, summary, ctx, services(ctx).dataset)
    return {"stop_reason": summary["stop_reason"], "summary": summary}
