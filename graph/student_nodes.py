"""The student's nodes: the seed pass (round 0), each later round's training pass, and the final report.

Each node moves data between the state, the run folder and plain functions: the recipe
(`evokd.student.recipe`), the noise steps (`evokd.agents.noise`) and the round accounting
(`evokd.accounting`).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import StreamWriter

from evokd import prompts, tasks
from evokd.accounting import best_round, round_record, run_summary
from evokd.agents.noise import mark_doubted, mark_noise
from evokd.agents.shot_check import check_shots, summary, warning
from evokd.graph.cost import cost, stopwatch, student_cost
from evokd.graph.routing import reason_for
from evokd.handoff.calibration import hold_out
from evokd.handoff.card import PREDICTIONS, write_model_card
from evokd.records import append_new, copy_dir, write_json, write_text
from evokd.seeds import calibration_seed, dev_feedback_seed, replay_seed
from evokd.services import resolved, services
from evokd.settings import Context
from evokd.state import Prediction, Sample, State, replay_set, trains_on
from evokd.student import model
from evokd.student.recipe import dev_selection, fit
from evokd.student.train import predict
from evokd.task import Example, Task
from evokd.tasks import TaskAdapter, adapter_for


def feedback_for(
    adapter: TaskAdapter, examples: list[Example], predicted: Sequence[str | list[str]]
) -> list[Prediction]:
    """Pair each example with the student's prediction: the wrong/right split the Analyst reads."""
    return [
        Prediction(text=ex["text"], gold=adapter.gold(ex), predicted=p, correct=adapter.agrees(adapter.gold(ex), p))
        for ex, p in zip(examples, predicted, strict=True)
    ]


