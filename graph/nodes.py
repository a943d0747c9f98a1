"""The teacher's nodes: the selector, the Analyst, the Generator and the Critic (the student's nodes are in
`evokd.graph.student_nodes`).

Each node reads the state and the run's settings, calls plain functions (`evokd.agents`) with the run's
services, and returns an update. The heavy lifting is in those functions; these only move data between
the state, the run folder and them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from evokd.agents.analyst import analyse
from evokd.agents.critic import label_batch
from evokd.agents.generator import generate, plan
from evokd.agents.selector import choose, least_sure, picks, subset, uncertainty
from evokd.agents.self_training import pseudo_labels
from evokd.graph.cost import cost, stopwatch
from evokd.graph.routing import next_pool_round, shot_cost
from evokd.seeds import teacher_seed, writer_seed
from evokd.services import resolved, services
from evokd.settings import Context
from evokd.state import State, picked_pool_ids, pool_picks, replay_set, teacher_tokens
from evokd.student import model
from evokd.student.train import embeddings, probabilities
from evokd.task import Example, Task
from evokd.text import normalise


def next_round(state: State) -> int:
    """The round a node that opens one works on: one past the last finished round, whether the selector
    or the Analyst (or both: the selector first) opens it."""
    history = state.get("history") or []
    return history[-1]["round"] + 1 if history else state.get("round", 0) + 1


def selector(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node (with ``--pool``): open a round by picking the pool texts to label, with the current student, and
    (``--self-train``) the ones it is sure enough of to label itself.

    The picks are checkpointed state, so a resumed run labels the same texts (and the reply cache makes
    that free); a pool text is never picked twice in a run.
    """
    ctx = resolved(runtime.context or Context())
    run, rnd = services(ctx), next_round(state)
    task, adapter = Task.from_dict(state["task"]), services(ctx).adapter
    with stopwatch() as elapsed:
        taken = set(picked_pool_ids(state))
        every = subset(run.pool([e["text"] for e in state.get("seeds", [])]), ctx.pool_limit, ctx.seed)
        scored = [item for item in every if item["id"] not in taken]
        runtime.stream_writer({"node": "selector", "round": rnd, "status": f"scoring {len(scored)} pool texts"})
        net = model.load(state["student_path"], adapter.head(task))
        probs = probabilities(net, scored, max_length=ctx.max_length)
        scores = uncertainty(probs)
        cache = ctx.run_path(config) / "pool_embeddings.safetensors"
        vectors = pool_embeddings(cache, net, every, scored, ctx.max_length) if ctx.query == "diverse" else None
        size = next_pool_round(state.get("history", []), teacher_tokens(state.get("stats", {})), ctx, shot_cost(state))
        chosen = choose(ctx.query, scores, size, teacher_seed(ctx.seed, rnd), vectors)
        picked = picks(scored, chosen, scores, rnd, first=2 * ctx.per_round)  # after the generated ones
        # the texts this student is surest of, for the round's training (never one the teacher labels now)
        sure = pseudo_labels(scored, probs, net.head.names, ctx.self_train, ctx.self_train_threshold, chosen)
    return {
        "pseudo_labelled": sure,
        "round": rnd,
        "batch": [],
        "pool_picks": picked,
        "picked_pool_ids": [p["pool_id"] for p in picked],
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
            seed=teacher_seed(ctx.seed, rnd),
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
            replay_set(state),
            requests,
            seed=writer_seed(ctx.seed, rnd),
            words=run.typical_words,
            adapter=run.adapter,
            max_tokens=ctx.written_cap(run.typical_words),
        )
    return {"batch": batch, "stats": {str(rnd): {"generator": cost(replies, elapsed[0])}}}


def critic(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: label and filter this round's batch."""
    ctx = resolved(runtime.context or Context())
    run = services(ctx)
    task, rnd = Task.from_dict(state["task"]), state["round"]
    # The round's generated texts and its pool picks go through the same labelling call and checks.
    todo = [*state.get("batch", []), *(p for p in pool_picks(state) if p.get("round") == rnd)]
    runtime.stream_writer({"node": "critic", "round": rnd, "status": f"labelling {len(todo)} samples"})
    with stopwatch() as elapsed:
        seeds = tuple(e["text"] for e in state.get("seeds", []))
        seen = {normalise(e["text"]) for e in replay_set(state)}
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
            label_call=ctx.critic_call(),
            mask=ctx.mask_mentions,
        )
    return {"batch": batch, "stats": {str(rnd): {"critic": cost(replies, elapsed[0])}}}
