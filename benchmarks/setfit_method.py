"""The `setfit` baseline: what users reach for first with a few labelled texts and no teacher.

SetFit (contrastive fine-tuning of the sentence encoder, then a logistic-regression head) on the
same k-shot seeds as every other method (the adapter's `sample_shots` with the run's seed), with the
same encoder body (the run's student, by default the bundled all-MiniLM-L6-v2), offline. It is one
graph node, so a cell runs, checkpoints, fingerprints and scores it like any method: it writes the
seeds and one round-0 record (dev and test scores, no teacher tokens) to the run folder.
Text classification only (SetFit has no token head); needs the ``setfit`` extra.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from evokd import tasks
from evokd.accounting import round_record
from evokd.records import append_new
from evokd.services import services
from evokd.settings import Context
from evokd.state import NodeStats, State
from evokd.student import model

if TYPE_CHECKING:  # importing the graph module at run time would build the EvoKD graph for nothing
    from evokd.graph.build import GraphBuilder

# SetFit's own defaults for few-shot text classification (its README): 20 sentence pairs per
# text, one epoch of contrastive training. The batch and length are the benchmark's.
ITERATIONS = 20
EPOCHS = 1


def setfit_node(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: train SetFit on the k-shot seeds and record its dev and test scores as round 0."""
    from datasets import Dataset as HFDataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    ctx = runtime.context or Context()
    run, ds = ctx.run_path(None), services(ctx).dataset
    seeds = tasks.sample_shots(ds.train, ds.task, ctx.shots, ctx.seed)
    append_new(run / "seeds.jsonl", [{"n": i, **s} for i, s in enumerate(seeds)], key="n")
    started = time.perf_counter()
    net = SetFitModel.from_pretrained(ctx.student or str(model.default_student_path()))
    args = TrainingArguments(
        output_dir=str(run / "setfit"),
        batch_size=ctx.batch_size,
        num_epochs=EPOCHS,
        num_iterations=ITERATIONS,
        seed=ctx.seed,
        max_length=ctx.max_length,
        report_to="none",
        save_strategy="no",
    )
    data = HFDataset.from_dict({"text": [ex["text"] for ex in seeds], "label": [ex["label"] for ex in seeds]})
    Trainer(model=net, args=args, train_dataset=data).train()
    seconds = time.perf_counter() - started
    dev = tasks.evaluate(ds.task, ds.dev, [str(y) for y in net.predict([ex["text"] for ex in ds.dev], as_numpy=True)])
    test = tasks.evaluate(
        ds.task, ds.test, [str(y) for y in net.predict([ex["text"] for ex in ds.test], as_numpy=True)]
    )
    nodes: dict[str, NodeStats] = {
        "setfit": {"seconds": round(seconds, 3), "calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    }
    record = round_record(0, {"dev": dev, "test": test}, {"seconds": round(seconds, 3)}, [], nodes, {}, "")
    append_new(run / "rounds.jsonl", [record], key="round")
    return {"history": [record]}


def setfit_graph() -> GraphBuilder:
    """START -> setfit -> END."""
    builder = StateGraph(State, context_schema=Context)
    builder.add_node("setfit", setfit_node)
    builder.add_edge(START, "setfit")
    builder.add_edge("setfit", END)
    return builder
