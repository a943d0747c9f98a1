"""Read a labelled dataset folder into `Example`s and draw k-shot subsets from it.

A dataset folder holds one ``train``, one ``dev`` and one ``test`` file:

- classification: ``.jsonl`` lines ``{"text": ..., "label": ...}`` or ``.csv`` with a header naming
  ``text`` and ``label`` columns (other columns are ignored; integer JSON labels become strings);
- NER: ``.conll``/``.txt`` with a token and its tag per line (whitespace or tab; with more than two
  columns, as in CoNLL-2003, the first is the token and the last the tag; ``-DOCSTART-`` lines are
  skipped), a blank line between sentences; or ``.jsonl`` lines ``{"tokens": [...], "tags": [...]}``;
- either kind: ``.parquet`` files with those columns, or instead of files a folder saved by `datasets`
  (``DatasetDict.save_to_disk``) whose splits are train, dev (or validation) and test.

NER tags are stored as IOB2. IOB1 files, and files whose spans start with ``I-``, are converted on
reading: an ``I-X`` that does not continue an ``X`` span becomes ``B-X``. The label set (class
names, or entity types for NER) is taken from train, sorted; dev and test may not add labels.

Every problem raises `DataError` with a one-line message naming the file, the line where there is
one, and the fix, because the message is all a CLI user sees.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evokd.data.formats import (
    VALIDATION, DataError, Row, csv_rows, decode, jsonl_rows, lines, parquet_rows, saved_rows, saved_splits,
)
from evokd.task import Example, Task, TaskKind

SPLITS = ("train", "dev", "test")
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "classification": (".jsonl", ".csv", ".parquet"),
    "ner": (".conll", ".txt", ".jsonl", ".parquet"),
}
TAG_RE = re.compile(r"^(O|[BI]-\S+)$")

Record = tuple[int, Example]  # (line number, example): the line is kept for dev/test label errors


@dataclass
class Dataset:
    """The three splits of one task, with the task's label set taken from train."""

    task: Task
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    source: str


def load_dataset(path: str | Path, kind: TaskKind) -> Dataset:
    """Read `path`/{train,dev,test}.<ext> for a task of `kind` and check them against each other."""
    if kind not in EXTENSIONS:
        raise DataError(f"unknown task kind {kind!r}; use one of: {', '.join(EXTENSIONS)}")
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(
            f"{folder}: dataset folder not found; give a folder holding train, dev and test files "
            f"({_accepted(kind)})"
        )
    saved = saved_splits(folder)
    files = {split: _find_split(folder, split, kind) if saved is None else _saved_split(folder, saved, split)
             for split in SPLITS}
    records = {split: _read(file, kind) for split, file in files.items()}
    labels = _train_labels(records["train"], files["train"], kind)
    for split in ("dev", "test"):
        _check_known(records[split], files[split], labels)
    train, dev, test = ([ex for _, ex in records[split]] for split in SPLITS)
    return Dataset(task=Task(kind, labels), train=train, dev=dev, test=test, source=str(folder))


def sample_shots(train: list[Example], task: Task, k: int, seed: int) -> list[Example]:
    """Pick k examples per label (k sentences per entity type for NER), reproducibly from `seed`."""
    if k < 1:
        raise DataError(f"--shots must be at least 1, got {k}")
    rng = random.Random(seed)
    picked: list[Example] = []
    if not task.is_ner:
        for label in task.labels:
            pool = [ex for ex in train if ex["label"] == label]
            if len(pool) < k:
                raise _too_few(f"label {label!r}", len(pool), "training examples", k)
            picked += rng.sample(pool, k)
        return picked
    # Greedy over types in order: each type gets k sentences of its own that no earlier type took,
    # so every type is guaranteed k sentences and no sentence is counted for two types.
    taken: set[int] = set()
    for etype in task.labels:
        pool = [i for i, ex in enumerate(train) if i not in taken and etype in entity_types(ex["tags"])]
        if len(pool) < k:
            raise _too_few(f"entity type {etype!r}", len(pool), "training sentences not already picked", k)
        for i in rng.sample(pool, k):
            taken.add(i)
            picked.append(train[i])
    return picked


