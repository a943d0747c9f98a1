"""`evokd retrain RUN --student mpnet`: a fresh student trained once on every label a run paid for.

The loop trains its student round after round, so a large encoder costs a training pass per round (mpnet:
about 6 times MiniLM's on this project's CPU). The labels are what the run bought: after a fast MiniLM
loop, one pass of a bigger student on the same labels (the shots and each accepted sample of the kept round
and those before it, with the run's own recipe and soft targets, no selection, no teacher call) scored
+0.079 test macro-F1 over MiniLM on rotten_tomatoes (benchmarks/results/student-size-rotten_tomatoes.json).
The new student is written to ``RUN/model-<name>`` with a short card and ``retrain.json`` (its dev and test
scores, for reporting: nothing is chosen on them); `evokd predict` and `evokd export` take that folder.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, cast

from evokd.data.formats import DataError
from evokd.data.readers import Dataset
from evokd.handoff.predict import model_folder, run_data, saved_task
from evokd.records import read_json, read_jsonl, write_json, write_text
from evokd.settings import Context
from evokd.state import Sample, trains_on
from evokd.student import model
from evokd.student.model import Head, StudentError
from evokd.student.recipe import fit
from evokd.student.train import predict
from evokd.task import Example
from evokd.tasks import TaskAdapter, adapter_for, evaluate, head_for, load_dataset

RESULT = "retrain.json"


def trained_samples(run: Path, last_round: int) -> list[Sample]:
    """The accepted samples of rounds up to ``last_round`` that the run may train on."""
    accepted = (cast(Sample, s) for s in read_jsonl(run / "samples.jsonl") if s.get("verdict") == "accepted")
    return [s for s in accepted if s["round"] <= last_round and trains_on(s)]


def labels_of(run: Path, samples: list[Sample], adapter: TaskAdapter) -> list[Example]:
    """The run's shots, then ``samples`` as training examples."""
    shots = [cast(Example, {k: v for k, v in row.items() if k != "n"}) for row in read_jsonl(run / "seeds.jsonl")]
    return [*shots, *(adapter.to_example(s) for s in samples)]


def train_once(student: str, head: Head, examples: list[Example], ctx: Context) -> tuple[model.Student, float]:
    """A fresh ``student`` ("" = the bundled default) trained once on ``examples`` with ``ctx``'s recipe, no
    selection (it is kept whatever it scores); with its training seconds."""
    started = time.perf_counter()
    net = model.load(student or model.default_student_path(), head)
    fit(net, examples, ctx, 0, None)
    return net, time.perf_counter() - started


def scores(net: model.Student, data: Dataset, max_length: int) -> tuple[dict[str, float], dict[str, list[Any]]]:
    """The student's score on ``data``'s dev and test splits (for reporting: nothing is chosen on them), with
    its predictions there."""
    predicted = {
        name: predict(net, split, max_length=max_length) for name, split in (("dev", data.dev), ("test", data.test))
    }
    return {
        name: float(evaluate(data.task, getattr(data, name), got)["score"]) for name, got in predicted.items()
    }, predicted


def default_out(run: Path, student: str) -> Path:
    """``RUN/model-<name>``: the student's bundled name, or its folder's name."""
    return run / f"model-{Path(student).name or 'default'}"


def retrain(run: str | Path, student: str, out: str | Path | None = None) -> dict[str, Any]:
    """Train ``student`` (a bundled name such as "mpnet", or a model folder) once on the finished run's labels,
    save it to ``out`` and score it on the run's dev and test splits; return what ``retrain.json`` holds."""
    run = Path(run)
    settings, summary = read_json(run / "run.json"), read_json(run / "summary.json")
    if not settings or "best_round" not in summary:
        raise StudentError(f"{run}: no finished run here (run.json, summary.json); finish it first: evokd resume {run}")
    target = Path(out) if out else default_out(run, student)
    if target.exists() and any(target.iterdir()):
        raise DataError(f"{target}: already exists and is not empty; remove it or give another --out")
    where = run_data(run)
    if where is None:
        raise DataError(f"{run}: the run's dataset ({settings.get('data')}) is not on this machine")
    ctx = dataclasses.replace(Context(**settings), student=student, run_dir=str(run))
    task = saved_task(model_folder(run))  # the run's own head: its labels, in its order
    data = load_dataset(where, task.kind)
    samples = trained_samples(run, int(summary["best_round"]))
    examples = labels_of(run, samples, adapter_for(task))
    net, trained = train_once(student, head_for(task), examples, ctx)
    model.save(net, target)
    scored = {split: round(score, 4) for split, score in scores(net, data, ctx.max_length)[0].items()}
    result = {
        "run": str(run),
        "student": student,
        "model": str(target),
        "labels": len(examples),
        "shots": len(examples) - len(samples),
        "rounds": int(summary["best_round"]),
        "teacher_tokens": summary.get("teacher_tokens"),
        "metric": summary.get("metric"),
        "dev": scored["dev"],
        "test": scored["test"],
        "run_student": {split: (summary.get(split) or {}).get("score") for split in ("dev", "test")},
        "train_seconds": round(trained, 1),
    }
    write_json(target / RESULT, result)
    write_text(target / "README.md", card(result))
    return result


def card(result: dict[str, Any]) -> str:
    """The retrained student's card: where its labels came from and how it scores beside the run's student."""
    metric, before = result["metric"] or "score", result["run_student"]

    def row(name: str, scores: dict[str, Any]) -> str:
        return " | ".join([name, *(f"{scores[s]:.4f}" if scores.get(s) is not None else "–" for s in ("dev", "test"))])

    return "\n".join(
        [
            f"# {Path(result['model']).name}: a student retrained on the labels of {result['run']}",
            "",
            f"Trained once from `{result['student']}` on the run's {result['shots']} shots and "
            f"{result['labels'] - result['shots']} accepted teacher labels (rounds 1-{result['rounds']}, "
            f"{result['teacher_tokens'] or 0:,} teacher tokens), with the run's recipe, no selection and no "
            f"teacher call, in {result['train_seconds']:.0f} s (`evokd retrain`).",
            "",
            f"| student | dev {metric} | test {metric} |",
            "|---|---|---|",
            f"| {row('retrained (this folder)', result)} |",
            f"| {row('the run’s own student', before)} |",
            "",
            "Dev and test scores are reported, never used to choose: under the few-shot protocol the run's gold labels",
            "beyond its shots decide nothing.",
            "",
        ]
    )
