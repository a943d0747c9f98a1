"""The compared methods: each is a graph and the Context overrides it runs with.

The baselines are the EvoKD graph with its Analyst and Generator replaced by one writer node. They
keep the same Critic (screening and separate labelling), the same Student node (training recipe,
replay, dev-based selection, per-round records) and the same budget routing, so the only thing
that differs between methods is how the texts the teacher labels are chosen.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from langgraph.runtime import Runtime

from evokd import prompts
from evokd.agents.generator import fill, generate, plan
from evokd.bench.bench_task import bench_task
from evokd.bench.setfit_method import setfit_graph
from evokd.graph.build import GraphBuilder, RoundWriter, build_graph
from evokd.graph.cost import cost, stopwatch
from evokd.schemas import GeneratedText
from evokd.seeds import rephrase_seed, writer_seed
from evokd.services import services
from evokd.settings import Context
from evokd.state import Sample, State, replay_set
from evokd.task import Example, Task
from evokd.teacher.client import Teacher
from evokd.text import clip


def static_batch(
    teacher: Teacher, ctx: Context, task: Task, seeds: list[Example], pool: list[Example], rnd: int
) -> tuple[list[Sample], list]:
    """ZeroGen-style: one label-conditioned text per request, labels in turn, no student feedback."""
    requests = plan(task, {}, 0, 2 * ctx.per_round, rnd)  # "easy" requests: a label and nothing else
    return generate(
        teacher,
        prompts.default(ctx.task, "static"),
        task,
        services(ctx).description,
        {},
        seeds,
        pool,
        requests,
        seed=writer_seed(ctx.seed, rnd),
        words=services(ctx).typical_words,
        adapter=services(ctx).adapter,
        max_tokens=ctx.written_cap(services(ctx).typical_words),
    )


def rephrase_batch(
    teacher: Teacher, ctx: Context, task: Task, seeds: list[Example], pool: list[Example], rnd: int
) -> tuple[list[Sample], list]:
    """AugGPT-style: the teacher rewrites seed texts (in a seeded random order) into new variants."""
    n = 2 * ctx.per_round
    order = list(range(len(seeds)))
    random.Random(rephrase_seed(ctx.seed, rnd)).shuffle(order)
    sources = [seeds[order[i % len(order)]] for i in range(n)]
    requests = plan(task, {}, 0, n, rnd)
    template = prompts.default(ctx.task, "rephrase")
    adapter = services(ctx).adapter  # the run's: NER's types come with the data card's meanings
    bench = bench_task(adapter)
    labels = adapter.label_text(task)
    texts = []
    for r, src in zip(requests, sources, strict=True):
        label = bench.source_label(task, src, rnd)
        r.update({"requested": label, "weakness": f"rewrite of: {clip(src['text'], 12)}"})
        done = [clip(e["text"]) for e in adapter.written_for(pool, label)][-5:]
        avoid = bench.show_written(done, label)
        texts.append(
            prompts.render(
                template,
                task=services(ctx).description,
                labels=labels,
                text=clip(src["text"]),
                label=label,
                avoid=avoid,
            )
        )
    reply_seeds = [writer_seed(ctx.seed, rnd, i) for i in range(n)]
    cap = ctx.written_cap(services(ctx).typical_words)
    replies = teacher.ask_many(texts, GeneratedText, seeds=reply_seeds, max_tokens=cap)
    return fill(requests, replies), replies


Writer = Callable[[Teacher, Context, Task, list[Example], list[Example], int], tuple[list[Sample], list]]


class RuntimeNode(Protocol):
    """A node that reads its settings from the runtime (``runtime`` by name, as langgraph passes it)."""

    def __call__(self, state: State, runtime: Runtime[Context]) -> dict[str, object]: ...


def writer_node(name: str, write: Writer) -> RuntimeNode:
    """A graph node that starts a round with a batch from ``write`` (the baselines' Analyst+Generator)."""

    def node(state: State, runtime: Runtime[Context]) -> dict[str, object]:
        ctx = runtime.context or Context()
        task, rnd = Task.from_dict(state["task"]), state.get("round", 0) + 1
        runtime.stream_writer({"node": name, "round": rnd, "status": f"writing {2 * ctx.per_round} samples"})
        with stopwatch() as elapsed:
            batch, replies = write(services(ctx).teacher(), ctx, task, state.get("seeds", []), replay_set(state), rnd)
        return {"round": rnd, "batch": batch, "analysis": {}, "stats": {str(rnd): {name: cost(replies, elapsed[0])}}}

    node.__doc__ = f"Node: write round's batch for the {name} baseline."
    return node


def baseline_graph(name: str, write: Writer, description: str) -> GraphBuilder:
    """seed -> (writer -> critic -> student)* -> finalize: the EvoKD graph with ``write`` in place of its
    Analyst and Generator, so no student feedback steers what is written."""
    return build_graph(RoundWriter(name, writer_node(name, write), description))


@dataclass(frozen=True)
class Method:
    """A compared method: how to build its graph and what it changes in the shared Context."""

    name: str
    description: str
    graph: Callable[[], GraphBuilder]
    overrides: dict[str, object] = field(default_factory=dict)
    uses_teacher: bool = True
    requires: str = ""  # an optional package the method needs (its extra has the same name)
    kinds: tuple[str, ...] = ()  # the task kinds it can run (empty: every kind)


# The paper's figure shows 2 hard + 2 easy texts per round; the feedback-free baselines write
# ``per_round`` of each label-conditioned text per round (they have no analysis to amortise).
PAPER_PER_ROUND = 2
DEV_FEEDBACK = 3  # dev texts per round in the evokd-devfb variant
# Texts per labelling call: the rule in evokd.bench.label_cost (largest K within 2 points of one text per
# call), applied to benchmarks/results/label-cost-rotten_tomatoes.md before any pool method was run with it.
LABEL_BATCH = 1  # larger calls lost more than the rule allows there
# The pool round size is Context's default, which a run with --pool uses too: 12 texts in the first round, then
# twice as many each round, the last one shrunk to fit the budget (benchmarks/decisions/pool-round-size.md).
POOL = {"pool": "train", "label_batch": LABEL_BATCH}
# Self-labelled pool texts per round in pool-random-st, fixed before any result with it
# (benchmarks/decisions/self-training.md); the threshold is Context's default (0.9).
SELF_TRAIN = 64
# Earlier labels replayed each round in pool-random-all: more than any run at the benchmark's budgets accepts, so
# every label bought so far trains in every later round (the default replays 32; benchmarks/decisions/replay.md).
REPLAY_ALL = 100_000
# Optimizer steps of seed-only-long's one pass: what the training-passes control gave wnut16's shots (5 passes of
# about 40 steps, benchmarks/decisions/passes-control.md), fixed before any dev score with it (min-steps.md).
LONG_STEPS = 200


def methods(per_round: int) -> dict[str, Method]:
    """Every method the benchmark knows, for a given number of samples per round (each stance)."""
    return {
        m.name: m
        for m in (
            Method(
                "seed-only",
                "fine-tune on the k-shot seeds alone",
                build_graph,
                {"max_rounds": 0, "budget_tokens": 0},
                uses_teacher=False,
            ),
            Method(
                "seed-only-long",
                f"seed-only with at least {LONG_STEPS} optimizer steps (the default 40): whether the pass on the "
                "shots is under-trained",
                build_graph,
                {"max_rounds": 0, "budget_tokens": 0, "min_steps": LONG_STEPS},
                uses_teacher=False,
            ),
            Method(
                "static",
                "label-conditioned generation, no student feedback (ZeroGen-style)",
                lambda: baseline_graph("static", static_batch, "Teacher writes label-conditioned texts, no feedback."),
                {"per_round": per_round},
            ),
            Method(
                "rephrase",
                "the teacher rewrites the seeds into variants (AugGPT-style)",
                lambda: baseline_graph("rephrase", rephrase_batch, "Teacher rewrites the seeds into variants."),
                {"per_round": per_round},
            ),
            Method(
                "evokd-paper",
                "the loop as the paper describes it: 2 hard + 2 easy per round, feedback from the whole "
                "new batch, separate labelling, review history",
                build_graph,
                {"per_round": PAPER_PER_ROUND, "feedback_limit": 2 * PAPER_PER_ROUND, "dev_feedback": 0},
            ),
            Method(
                "evokd",
                "the project's default settings (Context: feedback capped at 6 wrong + 6 right) at the "
                "paper's 2 + 2 texts per round, so rounds fit the budget; labelled texts: the k-shot seeds only",
                build_graph,
                {"per_round": PAPER_PER_ROUND, "feedback_limit": 6, "dev_feedback": 0},
            ),
            # Dev errors shown to the teacher are labelled texts no baseline sees: a variant of its own, whose
            # table line counts them (seeds + dev_feedback per round).
            Method(
                "evokd-devfb",
                f"evokd plus {DEV_FEEDBACK} real dev-set texts the student gets wrong shown to the "
                "Analyst each round (extra labelled data: counted in the table)",
                build_graph,
                {
                    "per_round": PAPER_PER_ROUND,
                    "feedback_limit": 6,
                    "dev_feedback": DEV_FEEDBACK,
                    "protocol": "oracle-dev",  # it shows gold dev labels, so it may as well decide on them
                },
            ),
            Method(
                "setfit",
                "SetFit on the k-shot seeds with the same encoder body, no teacher (what users reach for first)",
                setfit_graph,
                {"max_rounds": 0, "budget_tokens": 0},
                uses_teacher=False,
                requires="setfit",
                kinds=("classification",),
            ),
            # Pool methods: the dataset's train split, labels stripped, is the unlabelled pool (never a seed, dev or
            # test text); the teacher labels what the selector picks, with the same Critic and the same budget.
            Method(
                "pool-random",
                "the teacher labels random pool texts, nothing generated (the classic LLM-annotator baseline)",
                build_graph,
                {"per_round": 0, "query": "random", **POOL},
            ),
            Method(
                "pool-active",
                "the teacher labels the pool texts the student is least sure of (uncertainty), nothing generated",
                build_graph,
                {"per_round": 0, "query": "uncertainty", **POOL},
            ),
            Method(
                "pool-active-nonoise",
                "pool-active without the small-loss noise step (every teacher label trains): what the step adds",
                build_graph,
                {"per_round": 0, "query": "uncertainty", "noise": "none", **POOL},
            ),
            Method(
                "pool-random-confnoise",
                "pool-random with the confidence noise step (a label the teacher gave under 0.7 that the "
                "student predicts otherwise is held out of training): what the step adds",
                build_graph,
                {"per_round": 0, "query": "random", "noise": "confidence", **POOL},
            ),
            Method(
                "pool-random-st",
                f"pool-random plus self-training: each round the student also trains on up to {SELF_TRAIN} pool "
                "texts it labels itself (the surest, balanced over labels, no teacher tokens): what it adds",
                build_graph,
                {"per_round": 0, "query": "random", "self_train": SELF_TRAIN, **POOL},
                kinds=("classification",),
            ),
            Method(
                "pool-random-all",
                "pool-random where each round trains on every label bought so far (the default replays 32 "
                "earlier ones): what full replay adds",
                build_graph,
                {"per_round": 0, "query": "random", "replay": REPLAY_ALL, **POOL},
            ),
            Method(
                "pool-random-hard",
                "pool-random trained on the teacher's top label instead of its probabilities over the labels "
                "(soft targets are the default since benchmarks/decisions/soft-targets.md): what they add",
                build_graph,
                {"per_round": 0, "query": "random", "soft_targets": False, **POOL},
                kinds=("classification",),
            ),
            Method(
                "pool-random-mask",
                "pool-random keeping a teacher-labelled sentence whose mentions partly fail the checks, the "
                "failing mentions' words masked out of training, instead of dropping it: what masking adds",
                build_graph,
                {"per_round": 0, "query": "random", "mask_mentions": True, **POOL},
                kinds=("ner",),
            ),
            Method(
                "pool-random-oracle",
                "pool-random under the oracle-dev protocol: the dev split's gold labels choose each pass's epoch "
                "and the round kept (pool runs have no patience, so the budget still stops them; the ablation of "
                "issue 23: what gold dev labels are worth; they are counted in its labelled texts)",
                build_graph,
                {"per_round": 0, "query": "random", "protocol": "oracle-dev", **POOL},
            ),
            Method(
                "evokd-pool",
                "the evokd settings plus the pool texts the student is least sure of, labelled each "
                "round; the Analyst also sees them",
                build_graph,
                {
                    "per_round": PAPER_PER_ROUND,
                    "feedback_limit": 6,
                    "dev_feedback": 0,
                    "query": "uncertainty",
                    **POOL,
                },
            ),
        )
    }