def to_iob2(tags: list[str]) -> list[str]:
    """Rewrite IOB1 / bare ``I-`` starts as IOB2: an I-X that does not continue an X span becomes B-X."""
    out: list[str] = []
    for tag in tags:
        prev = out[-1] if out else "O"
        # "O"[2:] is "", never a type, so an I- after O always starts a span.
        out.append("B-" + tag[2:] if tag.startswith("I-") and prev[2:] != tag[2:] else tag)
    return out


def entity_types(tags: list[str]) -> set[str]:
    """The entity types that occur in one sentence's tags."""
    return {tag[2:] for tag in tags if tag != "O"}


def _accepted(kind: str) -> str:
    """The accepted file extensions for `kind`, for error messages."""
    return "accepted extensions: " + ", ".join(EXTENSIONS[kind])


def _too_few(subject: str, have: int, unit: str, k: int) -> DataError:
    """The error for a label that cannot supply k shots."""
    return DataError(f"{subject} has only {have} {unit}, fewer than --shots {k}; lower --shots")


def _find_split(folder: Path, split: str, kind: str) -> Path:
    """The one file holding `split`, whatever its accepted extension."""
    found = [folder / f"{split}{ext}" for ext in EXTENSIONS[kind] if (folder / f"{split}{ext}").is_file()]
    if not found:
        raise DataError(f"{folder}: no {split} file; add {split}.<ext> ({_accepted(kind)})")
    if len(found) > 1:
        raise DataError(f"{folder}: several {split} files ({', '.join(f.name for f in found)}); keep one")
    return found[0]


def _saved_split(folder: Path, saved: dict[str, Path], split: str) -> Path:
    """The folder of `split` in a `datasets` save (dev may be called validation there)."""
    for name in VALIDATION if split == "dev" else (split,):
        if name in saved:
            return saved[name]
    wanted = " or ".join(VALIDATION) if split == "dev" else split
    raise DataError(f"{folder}: the datasets folder has no {wanted} split (it has: {', '.join(saved) or 'none'}); "
                    f"add it to the DatasetDict before save_to_disk")


def _read(file: Path, kind: str) -> list[Record]:
    """Decode and parse one split file (or a `datasets` split folder); an empty split is an error."""
    if file.is_dir() or file.suffix == ".parquet":
        records = _read_table(file, saved_rows(file) if file.is_dir() else parquet_rows(file), kind)
    else:
        text = decode(file)
        parse = _read_csv if file.suffix == ".csv" else _read_jsonl if file.suffix == ".jsonl" else _read_conll
        records = parse(file, text, kind) if text.strip() else []
    if not records:
        raise DataError(f"{file}: no examples; add at least one")
    return records


def _read_jsonl(file: Path, text: str, kind: str) -> list[Record]:
    """One JSON object per line: {text, label} or {tokens, tags}."""
    return _read_table(file, jsonl_rows(file, text), kind)


def _read_table(file: Path, rows: list[Row], kind: str) -> list[Record]:
    """Rows with the kind's columns ({text, label} or {tokens, tags}), each checked."""
    keys = ("tokens", "tags") if kind == "ner" else ("text", "label")
    records: list[Record] = []
    for n, obj in rows:
        where = f"{file}:{n}"
        missing = [key for key in keys if key not in obj]
        if missing:
            raise DataError(
                f"{where}: missing key {', '.join(repr(m) for m in missing)} (row has: {', '.join(obj) or 'none'}); "
                f"every row needs {' and '.join(repr(k) for k in keys)}"
            )
        if kind == "ner":
            _check_tags(obj["tags"], where)
            records.append((n, _ner_example(obj["tokens"], obj["tags"], where)))
        else:
            records.append((n, _classification_example(obj["text"], obj["label"], where)))
    return records


