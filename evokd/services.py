"""What a run uses besides its settings, built once per run from its `Context`.

The teacher clients, the dataset, the task description the teacher reads, the leak index and the task
adapter fitted to the run's training data and data card (NER: its tokenizer splits generated sentences like
the data, and its prompts explain each type as the card's ``label_descriptions`` do).
`Context` stays plain settings; nodes ask ``services(ctx)`` for these. The costly ones are cached per
process, keyed by the settings they depend on, so the first asker pays for building them and every
later node of the run reuses them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from evokd.data.pool import pool_values, unlabelled
from evokd.data.readers import Dataset
from evokd.data.registry import label_descriptions, resolve_data
from evokd.settings import Context, JsonMode, requested_model
from evokd.task import Example, TaskKind
from evokd.tasks import TaskAdapter, adapter_for, load_dataset
from evokd.teacher.client import ReplyCache, Teacher, chat_model
from evokd.text import LeakIndex, normalise


class Services:
    """One run's services (a light view over the per-process caches below)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def teacher_identity(self) -> str:
        """Who answers, as the reply cache knows it: the setting, else the endpoint and model name."""
        c = self.ctx
        url = c.teacher_url or os.environ.get("OPENAI_BASE_URL", "") or "openai"
        return c.teacher_id or f"{url}|{requested_model(c.teacher_model)}"

    def teacher(self, *, labelling: bool = False) -> Teacher:
        """The shared teacher client (labelling calls run at temperature 0)."""
        c = self.ctx
        return _teacher(
            c.teacher_url or os.environ.get("OPENAI_BASE_URL", ""),
            requested_model(c.teacher_model),
            0.0 if labelling else c.temperature,
            c.max_tokens,
            c.timeout,
            c.max_retries,
            c.json_mode,
            c.parse_attempts,
            c.concurrency,
            c.cache,
            self.teacher_identity,
        )

    @property
    def dataset(self) -> Dataset:
        """The run's data (train/dev/test), read once per process."""
        return read_dataset(self.ctx.data, self.ctx.task)

    @property
    def typical_words(self) -> int:
        """The median length in words of the training texts: how long a written text should be, from the data
        itself (a tweet runs to ~20 words, a news article to hundreds), never from wording about one dataset."""
        return _typical_words(self.ctx.data, self.ctx.task)

    @property
    def description(self) -> str:
        """One line telling the teacher what the task is: the setting, else the data card, else generic."""
        if self.ctx.task_description:
            return self.ctx.task_description
        card = Path(self.dataset.source) / "card.json"
        if card.exists():
            described = json.loads(card.read_text(encoding="utf-8")).get("task_description")
            if described:
                return str(described)
        return adapter_for(self.ctx.task).default_description

    def leak_index(self, seeds: Sequence[str]) -> LeakIndex:
        """Seed, dev and test texts, which generated text must not copy."""
        return _leak_index(self.ctx.data, self.ctx.task, tuple(seeds))

    def pool(self, seeds: Sequence[str]) -> list[Example]:
        """The pool's unlabelled items (``id``, ``text``, and what the kind's student reads), in file order:
        duplicates dropped, and never a seed, dev or test text (by normalised text); [] without ``--pool``."""
        return list(_pool(self.ctx.data, self.ctx.task, self.ctx.pool, tuple(seeds))) if self.ctx.pool else []

    @property
    def adapter(self) -> TaskAdapter:
        """The task kind's adapter, fitted to the run's training data and data card once per process."""
        return _adapter(self.ctx.data, self.ctx.task)


def services(ctx: Context) -> Services:
    """The services for these settings."""
    return Services(resolved(ctx))


def resolved(ctx: Context) -> Context:
    """The settings with the task kind read from the data (its card, else its files) when left empty."""
    return ctx if ctx.task else dataclasses.replace(ctx, task=data_kind(ctx.data))


@lru_cache(maxsize=4)
def data_kind(data: str) -> TaskKind:
    """The task kind of the data named by ``data`` (a folder or a bundled name)."""
    from evokd.data.registry import resolve_data, task_kind

    return task_kind(resolve_data(data))


@lru_cache(maxsize=8)
def _teacher(
    url: str,
    model: str,
    temperature: float,
    max_tokens: int,
    timeout: float,
    max_retries: int,
    json_mode: JsonMode,
    parse_attempts: int,
    concurrency: int,
    cache: str,
    identity: str,
) -> Teacher:
    chat = chat_model(
        url, model, temperature=temperature, max_tokens=max_tokens, timeout=timeout, max_retries=max_retries
    )
    # Who answers is part of every cached reply's key, so two teachers sharing a cache never swap replies:
    # the endpoint and model name, or for the local teacher its weights' sha256 (its port changes, its answers do not).
    return Teacher(
        chat,
        model_id=f"{identity}|{model}|{temperature}|{max_tokens}",
        json_mode=json_mode,
        parse_attempts=parse_attempts,
        concurrency=concurrency,
        cache=ReplyCache(cache) if cache else None,
    )


@lru_cache(maxsize=4)
def _typical_words(data: str, kind: TaskKind) -> int:
    """`Services.typical_words`, computed once per process."""
    return int(statistics.median(len(str(ex["text"]).split()) for ex in read_dataset(data, kind).train))


@lru_cache(maxsize=4)
def read_dataset(data: str, kind: TaskKind) -> Dataset:
    """The dataset named by ``data`` (a folder or a bundled name), read once per process."""
    return load_dataset(resolve_data(data), kind)


@lru_cache(maxsize=4)
def _leak_index(data: str, kind: TaskKind, seeds: tuple[str, ...]) -> LeakIndex:
    ds = read_dataset(data, kind)
    return LeakIndex([*seeds, *(e["text"] for e in ds.dev), *(e["text"] for e in ds.test)])


@lru_cache(maxsize=4)
def _pool(data: str, kind: TaskKind, pool: str, seeds: tuple[str, ...]) -> tuple[Example, ...]:
    # --pool train: the labels are stripped here, before anything else sees the split.
    values = unlabelled(read_dataset(data, kind).train) if pool == "train" else pool_values(pool)
    adapter, ds = _adapter(data, kind), read_dataset(data, kind)
    seen = {normalise(t) for t in (*seeds, *(e["text"] for e in ds.dev), *(e["text"] for e in ds.test))}
    items: list[Example] = []
    for item_id, value in values:
        item = adapter.pool_item(value)
        if (norm := normalise(item["text"])) and norm not in seen:
            seen.add(norm)
            items.append(Example(id=item_id, **item))
    return tuple(items)


@lru_cache(maxsize=4)
def _adapter(data: str, kind: TaskKind) -> TaskAdapter:
    ds = read_dataset(data, kind)
    return adapter_for(kind).fitted(ds.train, label_descriptions(Path(ds.source)))
