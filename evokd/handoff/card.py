"""The model card a run leaves in ``model/README.md``, in the Hugging Face Hub's format.

YAML metadata first (base model, pipeline tag, language when the data card gives one, and the test
scores in the Hub's ``model-index`` convention), then prose: the teacher and the kind of endpoint it
ran on (never its URL or key), where the training data came from, the scores with 95% intervals,
the teacher tokens spent, and what the model is for and not for.

A single run has one seed, so the benchmark's mean ± std over seeds does not apply; the interval
here is a percentile bootstrap over the evaluated texts (1,000 resamples), from the final student's
own predictions on dev and test.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
from huggingface_hub import EvalResult, ModelCardData

from evokd.handoff.calibration import calibrate, card_lines
from evokd.paths import data_dir
from evokd.records import read_jsonl, write_json, write_text
from evokd.settings import requested_model
from evokd.student import model as student_model
from evokd.student.train import predict
from evokd.task import Example, Task
from evokd.tasks import adapter_for
from evokd.tasks.base import TaskAdapter
from evokd.teacher.local import teacher_name

if TYPE_CHECKING:
    from evokd.data.readers import Dataset
    from evokd.settings import Context

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # what the bundled student package carries
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RESAMPLES = 1_000
PREDICTIONS = "eval_predictions.json"  # a round's dev and test predictions, saved beside its student
EXPORTS = "exports.json"  # the model's exported variants, beside it in model/
EXPORTS_START, EXPORTS_END = "<!-- evokd:exports -->", "<!-- /evokd:exports -->"


def teacher_info(ctx: Context) -> dict[str, str]:
    """The teacher's model name and endpoint kind ("local", "remote" or "unknown"); the URL itself is never kept."""
    # the local teacher by its weights, else the model name the run's teacher client sent
    name = teacher_name(ctx.teacher_id, ctx.teacher_model) or requested_model(ctx.teacher_model)
    host = urlparse(ctx.teacher_url or os.environ.get("OPENAI_BASE_URL", "")).hostname or ""
    return {"model": name, "endpoint": "unknown" if not host else "local" if host in LOOPBACK else "remote"}


def describe_teacher(teacher: dict[str, str]) -> str:
    """A sentence part naming the teacher and where it ran, for the model and dataset cards."""
    name, endpoint = f"`{teacher['model']}`", teacher["endpoint"]
    if endpoint == "local":
        return (
            f"{name} on a local OpenAI-compatible endpoint on the run's machine (evokd serves its llama.cpp "
            f"teacher there when no teacher URL is given)"
        )
    if endpoint == "remote":
        return f"{name} on a remote OpenAI-compatible endpoint"
    return f"{name} (endpoint kind not recorded)"


def data_card(data: str) -> dict[str, Any]:
    """The data folder's card.json (bundled datasets have one), or {}."""
    folder = Path(data) if Path(data).exists() else data_dir() / data
    card = folder / "card.json"
    return json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}


