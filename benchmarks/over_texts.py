"""Intervals over seeds and test texts at a table's top budget, and a student against its teacher on the same texts.

The t-interval over seeds (`curves.t_interval`) says how far a method's mean moves with its seed on fixed test
texts; another sample of texts would move it too. Here the two parts are added: the half-width of the seed
t-interval, and 1.96 times the mean's standard deviation over a bootstrap of the test texts (one resample
shared by every seed, as the texts are), in quadrature, as for two independent sources of error. Against
the teacher, each seed's difference to the teacher's labels on the same texts takes the place of its score, so
the comparison is paired over seeds and texts. It needs each cell's test predictions of its scored round, which
a run saves beside its kept student; the teacher reference saves its labels (`TEACHER_PREDICTIONS`).

    python -m evokd.bench.over_texts runs/bench-bbc-default bbc_news --methods seed-only,pool-random \\
        --seeds 1,2,3,4,5 --out benchmarks/results/over-texts-bbc_news.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from evokd.bench.settings import Settings, name_of
from evokd.bench.tables import described
from evokd.data.readers import Dataset
from evokd.handoff.card import PREDICTIONS, point
from evokd.records import write_json
from evokd.services import services
from evokd.task import Example, Task
from evokd.tasks import adapter_for

RESAMPLES = 2000  # bootstrap resamples of the test texts
TEACHER_PREDICTIONS = "predictions.json"  # the teacher reference's labels on the test texts, in its cell folder


def over_texts(
    task: Task, gold: list[Example], per_seed: list[list[Any]], teacher: list[Any] | None = None, seed: int = 0
) -> dict[str, Any]:
    """Mean over seeds of the metric (or, with ``teacher``, of each seed's metric minus the teacher's on the same
    texts), with a 95 % interval over seeds and texts (None for one seed: no seed variance is known)."""
    adapter = adapter_for(task)
    answers = [adapter.gold(ex) for ex in gold]
    n = len(answers)
    weights = np.vstack([np.ones(n), np.random.default_rng(seed).multinomial(n, [1 / n] * n, size=RESAMPLES)])
    scores = np.stack([adapter.weighted_scores(task, answers, p, weights) for p in per_seed])  # seeds x (1 + B)
    if teacher is not None:
        scores = scores - adapter.weighted_scores(task, answers, teacher, weights)
    points, seed_means = scores[:, 0], scores[:, 1:].mean(axis=0)
    k, mean = len(points), float(points.mean())
    text_var = float(seed_means.var(ddof=1))
    interval = None
    if k > 1:
        seed_half = float(stats.t.ppf(0.975, k - 1)) * math.sqrt(float(points.var(ddof=1)) / k)
        half = math.hypot(seed_half, float(stats.norm.ppf(0.975)) * math.sqrt(text_var))
        interval = [round(mean - half, 4), round(mean + half, 4)]
    return {
        "mean": round(mean, 4),
        "interval": interval,
        "covers_zero": interval is None or interval[0] <= 0 <= interval[1],
        "seeds": k,
        "texts": n,
        "text_std": round(math.sqrt(text_var), 4),
    }


def scored_predictions(task: Task, gold: list[Example], folder: Path, score: float) -> list[Any] | None:
    """The test predictions saved beside a cell's kept student, if they give the score the cell reports (so they
    are those of its scored round); else None."""
    saved = folder / "model" / PREDICTIONS
    if not saved.is_file():
        return None
    predicted = json.loads(saved.read_text(encoding="utf-8")).get("test")
    if predicted is None or len(predicted) != len(gold):
        return None
    return predicted if abs(point(task, gold, predicted) - score) < 5e-4 else None


def teacher_predictions(folder: Path, gold: list[Example]) -> list[Any] | None:
    """The teacher reference's labels on every test text, where its cell saved them."""
    saved = folder / TEACHER_PREDICTIONS
    if not saved.is_file():
        return None
    predicted = json.loads(saved.read_text(encoding="utf-8"))
    return predicted if len(predicted) == len(gold) else None


def intervals(
    task: Task, gold: list[Example], per_method: dict[str, list[list[Any] | None]], teacher: list[Any] | None
) -> dict[str, dict]:
    """`over_texts` for each method (or student) whose every seed has its test predictions (key: the name) and,
    with the teacher's labels, its difference to the teacher (key: "<name> vs teacher")."""
    out: dict[str, dict] = {}
    for name, kept in per_method.items():
        per_seed = [p for p in kept if p is not None]
        if not per_seed or len(per_seed) < len(kept):
            continue
        out[name] = over_texts(task, gold, per_seed)
        if teacher is not None:
            out[f"{name} vs teacher"] = over_texts(task, gold, per_seed, teacher)
    return out


def for_table(
    task: Task, gold: list[Example], runs: dict[str, list[tuple[Path, dict]]], teacher: list[Any] | None
) -> dict[str, dict]:
    """`intervals` from finished cells (folder and result), each with the predictions its folder kept."""
    kept = {
        name: [scored_predictions(task, gold, folder, r["score"]) for folder, r in cells]
        for name, cells in runs.items()
    }
    return intervals(task, gold, kept, teacher)


def scored_data(s: Settings, dataset: str) -> Dataset:
    """The dataset as the benchmark's cells score it (cut to ``s.eval_limit`` texts where it asks)."""
    return services(s.context(dataset, 0, Path(s.work) / name_of(dataset))).dataset


def collected(
    s: Settings, dataset: str, runs: dict[str, list[tuple[Path, dict]]], teacher_folder: Path | None
) -> dict[str, dict]:
    """`for_table` on a dataset's finished cells, scored on the texts the benchmark scores."""
    ds = scored_data(s, dataset)
    teacher = teacher_predictions(teacher_folder, ds.test) if teacher_folder else None
    return for_table(ds.task, ds.test, runs, teacher)


def main(argv: list[str] | None = None) -> None:
    """Compute the intervals for finished cells of a work folder (made by any code) and write their JSON."""
    p = argparse.ArgumentParser(prog="python -m evokd.bench.over_texts", description=__doc__.splitlines()[0])
    p.add_argument("work", type=Path, help="the benchmark's --work folder holding the finished cells")
    p.add_argument("dataset")
    p.add_argument("--methods", required=True, help="comma-separated methods")
    p.add_argument("--seeds", required=True, help="comma-separated seeds")
    p.add_argument("--teacher", type=Path, help="a teacher reference's cell folder that saved its labels")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    s = Settings(datasets=[args.dataset], work=str(args.work))
    name = name_of(args.dataset)
    runs = {
        method: [
            (folder, json.loads((folder / "result.json").read_text(encoding="utf-8")))
            for folder in (args.work / name / method / f"seed-{seed}" for seed in args.seeds.split(","))
        ]
        for method in args.methods.split(",")
    }
    found = collected(s, args.dataset, runs, args.teacher)
    for key, one in found.items():
        print(described(key, one))
    write_json(
        args.out,
        {
            "dataset": args.dataset,
            "date": datetime.date.today().isoformat(),
            "work": str(args.work),
            "cells": {m: [r.get("fingerprint") for _, r in cells] for m, cells in runs.items()},
            "teacher": str(args.teacher) if args.teacher else None,
            "resamples": RESAMPLES,
            "over_texts": found,
        },
    )


if __name__ == "__main__":
    main()
