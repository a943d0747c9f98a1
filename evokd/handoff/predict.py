"""Label new texts with a saved student: class probabilities, or entity spans with character offsets.

The student is read back from its own ``config.json`` (head type and ``id2label``), so a run folder
or a bare model folder is enough; the task adapter that builds that head (`evokd.tasks.task_for`)
says which task it serves and writes each prediction (`TaskAdapter.output_row`). Predictions go
through `student.train.probabilities`, the path the run used to score dev and test, on either backend:
eager PyTorch, or an ONNX export run by ONNX Runtime (`evokd.handoff.onnx`). Scores and probabilities
are temperature-scaled when the model carries a calibration (`evokd.handoff.calibration`); labels
never change with it. A per-token
head (NER) reads the words of the tokenizer's own pre-tokenization of the raw text, each with its
character offsets, and a word's tag is read from its first sub-token: the same words, tags and
spans as ``transformers.pipeline("token-classification", aggregation_strategy="first")``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from evokd.data.formats import DataError, column, read_rows
from evokd.handoff import BACKENDS, onnx
from evokd.handoff.calibration import temperature
from evokd.paths import data_dir
from evokd.records import read_json
from evokd.student import model as student_model
from evokd.student.calibration import scale
from evokd.student.model import Student, StudentError
from evokd.student.train import probabilities
from evokd.task import Example, Task
from evokd.tasks import adapter_for, kinds, task_for

OUTPUT_SUFFIXES = (".jsonl", ".csv")
WORD_RE = re.compile(r"\w+|[^\w\s]")  # words and single punctuation marks, for a tokenizer with no pre-tokenizer
Progress = Callable[[int, int], None]  # (texts done, texts in all)


def model_folder(path: str | Path) -> Path:
    """The student folder of a run folder (``RUN/model``), or a model folder as given."""
    path = Path(path)
    for folder in (path / "model", path):
        if (folder / "config.json").is_file():
            return folder
    raise StudentError(f"{path}: no model here; give a run folder (with model/) or a model folder with config.json")


def saved_task(folder: Path) -> Task:
    """The task a saved student's head was built for, read from its config.json (head type and ``id2label``)."""
    head = student_model.saved_head(folder)
    task = task_for(head)
    if task is None:
        raise StudentError(
            f"{folder}: its classes ({', '.join(head.names)}) are no head evokd builds for a task "
            f"({', '.join(kinds())}), e.g. tags out of evokd's order; give a model saved by evokd"
        )
    return task


def load_student(path: str | Path, device: str | None = None) -> tuple[Student, Task]:
    """A saved student with the task its head was trained for."""
    folder = model_folder(path)
    task = saved_task(folder)
    return student_model.load(folder, adapter_for(task).head(task), device=device), task