def bootstrap(
    task: Task, gold: list[Example], pred: list[Any], resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile 95% interval of the task's metric over texts resampled with replacement."""
    weights = np.random.default_rng(seed).multinomial(len(gold), [1 / len(gold)] * len(gold), size=resamples)
    scores = _weighted(task, gold, pred, weights)
    return float(np.quantile(scores, 0.025)), float(np.quantile(scores, 0.975))


def point(task: Task, gold: list[Example], pred: list[Any]) -> float:
    """The task's metric from the same per-text counts the bootstrap resamples."""
    return float(_weighted(task, gold, pred, np.ones((1, len(gold))))[0])


def _weighted(task: Task, gold: list[Example], pred: list[Any], weights: np.ndarray) -> np.ndarray:
    """The metric under each row of text weights (`TaskAdapter.weighted_scores`)."""
    adapter = adapter_for(task)
    return adapter.weighted_scores(task, [adapter.gold(ex) for ex in gold], pred, weights)


def saved_predictions(model_dir: Path, data: Dataset, max_length: int) -> dict[str, list[Any]]:
    """The model's dev and test predictions: those its run saved beside it, else predicted now."""
    saved = model_dir / PREDICTIONS
    if saved.is_file():
        return dict(json.loads(saved.read_text(encoding="utf-8")))
    student = student_model.load(model_dir, adapter_for(data.task).head(data.task))
    return {split: predict(student, examples, max_length=max_length)
            for split, examples in (("dev", data.dev), ("test", data.test))}  # fmt: skip


def write_model_card(run: Path, summary: dict[str, Any], ctx: Context, data: Dataset) -> Path:
    """Write ``run/model/README.md`` (and ``run/teacher.json`` for the dataset card); return the card's path."""
    task = data.task
    adapter = adapter_for(task)
    predicted = saved_predictions(run / "model", data, ctx.max_length)
    intervals = {split: bootstrap(task, examples, predicted[split])
                 for split, examples in (("dev", data.dev), ("test", data.test))}  # fmt: skip
    teacher = teacher_info(ctx)
    write_json(run / "teacher.json", teacher)
    source = data_card(ctx.data)
    name = source.get("name") or Path(data.source).name
    meta = ModelCardData(
        base_model=_base_model(ctx.student),
        library_name="transformers",
        pipeline_tag=adapter.pipeline_tag,
        language=source.get("language"),
        tags=["evokd", "knowledge-distillation", adapter.pipeline_tag],
        model_name=f"evokd-{name}-{task.kind}",
        eval_results=_eval_results(adapter, summary, name),
    )
    sections = [*card_lines(calibrate(run, ctx.max_length, data.test)), *exports_block(run / "model")]
    prose = _prose(run, summary, ctx, task, name, source.get("language"), teacher, intervals, sections)
    card = f"---\n{meta.to_yaml()}\n---\n\n{prose}"
    path = run / "model" / "README.md"
    write_text(path, card)
    return path


def _base_model(student: str) -> str | None:
    """The Hub id of the encoder the student started from; None for a local folder (not a Hub id)."""
    if not student:
        return DEFAULT_BASE_MODEL
    return None if Path(student).exists() else student


def _eval_results(adapter: TaskAdapter, summary: dict[str, Any], dataset: str) -> list[EvalResult]:
    """Test scores in the Hub's model-index form."""
    test = summary["test"]
    return [
        EvalResult(
            task_type=adapter.pipeline_tag,
            dataset_type=dataset,
            dataset_name=dataset,
            dataset_split="test",
            metric_type=m.type,
            metric_value=float(test[m.key]),
            metric_name=m.name,
            metric_args={"average": m.average} if m.average else None,
        )
        for m in adapter.card_metrics
        if m.key in test
    ]


def _prose(
    run: Path,
    summary: dict[str, Any],
    ctx: Context,
    task: Task,
    dataset: str,
    language: str | None,
    teacher: dict[str, str],
    intervals: dict[str, tuple[float, float]],
    sections: list[str],
) -> str:
    """The card's text below the metadata; ``sections`` (calibration, exported variants) follow the scores."""
    seeds = read_jsonl(run / "seeds.jsonl")
    samples = read_jsonl(run / "samples.jsonl")
    accepted = Counter(s.get("source", "generated") for s in samples if s.get("verdict") == "accepted")
    rejected = Counter(s.get("reason", "") for s in samples if s.get("verdict") == "rejected")
    adapter = adapter_for(task)
    metric = adapter.card_metrics[0].name
    base = _base_model(ctx.student) or f"a local encoder ({Path(ctx.student).name})"
    labels = ", ".join(f"`{label}`" for label in task.labels)
    kind = f"{adapter.label_noun}s"
    rows = [
        f"| {split} | {summary[split]['score']:.4f} | {lo:.4f} – {hi:.4f} "
        f"| {summary['seed_only'][split]['score']:.4f} |"
        for split, (lo, hi) in intervals.items()
    ]
    taught = (
        ", ".join(f"{n} {src} samples accepted" for src, n in sorted(accepted.items()))
        or "no generated samples accepted"
    )
    why_rejected = ", ".join(f"{reason or 'unstated'} {n}" for reason, n in rejected.most_common()) or "none"
    pipeline_line = f'pipeline("{adapter.pipeline_tag}", model="{run.name}/model"' + (
        f", {adapter.pipeline_args})" if adapter.pipeline_args else ")"
    )
    return "\n".join(
        [
            f"# evokd student: {dataset} ({task.kind})",
            "",
            f"A small {adapter.pipeline_tag} model distilled by evokd from a teacher LLM: "
            f"the teacher wrote and labelled training texts aimed at this student's mistakes, round after round. "
            f"It starts from {base} and predicts the {kind} {labels}.",
            "",
            "## Training",
            "",
            f"- Teacher: {describe_teacher(teacher)}.",
            f"- Data lineage: {len(seeds)} human-labelled seed examples from `{dataset}` ({ctx.shots} per "
            f"{adapter.label_noun}); {taught}.",
            f"- Rejected by the Critic: {sum(rejected.values())} ({why_rejected}).",
            f"- Rounds: {summary['rounds']} (stopped: {summary['stop_reason']}); "
            f"this model is round {summary['best_round']}, "
            + (
                "the best on dev."
                if summary.get("protocol") == "oracle-dev"
                else "the last (few-shot: no dev label decided)."
            ),
            f"- Teacher tokens spent: {summary['teacher_tokens']:,}.",
            "",
            "## Scores",
            "",
            f"The {metric} on the dataset's dev and test splits, with a 95% interval: a percentile bootstrap over the "
            f"texts ({RESAMPLES:,} resamples) of this model's predictions. One run has one seed, so this interval "
            "covers the choice of test texts, not the run-to-run spread the benchmark reports as mean ± std over "
            "seeds. "
            f"Dev chose the round, so its score is optimistic; test was never used to decide anything.",
            "",
            f"| split | {metric} | 95% interval | seed-only student |",
            "|---|---|---|---|",
            *rows,
            "",
            *sections,
            "## Use",
            "",
            "```python",
            "from transformers import pipeline",
            f"classify = {pipeline_line}",
            "```",
            "",
            f"or `evokd predict {run.name} --input texts.txt --output predictions.jsonl`.",
            "",
            "## Intended use and limits",
            "",
            f"- Meant for text like `{dataset}`'s, with these {kind} only.",
            "- Trained mostly on text the teacher wrote or labelled: it inherits the teacher's mistakes and blind "
            "spots, and generated text is narrower than real text. Check it on your own labelled sample before relying "
            "on it.",
            f"- Texts are cut at {ctx.max_length} sub-tokens"
            + (f"; trained on `{language}` text only." if language else "; the data card names no language."),
            "- Not for decisions about people without human review.",
            "",
        ]
    )


def exports_block(model_dir: Path) -> list[str]:
    """The card's section on exported variants (empty until one is exported), between markers that
    `record_export` rewrites."""
    found = _json_list(model_dir / EXPORTS)
    if not found:
        return [EXPORTS_START, EXPORTS_END, ""]
    rows = [
        f"| `{e['folder']}` | {e['format']} | {e.get('quantization') or 'none (fp32)'} | "
        + " | ".join("–" if e["test"].get(k) is None else f"{e['test'][k]:.4f}" for k in ("score", "torch_score"))
        + f" | {'–' if e['test'].get('agreement') is None else format(e['test']['agreement'], '.2%')} |"
        for e in found
    ]
    return [
        EXPORTS_START,
        "## Exported variants",
        "",
        "Each `evokd export --format onnx` scores its model on the run's test split, the texts and metric of the "
        "table above, next to this PyTorch model's own score and the share of test predictions the two agree on.",
        "",
        "| folder | format | quantization | test score | PyTorch test score | agreement |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        EXPORTS_END,
        "",
    ]


def record_export(model_dir: Path, entry: dict[str, Any]) -> str:
    """Add (or replace, by folder) an exported variant in ``model/exports.json`` and the card; return the card."""
    found = [e for e in _json_list(model_dir / EXPORTS) if e["folder"] != entry["folder"]] + [entry]
    write_json(model_dir / EXPORTS, found)
    path = model_dir / "README.md"
    card = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = "\n".join(exports_block(model_dir))
    if EXPORTS_START in card and EXPORTS_END in card:
        head, rest = card.split(EXPORTS_START, 1)
        card = head + block + rest.split(EXPORTS_END, 1)[1].removeprefix("\n")
    else:
        card = f"{card.rstrip()}\n\n{block}" if card else block
    write_text(path, card)
    return card


def _json_list(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []
