"""The `setfit` baseline: what users reach for first with a few labelled texts and no teacher.

SetFit (contrastive fine-tuning of the sentence encoder, then a logistic-regression head) on the
same k-shot seeds as every other method (the adapter's `sample_shots` with the run's seed), with the
same encoder body (the run's student, by default the bundled all-MiniLM-L6-v2), offline. It stands in
for the seed pass of the product's graph, so a cell runs, checkpoints, fingerprints and scores it like
any method: it writes the seeds, its model and one round-0 record (dev and test scores, no teacher
tokens, built by the loop's own accounting) to the run folder, and the loop's final node keeps it.
Text classification only (SetFit has no token head); needs the ``setfit`` extra.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from evokd import tasks
from evokd.accounting import round_record
from evokd.handoff.card import PREDICTIONS
from evokd.records import append_new, write_json
from evokd.services import resolved, services
from evokd.settings import Context
from evokd.state import NodeStats, State
from evokd.student import model

if TYPE_CHECKING:  # importing the graph module at run time would build the EvoKD graph for nothing
    from evokd.graph.build import GraphBuilder

# SetFit's own defaults for few-shot text classification (its README): 20 sentence pairs per
# text, one epoch of contrastive training. The batch and length are the benchmark's.
ITERATIONS = 20
EPOCHS = 1


def setfit_node(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict[str, object]:
    """Node: train SetFit on the k-shot seeds, save it, and record its dev and test scores as round 0."""
    from datasets import Dataset as HFDataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    ctx = resolved(runtime.context or Context())
    run, ds = ctx.run_path(config), services(ctx).dataset
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
    seconds = round(time.perf_counter() - started, 3)
    splits = {"dev": ds.dev, "test": ds.test}
    predicted = {k: [str(y) for y in net.predict([ex["text"] for ex in v], as_numpy=True)] for k, v in splits.items()}
    scores = {k: tasks.evaluate(ds.task, v, predicted[k]) for k, v in splits.items()}
    path = run / "student" / "round-0"
    net.save_pretrained(str(path))
    write_json(path / PREDICTIONS, predicted)  # the model card reads them instead of loading a student
    nodes: dict[str, NodeStats] = {
        "setfit": {"seconds": seconds, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    }
    record = round_record(0, scores, {"seconds": seconds}, [], nodes, {}, str(path))
    append_new(run / "rounds.jsonl", [record], key="round")
    return {
        "task": ds.task.to_dict(),
        "seeds": seeds,
        "history": [record],
        "student_path": str(path),
        "stats": {"0": nodes},
    }


def setfit_graph() -> GraphBuilder:
    """The product's graph with SetFit in place of the seed pass (it runs with ``max_rounds`` 0)."""
    from evokd.graph.build import RoundWriter, build_graph

    return build_graph(first=RoundWriter("setfit", setfit_node, "SetFit on the k-shot seeds, no teacher: round 0."))
