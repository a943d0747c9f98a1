"""Read a labelled dataset folder into `Example`s, checked against each other.

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

This module reads the file formats; which formats and checks a task kind uses is its adapter's
choice (`evokd.tasks`, passed in as a `Format`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from evokd.data.bio import to_iob2
from evokd.data.formats import (
    VALIDATION,
    DataError,
    Row,
    csv_rows,
    decode,
    jsonl_rows,
    lines,
    parquet_rows,
    saved_rows,
    saved_splits,
)
from evokd.task import Example, Task

SPLITS = ("train", "dev", "test")
TAG_RE = re.compile(r"^(O|[BI]-\S+)$")

Record = tuple[int, Example]  # (line number, example): the line is kept for dev/test label errors


class Format(Protocol):
    """How one task kind's examples are stored (each `evokd.tasks` adapter is one)."""

    @property
    def kind(self) -> str: ...

    @property
    def label_noun(self) -> str: ...

    @property
    def extensions(self) -> tuple[str, ...]: ...

    def read_split(self, file: Path, text: str) -> list[Record]: ...

    def read_rows(self, file: Path, rows: list[Row]) -> list[Record]: ...

    def labels_in(self, ex: Example) -> set[str]: ...

    def check_label_set(self, labels: tuple[str, ...], file: Path) -> None: ...


@dataclass
class Dataset:
    """The three splits of one task, with the task's label set taken from train."""

    task: Task
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    source: str


def load_dataset(path: str | Path, fmt: Format) -> Dataset:
    """Read `path`/{train,dev,test}.<ext> in a task kind's format and check them against each other."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(
            f"{folder}: dataset folder not found; give a folder holding train, dev and test files ({_accepted(fmt)})"
        )
    saved = saved_splits(folder)
    files = {
        split: _find_split(folder, split, fmt) if saved is None else _saved_split(folder, saved, split)
        for split in SPLITS
    }
    records = {split: _read(file, fmt) for split, file in files.items()}
    labels = tuple(sorted(set().union(*(fmt.labels_in(ex) for _, ex in records["train"]))))
    fmt.check_label_set(labels, files["train"])
    for split in ("dev", "test"):
        _check_known(records[split], files[split], labels, fmt)
    train, dev, test = ([ex for _, ex in records[split]] for split in SPLITS)
    return Dataset(task=Task(fmt.kind, labels), train=train, dev=dev, test=test, source=str(folder))


def _accepted(fmt: Format) -> str:
    """The accepted file extensions of a format, for error messages."""
    return "accepted extensions: " + ", ".join(fmt.extensions)


def _find_split(folder: Path, split: str, fmt: Format) -> Path:
    """The one file holding `split`, whatever its accepted extension."""
    found = [folder / f"{split}{ext}" for ext in fmt.extensions if (folder / f"{split}{ext}").is_file()]
    if not found:
        raise DataError(f"{folder}: no {split} file; add {split}.<ext> ({_accepted(fmt)})")
    if len(found) > 1:
        raise DataError(f"{folder}: several {split} files ({', '.join(f.name for f in found)}); keep one")
    return found[0]


def _saved_split(folder: Path, saved: dict[str, Path], split: str) -> Path:
    """The folder of `split` in a `datasets` save (dev may be called validation there)."""
    for name in VALIDATION if split == "dev" else (split,):
        if name in saved:
            return saved[name]
    wanted = " or ".join(VALIDATION) if split == "dev" else split
    raise DataError(
        f"{folder}: the datasets folder has no {wanted} split (it has: {', '.join(saved) or 'none'}); "
        f"add it to the DatasetDict before save_to_disk"
    )


def _read(file: Path, fmt: Format) -> list[Record]:
    """Parse one split file (or a `datasets` split folder); an empty split is an error."""
    if file.is_dir() or file.suffix == ".parquet":
        records = fmt.read_rows(file, saved_rows(file) if file.is_dir() else parquet_rows(file))
    else:
        text = decode(file)
        records = fmt.read_split(file, text) if text.strip() else []
    if not records:
        raise DataError(f"{file}: no examples; add at least one")
    return records


def read_table(file: Path, rows: list[Row], keys: tuple[str, ...], make: Callable[..., Example]) -> list[Record]:
    """Rows (JSONL lines, Parquet or `datasets` rows) holding ``keys``; ``make(*values, where)`` builds each example."""
    records: list[Record] = []
    for n, obj in rows:
        where = f"{file}:{n}"
        missing = [key for key in keys if key not in obj]
        if missing:
            raise DataError(
                f"{where}: missing key {', '.join(repr(m) for m in missing)} (row has: {', '.join(obj) or 'none'}); "
                f"every row needs {' and '.join(repr(k) for k in keys)}"
            )
        records.append((n, make(*(obj[k] for k in keys), where)))
    return records


def read_jsonl(file: Path, text: str, keys: tuple[str, ...], make: Callable[..., Example]) -> list[Record]:
    """One JSON object per line holding ``keys``."""
    return read_table(file, jsonl_rows(file, text), keys, make)


def read_csv(file: Path, text: str) -> list[Record]:
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
        records.append((n, classification_example(row["text"], row["label"], where)))
    return records


def read_conll(file: Path, text: str) -> list[Record]:
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
                records.append((start, tagged_example(tokens, tags, f"{file}:{start}")))
                tokens, tags = [], []
            continue
        if fields[0] == "-DOCSTART-":
            continue
        if len(fields) < 2:
            raise DataError(
                f"{file}:{n}: malformed line {line.strip()!r}; expected a token and its tag "
                f"separated by a tab or spaces (a blank line between sentences)"
            )
        check_tags([fields[-1]], f"{file}:{n}")
        if not tokens:
            start = n
        tokens.append(fields[0])
        tags.append(fields[-1])
    return records


def check_tags(tags: Any, where: str) -> None:
    """Every tag is O, B-type or I-type."""
    if not isinstance(tags, list):
        raise DataError(f"{where}: 'tags' must be a list of strings; fix the line")
    for tag in tags:
        if not isinstance(tag, str) or not TAG_RE.match(tag):
            raise DataError(f"{where}: bad tag {tag!r}; tags must be O, B-<type> or I-<type> (IOB2)")


def classification_example(text: Any, label: Any, where: str) -> Example:
    """A checked {text, label} example; integer labels become strings, surrounding spaces are dropped."""
    if not isinstance(text, str):
        raise DataError(f"{where}: 'text' must be a string, got {type(text).__name__}; fix the line")
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)
    if not isinstance(label, str) or not label.strip():
        raise DataError(f"{where}: 'label' must be a non-empty string, got {label!r}; fix the line")
    return Example(text=text, label=label.strip())


def tagged_example(tokens: Any, tags: list[str], where: str) -> Example:
    """A checked {tokens, tags, text} example with IOB2 tags (the tags are checked by the caller)."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise DataError(f"{where}: 'tokens' must be a list of non-empty strings; fix the line")
    if not tokens:
        raise DataError(f"{where}: empty sentence; remove the line")
    if len(tokens) != len(tags):
        raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; give exactly one tag per token")
    return Example(text=" ".join(tokens), tokens=tokens, tags=to_iob2(tags))


def _check_known(records: list[Record], file: Path, labels: tuple[str, ...], fmt: Format) -> None:
    """Dev and test may only use labels that train has, or the student could never predict them."""
    for n, ex in records:
        unknown = sorted(fmt.labels_in(ex) - set(labels))
        if unknown:
            raise DataError(
                f"{file}:{n}: {fmt.label_noun} {unknown[0]!r} is not in train (train has: {', '.join(labels)}); "
                f"add train examples for it or remove the line"
            )
