"""Label new texts with a saved student: class probabilities, or entity spans with character offsets.

The student is read back from its own ``config.json`` (head type and ``id2label``), so a run folder
or a bare model folder is enough. Predictions go through `student.train.probabilities`, the path the
run used to score dev and test. NER words are the tokenizer's own pre-tokenization of the raw text,
each with its character offsets, and a word's tag is read from its first sub-token: the same words,
tags and spans as ``transformers.pipeline("token-classification", aggregation_strategy="first")``.
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

from evokd.data.formats import DataError, column, read_rows
from evokd.data.readers import to_iob2
from evokd.student import model as student_model
from evokd.student.model import Student, StudentError
from evokd.student.train import probabilities
from evokd.task import Example, Task
from evokd.tasks.ner import bio_spans

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
    """The task a saved student's head was built for, read from its config.json."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    head = " ".join(config.get("architectures") or [])
    names = [label for _, label in sorted((int(i), label) for i, label in (config.get("id2label") or {}).items())]
    if head.endswith("ForSequenceClassification"):
        return Task("classification", tuple(names))
    if head.endswith("ForTokenClassification"):
        task = Task("ner", tuple(dict.fromkeys(tag[2:] for tag in names if tag != "O")))
        if list(task.tag_names) != names:
            raise StudentError(f"{folder}: tags {', '.join(names)} are not in evokd's order (O, B-x, I-x, ...); "
                               f"give a model saved by evokd")
        return task
    raise StudentError(f"{folder}: a model without a classification head ({head or 'no architectures'}); "
                       f"give a run folder or a model saved by 'evokd run'")


def load_student(path: str | Path, device: str | None = None) -> Student:
    """A saved student with the task its head was trained for."""
    folder = model_folder(path)
    return student_model.load(folder, saved_task(folder), device=device)


def words(student: Student, text: str) -> list[tuple[str, int, int]]:
    """The words of a raw text as the student's tokenizer splits them, with (start, end) character offsets."""
    pre = student.tokenizer.backend_tokenizer.pre_tokenizer
    if pre is not None:
        return [(w, start, end) for w, (start, end) in pre.pre_tokenize_str(text)]
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def predict_texts(student: Student, texts: list[str], batch_size: int = 64, max_length: int = 128) -> list[dict]:
    """One prediction per text: label, score and every label's probability; for NER, the entity spans."""
    task, names = student.task, student.task.tag_names
    if not task.is_ner:
        rows = probabilities(student, [Example(text=t) for t in texts], batch_size, max_length)
        out = []
        for text, p in zip(texts, rows, strict=True):
            best = int(p.argmax())
            out.append({"text": text, "label": names[best], "score": round(float(p[best]), 6),
                        "probabilities": {name: round(float(v), 6) for name, v in zip(names, p.tolist())}})
        return out
    split = [words(student, t) for t in texts]
    rows = probabilities(student, [Example(tokens=[w for w, _, _ in ws]) for ws in split], batch_size, max_length)
    out = []
    for text, ws, p in zip(texts, split, rows, strict=True):
        best = p.max(-1)
        tags = [names[i] for i in best.indices.tolist()]
        entities = [{"text": text[ws[first][1]:ws[last - 1][2]], "type": etype, "start": ws[first][1],
                     "end": ws[last - 1][2], "score": round(float(best.values[first:last].mean()), 6)}
                    for first, last, etype in bio_spans(to_iob2(tags))]
        out.append({"text": text, "entities": entities})
    return out


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
        raise DataError(f"--output {output}: unknown format {Path(output).suffix or '(none)'}; "
                        f"end the name with {' or '.join(OUTPUT_SUFFIXES)}")


def write_predictions(predictions: list[dict], output: str | Path | None) -> None:
    """JSONL (to stdout when ``output`` is None) or CSV (NER entities as a JSON list in one column)."""
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


def predict_file(model: str | Path, input_path: str | Path, output: str | Path | None, text_column: str = "text",
                 batch_size: int = 64, max_length: int = 128, device: str | None = None,
                 progress: Progress | None = None) -> dict[str, object]:
    """Label every text of ``input_path`` and write the predictions; return the counts and the speed.

    ``seconds`` and ``texts_per_s`` time the prediction alone (tokenising and the forward passes);
    loading the model is timed separately, as it is paid once however many texts follow.
    """
    check_output(output)
    texts = read_texts(input_path, text_column)
    started = time.perf_counter()
    student = load_student(model, device)
    loaded = time.perf_counter()
    predictions: list[dict] = []
    chunk = batch_size * 4  # a progress step every few batches; length-sorting works within a chunk
    for start in range(0, len(texts), chunk):
        predictions += predict_texts(student, texts[start:start + chunk], batch_size, max_length)
        if progress is not None:
            progress(len(predictions), len(texts))
    seconds = time.perf_counter() - loaded
    write_predictions(predictions, output)
    return {"texts": len(texts), "seconds": round(seconds, 3), "texts_per_s": round(len(texts) / seconds, 1),
            "load_seconds": round(loaded - started, 3), "task": student.task.kind, "batch_size": batch_size,
            "max_length": max_length, "device": str(student.device)}


def _flat(prediction: dict) -> dict[str, object]:
    """A CSV row: probabilities as ``p_<label>`` columns, NER entities as a JSON list."""
    row = {k: v for k, v in prediction.items() if k not in ("probabilities", "entities")}
    row.update({f"p_{label}": p for label, p in prediction.get("probabilities", {}).items()})
    if "entities" in prediction:
        row["entities"] = json.dumps(prediction["entities"], ensure_ascii=False)
    return row