def resolve(path: str | Path, backend: str = "auto") -> tuple[str, Path]:
    """The backend to run and the folder to load: an export folder runs on ONNX; a run folder on its ONNX
    export (``export-onnx``, else ``export-onnx-int8``) when asked, or by default when it has one and
    onnxruntime is installed; otherwise on PyTorch."""
    path = Path(path)
    if backend not in BACKENDS:
        raise DataError(f"unknown --backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if backend == "onnx":
        onnx.runtime()
    if onnx.is_export(path):
        if backend == "torch":
            raise StudentError(f"{path}: an ONNX export; give the run or model folder for --backend torch")
        return "onnx", path
    exports = [f for f in (path / "export-onnx", path / "export-onnx-int8") if onnx.is_export(f)]
    if backend == "onnx" and not exports:
        raise StudentError(f"{path}: no ONNX export here; write one with: evokd export {path} --format onnx")
    if exports and (backend == "onnx" or (backend == "auto" and onnx.available())):
        return "onnx", exports[0]
    return "torch", model_folder(path)


def load_for(
    path: str | Path, backend: str = "auto", device: str | None = None, threads: int | None = None
) -> tuple[Student, Task, float]:
    """The student `resolve` picks, its task, and the temperature its calibration keeps; ``threads`` sets ONNX
    Runtime's intra-op threads (torch's are the process's own, `torch.set_num_threads`)."""
    kind, folder = resolve(path, backend)
    if kind == "torch":
        student, task = load_student(folder, device)
    else:
        task = saved_task(folder)
        student = onnx.load(folder, adapter_for(task).head(task), threads)
    return student, task, temperature(folder)


def run_max_length(path: str | Path) -> int:
    """The training ``max_length`` of a run folder (``run.json``) or of an export's run, else 128."""
    path = Path(path)
    if (path / "run.json").is_file():
        return int(json.loads((path / "run.json").read_text(encoding="utf-8")).get("max_length", 128))
    if onnx.is_export(path):
        return int(json.loads((path / onnx.MANIFEST).read_text(encoding="utf-8")).get("max_length", 128))
    return 128


def run_data(run: Path) -> Path | None:
    """The dataset folder a run read (``run.json``'s ``data``: a folder, or a bundled name under the data home),
    or None where it is not on this machine (nothing is fetched)."""
    data = read_json(run / "run.json").get("data")
    if not data:
        return None
    where = Path(str(data))
    where = where if where.name and where.exists() else data_dir() / where.name
    return where if where.is_dir() else None


def words(student: Student, text: str) -> list[tuple[str, int, int]]:
    """The words of a raw text as the student's tokenizer splits them, with (start, end) character offsets."""
    pre = student.tokenizer.backend_tokenizer.pre_tokenizer
    if pre is not None:
        return [(w, start, end) for w, (start, end) in pre.pre_tokenize_str(text)]
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def predict_texts(
    student: Student,
    task: Task,
    texts: list[str],
    batch_size: int = 64,
    max_length: int = 128,
    proba: bool = False,
    temperature: float = 1.0,
) -> list[dict[str, Any]]:
    """One prediction per text, as the task's adapter writes it (`TaskAdapter.output_row`), scaled by
    ``temperature``. With ``proba`` every label's probability too: per text, or per word for a per-token head.

    A per-token head reads the text as the words of the student's own tokenizer, each with its offsets."""
    if student.head.per_token:
        split = [words(student, t) for t in texts]
        examples = [Example(tokens=[w for w, _, _ in ws]) for ws in split]
    else:
        split = [[] for _ in texts]
        examples = [Example(text=t) for t in texts]
    adapter = adapter_for(task)
    rows = [scale(p, temperature) for p in probabilities(student, examples, batch_size, max_length)]
    out = []
    for text, ws, p in zip(texts, split, rows, strict=True):
        row = adapter.output_row(task, text, p, [(start, end) for _, start, end in ws])
        if not proba:
            row.pop("probabilities", None)
        elif student.head.per_token:
            row["words"] = [
                {"text": w, "start": start, "end": end, "probabilities": _named(student, word)}
                for (w, start, end), word in zip(ws, p, strict=True)
            ]
        out.append(row)
    return out


def predict(
    model: str | Path,
    texts: list[str],
    proba: bool = False,
    backend: str = "auto",
    batch_size: int = 64,
    max_length: int | None = None,
    device: str | None = None,
) -> list[dict[str, Any]]:
    """Label ``texts`` with a run's student (a run, model or ONNX export folder): the rows `evokd predict` writes.

    ``proba`` adds every label's probability; ``backend`` is "torch", "onnx" or "auto" (`resolve`);
    ``max_length`` defaults to the run's."""
    student, task, t = load_for(model, backend, device)
    return predict_texts(student, task, texts, batch_size, max_length or run_max_length(model), proba, t)


def _named(student: Student, scores: torch.Tensor) -> dict[str, float]:
    """A probability row as {class name: probability}."""
    return {name: round(float(v), 6) for name, v in zip(student.head.names, scores.tolist(), strict=True)}


def read_texts(path: str | Path, text_column: str = "text") -> list[str]:
    """The texts of an input file (text lines, JSONL, CSV, Parquet or a datasets folder)."""
    rows = read_rows(path)
    if not rows:
        raise DataError(f"{path}: no texts; add at least one")
    column(rows, text_column, path, "name the column holding the texts with --text-column")
    for n, row in rows:
        if not isinstance(row[text_column], str):
            raise DataError(f"{path}:{n}: {text_column!r} must be a string, got {type(row[text_column]).__name__}")
    return [row[text_column] for _, row in rows]


def check_output(output: str | Path | None) -> None:
    """Fail before any work when the output's format is unknown."""
    if output is not None and Path(output).suffix not in OUTPUT_SUFFIXES:
        raise DataError(
            f"--output {output}: unknown format {Path(output).suffix or '(none)'}; "
            f"end the name with {' or '.join(OUTPUT_SUFFIXES)}"
        )


def write_predictions(predictions: list[dict[str, Any]], output: str | Path | None) -> None:
    """JSONL (to stdout when ``output`` is None) or CSV (lists such as NER entities as JSON in one column)."""
    if output is None or Path(output).suffix == ".jsonl":
        text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions)
    else:
        buffer = io.StringIO()
        flat = [_flat(p) for p in predictions]
        writer = csv.DictWriter(buffer, fieldnames=list(flat[0]) if flat else ["text"])
        writer.writeheader()
        writer.writerows(flat)
        text = buffer.getvalue()
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")


def predict_file(
    model: str | Path,
    input_path: str | Path,
    output: str | Path | None,
    text_column: str = "text",
    batch_size: int = 64,
    max_length: int = 128,
    device: str | None = None,
    progress: Progress | None = None,
    backend: str = "auto",
    proba: bool = False,
) -> dict[str, object]:
    """Label every text of ``input_path`` and write the predictions; return the counts, the backend and the speed.

    ``seconds`` and ``texts_per_s`` time the prediction alone (tokenising and the forward passes);
    loading the model is timed separately, as it is paid once however many texts follow.
    """
    check_output(output)
    texts = read_texts(input_path, text_column)
    started = time.perf_counter()
    student, task, t = load_for(model, backend, device)
    loaded = time.perf_counter()
    predictions: list[dict[str, Any]] = []
    chunk = batch_size * 4  # a progress step every few batches; length-sorting works within a chunk
    for start in range(0, len(texts), chunk):
        predictions += predict_texts(student, task, texts[start : start + chunk], batch_size, max_length, proba, t)
        if progress is not None:
            progress(len(predictions), len(texts))
    seconds = time.perf_counter() - loaded
    write_predictions(predictions, output)
    return {
        "texts": len(texts),
        "seconds": round(seconds, 3),
        "texts_per_s": round(len(texts) / seconds, 1),
        "load_seconds": round(loaded - started, 3),
        "task": task.kind,
        "batch_size": batch_size,
        "max_length": max_length,
        "device": str(student.device),
        "backend": "onnx" if isinstance(student.model, onnx.OnnxModel) else "torch",
        "temperature": t,
    }


def _flat(prediction: dict[str, Any]) -> dict[str, object]:
    """A CSV row: ``probabilities`` as ``p_<label>`` columns, lists and other nested values as JSON text."""
    row = {
        k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
        for k, v in prediction.items()
        if k != "probabilities"
    }
    row.update({f"p_{label}": p for label, p in prediction.get("probabilities", {}).items()})
    return row