def seed(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node: sample the k-shot seeds, record the prompts the run starts with, train on the seeds alone and
    evaluate: round 0."""
    ctx = resolved(runtime.context or Context())
    started, run, ds, adapter = time.perf_counter(), ctx.run_path(config), services(ctx).dataset, services(ctx).adapter
    seeds = adapter.sample_shots(ds.train, ds.task, ctx.shots, ctx.seed)
    services(ctx).pool([e["text"] for e in seeds])  # a bad pool file fails the run now, not after seed training
    append_new(run / "seeds.jsonl", [{"n": i, **s} for i, s in enumerate(seeds)], key="n")
    for agent in prompts.AGENTS:  # the prompt texts the run starts with, for the record (CLI and Studio alike)
        write_text(run / "prompts" / f"{agent}.md", ctx.prompt(agent))
    net = model.load(ctx.student or model.default_student_path(), adapter.head(ds.task))
    trained = train_pass(net, list(seeds), ctx, 0, runtime.stream_writer)
    # No generated batch yet: the first analysis reads the seeds as the student now sees them.
    feedback = feedback_for(adapter, seeds, predict(net, seeds, max_length=ctx.max_length))
    update = close_round(state, runtime, config, net, 0, [], trained, started)
    feedback = [*cast("list[Prediction]", update.pop("feedback", [])), *feedback]  # dev texts first, when asked for
    return {"task": ds.task.to_dict(), "seeds": seeds, "feedback": feedback, **update}


def student(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node: predict the round's accepted samples (the Analyst's feedback), train on them plus the seeds,
    replayed earlier examples and the round's self-labelled pool texts, evaluate and save."""
    ctx = resolved(runtime.context or Context())
    started, rnd, adapter = time.perf_counter(), state["round"], services(ctx).adapter
    net = model.load(state["student_path"], adapter.head(services(ctx).dataset.task))
    batch = [Sample(**s) for s in state.get("batch", [])]
    accepted = [s for s in batch if s["verdict"] == "accepted"]
    new = [adapter.to_example(s) for s in accepted]
    update: dict[str, object] = {}
    agreement: float | None = None  # none accepted: nothing to judge the last student by
    if new:  # the paper's Step 1: the student predicts the new batch before it learns from it
        runtime.stream_writer({"node": "student", "round": rnd, "status": f"predicting {len(new)} new samples"})
        for s, p in zip(accepted, predict(net, new, max_length=ctx.max_length), strict=True):
            s["predicted"] = cast("str | list[str]", p)  # a class name, or one tag per word
        feedback = feedback_for(adapter, new, [s["predicted"] for s in accepted])
        for s, seen in zip(accepted, feedback, strict=True):
            s["fooled"] = not seen["correct"]
        update["feedback"] = feedback
        agreement = round(sum(p["correct"] for p in feedback) / len(feedback), 4)
        # calibration rows first, at random, so neither the noise step nor training sees them
        hold_out(accepted, ctx.calibration_share, calibration_seed(ctx.seed, rnd))
        learnable = [s for s in accepted if not s.get("calibration")]
        if ctx.noise == "confidence":  # the teacher's doubt and the student's other guess, before training
            mark_doubted(adapter, learnable)
        new = [ex for s, ex in zip(accepted, new, strict=True) if trains_on(s)]
    trained: dict[str, object] = {"steps": 0}
    if new:  # review history: replay earlier accepted examples (and always the seeds) against forgetting
        earlier = replay_set(state)
        replay = random.Random(replay_seed(ctx.seed, rnd)).sample(earlier, min(ctx.replay, len(earlier)))
        sure = state.get("pseudo_labelled", [])  # the pool texts the student labelled itself (--self-train)
        trained = train_pass(net, new + list(state["seeds"]) + replay + sure, ctx, rnd, runtime.stream_writer)
        trained["self_trained"] = len(sure)
        if ctx.noise == "small-loss":
            mark_noise(net, adapter, learnable, ctx.max_length)
        update["replay_set"] = [adapter.to_example(s) for s in accepted if trains_on(s)]
    closed = close_round(state, runtime, config, net, rnd, batch, trained, started, agreement)
    if "feedback" in closed:  # dev texts, ahead of the batch's feedback
        update["feedback"] = [
            *cast("list[Prediction]", closed.pop("feedback")),
            *cast("list[Prediction]", update.get("feedback", [])),
        ]
    return {**update, **closed}


def shot_check(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: before round 1, the teacher labels the shots (`evokd.agents.shot_check`), charged to the budget;
    nothing where the settings turn it off or the run has no round to spend the teacher on."""
    ctx = resolved(runtime.context or Context())
    if not (ctx.shot_check and ctx.max_rounds):
        return {}
    run, seeds, write = services(ctx), state["seeds"], runtime.stream_writer
    cap = max(1, int(ctx.shot_check_share * ctx.budget_tokens)) if ctx.shot_check_share and ctx.budget_tokens else 0
    limit = f", within {cap:,} tokens ({ctx.shot_check_share:.0%} of the budget)" if cap else ""
    write({"node": "shot_check", "round": 0, "status": f"the teacher labels your {len(seeds)} shots{limit}"})
    with stopwatch() as elapsed:
        check, replies = check_shots(
            run.adapter,
            run.teacher(labelling=True),
            ctx.prompt("critic"),
            run.dataset.task,
            run.description,
            seeds,
            ctx.critic_call(),
            cap_tokens=cap,
        )
    write({"node": "shot_check", "round": 0, "status": summary(check)})
    if line := warning(check):
        write({"node": "shot_check", "round": 0, "warning": line})
    return {"shot_check": check, "stats": {"0": {"shot_check": cost(replies, elapsed[0])}}}


def train_pass(
    net: model.Student, examples: list[Example], ctx: Context, rnd: int, write: StreamWriter
) -> dict[str, Any]:
    """Train ``net`` on ``examples`` with the run's recipe, streaming its progress."""
    write({"node": "student", "round": rnd, "status": f"training on {len(examples)} examples"})
    ds = services(ctx).dataset
    selection = dev_selection(ctx, ds.task, ds.dev, tasks.evaluate)
    return fit(net, examples, ctx, rnd, selection, on_progress=lambda p: write({"node": "student", "round": rnd, **p}))


def close_round(
    state: State,
    runtime: Runtime[Context],
    config: RunnableConfig,
    net: model.Student,
    rnd: int,
    batch: list[Sample],
    trained: dict[str, object],
    started: float,
    agreement: float | None = None,
) -> dict[str, object]:
    """Evaluate the round's student on dev and test, save it with its predictions, record the round and keep
    the best student's folder; the update that closes the round (with the dev texts to show the Analyst,
    under ``feedback``, when the settings ask for them)."""
    ctx = resolved(runtime.context or Context())
    run, ds, adapter = ctx.run_path(config), services(ctx).dataset, services(ctx).adapter
    runtime.stream_writer({"node": "student", "round": rnd, "status": "evaluating"})
    eval_started = time.perf_counter()
    predicted = {split: predict(net, getattr(ds, split), max_length=ctx.max_length) for split in ("dev", "test")}
    scores = {split: tasks.evaluate(ds.task, getattr(ds, split), predicted[split]) for split in predicted}
    eval_seconds = time.perf_counter() - eval_started
    path = run / "student" / f"round-{rnd}"
    model.save(net, path)
    # Kept beside the weights (and so in model/ once this round is kept): the model card's intervals
    # come from them instead of predicting dev and test once more at the end.
    write_json(path / PREDICTIONS, predicted)
    train_seconds = float(cast(float, trained.get("seconds", 0.0)))  # fit() times in seconds
    node_cost = student_cost(time.perf_counter() - started, train_seconds, eval_seconds)
    stats = state.get("stats", {})
    nodes = {**stats.get(str(rnd), {}), "student": node_cost}
    record = round_record(rnd, scores, trained, batch, nodes, stats, str(path), agreement)
    best = best_round([*state.get("history", []), record], ctx.protocol)
    # The checkpointed best is kept too: if a crash hits before this node's checkpoint, the rerun starts
    # from that state and, should its training differ (GPU), may keep that best.
    keep = {str(path), best["student_path"], state.get("student_path", ""), (state.get("best") or {}).get("path", "")}
    prune(run / "student", {str(p) for p in keep})
    append_new(run / "samples.jsonl", batch, key="id")
    append_new(run / "rounds.jsonl", [record], key="round")
    update: dict[str, object] = {
        "batch": batch,
        "history": [record],
        "student_path": str(path),
        "best": {"round": best["round"], "score": best["dev"]["score"], "path": best["student_path"]},
        "stats": {str(rnd): {"student": node_cost}},
    }
    if ctx.dev_feedback:  # real texts the student still gets wrong, shown to the Analyst ahead of generated ones
        wrong = [p for p in feedback_for(adapter, ds.dev, predicted["dev"]) if not p["correct"]]
        update["feedback"] = random.Random(dev_feedback_seed(ctx.seed, rnd)).sample(
            wrong, min(ctx.dev_feedback, len(wrong))
        )
    return update


def prune(student_dir: Path, keep: set[str]) -> None:
    """Delete round checkpoints that neither resume nor the final model can need any more.

    ``.round-*`` folders are the temporary folders of a save that a crash cut short: never needed.
    """
    for d in [*student_dir.glob("round-*"), *student_dir.glob(".round-*")]:
        if str(d) not in keep:
            shutil.rmtree(d, ignore_errors=True)


def finalize(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node: keep the best round's student as the run's model and write summary.json and the model card."""
    ctx = runtime.context or Context()
    run, history = ctx.run_path(config), state["history"]
    copy_dir(best_round(history, ctx.protocol)["student_path"], run / "model")
    metric = adapter_for(Task.from_dict(state["task"])).metric
    found = {
        **run_summary(history, state.get("stats", {}), metric, reason_for(state, ctx) or "max_rounds", ctx.protocol),
        "shot_check": state.get("shot_check"),
        "model": str(run / "model"),
    }
    write_json(run / "summary.json", found)
    write_model_card(run, found, ctx, services(ctx).dataset)
    return {"stop_reason": found["stop_reason"], "summary": found}
