"""The training recipe every method shares: the run's settings turned into a `TrainConfig`, the epoch chosen
on held-out examples where the settings say so, and data-parallel ranks when asked for."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evokd.seeds import train_seed
from evokd.settings import Context
from evokd.student import model
from evokd.student.distributed import Job, train_in_ranks
from evokd.student.train import TrainConfig, class_keys, predict, train
from evokd.task import Example, Task

Evaluate = Callable[[Task, Sequence[Example], list[Any]], dict[str, Any]]
"""Scores of predictions on gold examples with a ``score`` key (`evokd.tasks.evaluate`: a module function,
so it pickles for data-parallel ranks)."""


def train_config(ctx: Context, rnd: int) -> TrainConfig:
    """The student recipe for one round (a seed per round keeps resumed runs identical)."""
    return TrainConfig(
        lr=ctx.lr,
        batch_size=ctx.batch_size,
        epochs=ctx.epochs,
        min_steps=ctx.pass_steps(),
        max_length=ctx.max_length,
        patience=ctx.patience_epochs,
        seed=train_seed(ctx.seed, rnd),
        soft_targets=ctx.soft_targets,
    )


@dataclass(frozen=True)
class DevScore:
    """The task's selection metric on held-out examples (never test); picklable, so data-parallel ranks get it."""

    task: Task
    dev: list[Example]
    max_length: int
    evaluate: Evaluate

    def __call__(self, student: model.Student) -> float:
        return float(
            self.evaluate(self.task, self.dev, predict(student, self.dev, max_length=self.max_length))["score"]
        )


def dev_selection(ctx: Context, task: Task, dev: list[Example], evaluate: Evaluate) -> DevScore | None:
    """What picks the training epoch: the score on ``dev`` where the settings select epochs under the
    ``oracle-dev`` protocol, else nothing (the last epoch is kept: few-shot reads no gold dev label)."""
    chosen = ctx.select_epoch and ctx.protocol == "oracle-dev" and dev
    return DevScore(task, dev, ctx.max_length, evaluate) if chosen else None


def fit(
    net: model.Student,
    examples: list[Example],
    ctx: Context,
    rnd: int,
    dev_score: DevScore | None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train with the run's recipe: class-balanced batches and, given a ``dev_score``, the epoch it scores
    best. The one way every method, and the benchmark's references, train the student; with
    ``student_procs`` > 1 the pass runs data-parallel in local ranks."""
    balance_by = class_keys(net.head, examples) if ctx.balance else None
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