def _read_csv(file: Path, text: str, kind: str) -> list[Record]:
    """A CSV file with a header naming text and label columns."""
    columns, rows = csv_rows(file, text)
    missing = [c for c in ("text", "label") if c not in columns]
    if missing:
        raise DataError(
            f"{file}:1: missing CSV column {', '.join(repr(m) for m in missing)} (header has: "
            f"{', '.join(columns)}); the first line must name the text and label columns"
        )
    records: list[Record] = []
    for n, row in rows:
        where = f"{file}:{n}"
        if row["text"] is None or row["label"] is None:
            raise DataError(f"{where}: too few fields; every row needs a text and a label")
        records.append((n, _classification_example(row["text"], row["label"], where)))
    return records


def _read_conll(file: Path, text: str, kind: str) -> list[Record]:
    """Token and tag per line, a blank line between sentences; a sentence's record is its first line."""
    records: list[Record] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    # A trailing "" line flushes the last sentence when the file does not end with a blank line.
    for n, line in enumerate([*lines(text), ""], 1):
        fields = line.split()
        if not fields:
            if tokens:
                records.append((start, _ner_example(tokens, tags, f"{file}:{start}")))
                tokens, tags = [], []
            continue
        if fields[0] == "-DOCSTART-":
            continue
        if len(fields) < 2:
            raise DataError(
                f"{file}:{n}: malformed line {line.strip()!r}; expected a token and its tag "
                f"separated by a tab or spaces (a blank line between sentences)"
            )
        _check_tags([fields[-1]], f"{file}:{n}")
        if not tokens:
            start = n
        tokens.append(fields[0])
        tags.append(fields[-1])
    return records


def _check_tags(tags: Any, where: str) -> None:
    """Every tag is O, B-type or I-type."""
    if not isinstance(tags, list):
        raise DataError(f"{where}: 'tags' must be a list of strings; fix the line")
    for tag in tags:
        if not isinstance(tag, str) or not TAG_RE.match(tag):
            raise DataError(f"{where}: bad tag {tag!r}; tags must be O, B-<type> or I-<type> (IOB2)")


def _classification_example(text: Any, label: Any, where: str) -> Example:
    """A checked {text, label} example; integer labels become strings, surrounding spaces are dropped."""
    if not isinstance(text, str):
        raise DataError(f"{where}: 'text' must be a string, got {type(text).__name__}; fix the line")
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)
    if not isinstance(label, str) or not label.strip():
        raise DataError(f"{where}: 'label' must be a non-empty string, got {label!r}; fix the line")
    return Example(text=text, label=label.strip())


def _ner_example(tokens: Any, tags: list[str], where: str) -> Example:
    """A checked {tokens, tags, text} example with IOB2 tags."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise DataError(f"{where}: 'tokens' must be a list of non-empty strings; fix the line")
    if not tokens:
        raise DataError(f"{where}: empty sentence; remove the line")
    if len(tokens) != len(tags):
        raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; give exactly one tag per token")
    return Example(text=" ".join(tokens), tokens=tokens, tags=to_iob2(tags))


def _train_labels(records: list[Record], file: Path, kind: str) -> tuple[str, ...]:
    """The sorted label set of train: class names, or entity types for NER."""
    if kind == "ner":
        types = sorted(set().union(*(entity_types(ex["tags"]) for _, ex in records)))
        if not types:
            raise DataError(f"{file}: no entities in train; tag at least one span with B-<type>")
        return tuple(types)
    labels = sorted({ex["label"] for _, ex in records})
    if len(labels) < 2:
        raise DataError(f"{file}: only one class ({labels[0]!r}) in train; a classifier needs at least two labels")
    return tuple(labels)


def _check_known(records: list[Record], file: Path, labels: tuple[str, ...]) -> None:
    """Dev and test may only use labels that train has, or the student could never predict them."""
    for n, ex in records:
        noun, used = ("entity type", entity_types(ex["tags"])) if "tags" in ex else ("label", {ex["label"]})
        unknown = sorted(used - set(labels))
        if unknown:
            raise DataError(
                f"{file}:{n}: {noun} {unknown[0]!r} is not in train (train has: {', '.join(labels)}); "
                f"add train examples for it or remove the line"
            )
