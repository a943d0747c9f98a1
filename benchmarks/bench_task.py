"""What the benchmark needs of a task kind beyond the loop's `TaskAdapter`: the baselines' and references' parts.

The loop never calls these, so a new task kind runs without them; a kind the benchmark compares methods
on gets a `BenchTask` here, wrapping the run's (fitted) adapter, and `bench_task` finds it by kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from evokd.data.bio import bio_spans
from evokd.data.formats import DataError
from evokd.schemas import Annotation
from evokd.settings import LabelStyle
from evokd.state import Sample
from evokd.task import Example, Task
from evokd.tasks.base import TaskAdapter
from evokd.tasks.classification import LABEL_WORDS
from evokd.tasks.ner import Ner, WhitespaceTokenizer, ask_entities, resolve
from evokd.teacher.client import Reply, Teacher
from evokd.text import bullet_list


class BenchTask(ABC):
    """One task kind's benchmark parts, around the adapter the run uses."""

    kind: ClassVar[str]
    """The task kind this serves (`TaskAdapter.kind`)."""
    metric_title: ClassVar[str]
    """The selection metric's name in the benchmark's tables ("macro-F1")."""
    label_words: ClassVar[int | None]
    """Words of each text the Critic's labelling call shows, for the teacher reference's note (None: whole texts)."""

    def __init__(self, adapter: TaskAdapter) -> None:
        self.adapter = adapter

    def show_written(self, texts: Sequence[str], label: str) -> str:
        """Texts already written for ``label``, as the rephrase baseline's avoid list."""
        return bullet_list(texts)

    @abstractmethod
    def source_label(self, task: Task, src: Example, rnd: int) -> str:
        """What a rewrite of ``src`` must keep (the rephrase baseline): its label, or one of the labels it holds."""

    @abstractmethod
    def reference_labels(
        self,
        teacher: Teacher,
        prompt: str,
        task: Task,
        description: str,
        examples: Sequence[Example],
        label_call: LabelStyle = "json",
    ) -> tuple[list, list[Reply], int]:
        """The teacher's own answers for existing examples with the Critic's call (the teacher reference), the
        one a run labels its texts with (``label_call``, where the kind has more than one): predictions in the
        student's form, the replies, and how many answers named nothing usable."""


class ClassificationBench(BenchTask):
    """Classification: a rewrite keeps its source's label; the reference is the Critic's own labelling call."""

    kind = "classification"
    metric_title = "macro-F1"
    label_words = LABEL_WORDS

    def show_written(self, texts: Sequence[str], label: str) -> str:
        """The texts shown as examples of ``label``."""
        return self.adapter.format_examples([{"text": t, "label": label} for t in texts])

    def source_label(self, task: Task, src: Example, rnd: int) -> str:
        """The source's label."""
        return src["label"]

    def reference_labels(
        self,
        teacher: Teacher,
        prompt: str,
        task: Task,
        description: str,
        examples: Sequence[Example],
        label_call: LabelStyle = "json",
    ) -> tuple[list, list[Reply], int]:
        """The Critic's label for each text, through the adapter's `label` with ``label_call`` (no requested
        label to agree with); an answer it rejects predicts "(none)"."""
        samples = [Sample(id=str(i), text=ex["text"]) for i, ex in enumerate(examples)]
        replies = self.adapter.label(teacher, prompt, task, description, samples, label_call=label_call)
        unusable = [s["verdict"] != "accepted" for s in samples]
        return (
            ["(none)" if bad else s["label"] for s, bad in zip(samples, unusable, strict=True)],
            replies,
            sum(unusable),
        )


class NerBench(BenchTask):
    """NER: a rewrite keeps one of its source's types; the reference tags the sentences' own tokens."""

    kind = "ner"
    metric_title = "span F1"
    label_words = None

    def __init__(self, adapter: TaskAdapter) -> None:
        if not isinstance(adapter, Ner):
            raise TypeError(f"NerBench wraps an NER adapter, not {type(adapter).__name__}")
        super().__init__(adapter)

    def source_label(self, task: Task, src: Example, rnd: int) -> str:
        """One of the source's entity types, a different one each round."""
        types = sorted({t for _, _, t in bio_spans(src["tags"])}) or list(task.labels)
        return types[rnd % len(types)]

    def reference_labels(
        self,
        teacher: Teacher,
        prompt: str,
        task: Task,
        description: str,
        examples: Sequence[Example],
        label_call: LabelStyle = "json",
    ) -> tuple[list, list[Reply], int]:
        """The Critic's mentions placed on each sentence's own tokens (whole sentences; NER has one call)."""
        tags, replies = tag_sentences(teacher, prompt, task, description, examples)
        return tags, list(replies), sum(r.parsed is None for r in replies)


def tag_sentences(
    teacher: Teacher,
    prompt: str,
    task: Task,
    description: str,
    examples: Sequence[Example],
) -> tuple[list[list[str]], list[Reply[Annotation]]]:
    """The teacher's own BIO tags for existing sentences: the Critic's call as a run makes it (the types by
    name), placed on the sentences' own tokens; mentions that fail a check are dropped rather than the whole
    sentence."""
    replies = ask_entities(teacher, prompt, task, description, [ex["text"] for ex in examples])
    return placed_tags(examples, replies, task.labels), replies


def placed_tags(
    examples: Sequence[Example], replies: Sequence[Reply[Annotation]], types: Sequence[str]
) -> list[list[str]]:
    """Each reply's mentions as BIO tags on its sentence's own tokens: the mentions that pass the checks,
    those that fail dropped (a sentence whose reply could not be read gets no entity)."""
    words = WhitespaceTokenizer()
    tags: list[list[str]] = []
    for ex, reply in zip(examples, replies, strict=True):
        text = " ".join(ex["tokens"])
        res = resolve(text, [e.model_dump() for e in reply.parsed.entities] if reply.parsed else [], types, words)
        if res.reason:  # keep the mentions that passed, as placed on a second try
            res = resolve(text, [e for e in res.entities if "error" not in e], types, words)
        tags.append(res.tags if not res.reason and len(res.tags) == len(ex["tokens"]) else ["O"] * len(ex["tokens"]))
    return tags


_BENCH_TASKS: dict[str, type[BenchTask]] = {b.kind: b for b in (ClassificationBench, NerBench)}


def bench_task(adapter: TaskAdapter) -> BenchTask:
    """The benchmark's parts for ``adapter``'s kind, around that adapter; a kind without them is a `DataError`."""
    if adapter.kind not in _BENCH_TASKS:
        raise DataError(f"the benchmark has no {adapter.kind!r} task kind; use one of: {', '.join(_BENCH_TASKS)}")
    return _BENCH_TASKS[adapter.kind](adapter)
