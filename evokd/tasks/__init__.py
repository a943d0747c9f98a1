"""Task adapters: one per task kind, and the registry that names them.

Everything that differs between task kinds sits behind `TaskAdapter` (`evokd.tasks.base`); the rest
of evokd looks the adapter up here and never branches on the kind. The registered kinds are the
kinds there are: ``--task`` choices, data-card kinds and prompt folders (``prompts/<kind>/``) follow
`kinds()`. A new kind is one adapter module, its prompt folder and one `register` line below.

The functions after the registry are the common calls, each a lookup plus one adapter method.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evokd.data import readers
from evokd.data.formats import DataError, Row
from evokd.data.readers import Dataset
from evokd.student.model import Head
from evokd.task import Example, Task
from evokd.tasks.base import TaskAdapter
from evokd.tasks.classification import Classification
from evokd.tasks.ner import Ner

_ADAPTERS: dict[str, TaskAdapter] = {}


def register(adapter: TaskAdapter) -> TaskAdapter:
    """Make ``adapter`` the one for its kind."""
    _ADAPTERS[adapter.kind] = adapter
    return adapter


register(Classification())
register(Ner())


def kinds() -> tuple[str, ...]:
    """The registered task kinds, in registration order."""
    return tuple(_ADAPTERS)


def adapter_for(kind_or_task: str | Task) -> TaskAdapter:
    """The adapter of a kind (or of a task's kind); an unknown kind is a `DataError` listing the known ones."""
    kind = kind_or_task.kind if isinstance(kind_or_task, Task) else kind_or_task
    if kind not in _ADAPTERS:
        raise DataError(f"unknown task kind {kind!r}; use one of: {', '.join(_ADAPTERS)}")
    return _ADAPTERS[kind]


def load_dataset(path: str | Path, kind: str) -> Dataset:
    """Read a dataset folder of a task kind (`evokd.data.readers.load_dataset` in that kind's format)."""
    return readers.load_dataset(path, adapter_for(kind))


def sample_shots(train: list[Example], task: Task, k: int, seed: int) -> list[Example]:
    """The k-shot seeds: k examples per label, reproducibly from ``seed``."""
    return adapter_for(task).sample_shots(train, task, k, seed)


def head_for(task: Task) -> Head:
    """The student's output layer for ``task``."""
    return adapter_for(task).head(task)


def task_for(head: Head) -> Task | None:
    """The task a saved student's head serves: the first registered kind that builds that head; None if none does."""
    return next((task for adapter in _ADAPTERS.values() if (task := adapter.task_for(head)) is not None), None)


def kind_of(rows: list[Row], where: Path) -> str:
    """The first registered kind whose reader accepts ``rows`` (a run's seeds, say); a `DataError` if none does."""
    for kind, adapter in _ADAPTERS.items():
        try:
            adapter.read_rows(where, rows)
        except DataError:
            continue
        return kind
    raise DataError(
        f"{where}: the rows are examples of no task kind ({', '.join(_ADAPTERS)}); give a file written by 'evokd run'"
    )


def evaluate(task: Task, gold: Sequence[Example], predicted: list[Any]) -> dict[str, Any]:
    """Scores of predictions on ``gold`` examples; ``score`` is the task's selection metric."""
    return adapter_for(task).evaluate(task, gold, predicted)


__all__ = [
    "TaskAdapter",
    "adapter_for",
    "evaluate",
    "head_for",
    "kind_of",
    "kinds",
    "load_dataset",
    "register",
    "sample_shots",
    "task_for",
]
