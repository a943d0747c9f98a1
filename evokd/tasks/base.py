"""The interface every task kind implements: one adapter holds everything that differs between kinds.

The rest of evokd never asks which kind a task is; it asks the task's adapter (`adapter_for`). An
adapter reads the kind's data files, shows feedback, seeds and labels to the teacher, makes the
Critic's labelling call and turns its reply into an accepted or rejected sample, maps examples onto
the student's head, and scores predictions. An example is a plain dict that only its adapter reads
(classification: ``text``/``label``; NER: ``tokens``/``tags``/``text``; relation extraction could add
``head``/``tail``/``relation``); every example has a ``text``, which the Critic screens and the
leak index compares.

Adapters hold no labels: a method that needs the label set takes the `Task`. The one kind of state
an adapter may hold is what it fits to a run's data once (`fitted`): NER's tokenizer, the card's meanings
of the labels.

What a user takes away (`evokd.handoff`: predict, the model card, export) asks the adapter too: which
task a saved student's head serves, how a prediction is written out, how the card names and resamples
the scores, and what an exported training row holds.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from evokd.data.formats import DataError, Row
from evokd.data.readers import Record
from evokd.settings import LabelStyle
from evokd.state import Prediction, Sample
from evokd.student.model import Head
from evokd.task import Example, Task
from evokd.teacher.client import Reply, Teacher

if TYPE_CHECKING:
    import numpy as np
    import torch


class HubMetric(NamedTuple):
    """One test score as a model card's Hub metadata (``model-index``) lists it."""

    type: str
    """The Hub's metric id ("f1", "accuracy")."""
    key: str
    """Its key in `TaskAdapter.scores`' result."""
    name: str
    """Its name on the card ("macro-F1")."""
    average: str | None = None
    """How per-label scores are averaged into it ("macro"), for the Hub's metric arguments; None if not."""


class LabelCall(NamedTuple):
    """How the Critic's labelling step asks the teacher (`TaskAdapter.label`'s arguments besides the samples)."""

    teacher: Teacher
    prompt: str
    """The Critic's prompt template."""
    task: Task
    description: str
    """The one-line task description the prompt shows."""
    logprobs: bool = False
    """Whether to ask for log-probabilities and record the label's probability as ``teacher_confidence``."""
    per_call: int = 1
    """Texts one call carries (more than 1 only where the kind `batches_labels`)."""
    style: LabelStyle = "json"
    """The call: "json" (the Critic's prompt, a JSON reply) or "label-only" (the label alone, where the kind has it)."""
    mask: bool = False
    """NER: keep a sentence with failing mentions, their tokens masked, instead of rejecting it."""


class TaskAdapter(ABC):
    """One task kind: its data format, its teacher-facing text, its Critic step, its student head and metric."""

    kind: ClassVar[str]
    """The name in data cards, ``--task``, run files and the prompt folder (``prompts/<kind>/``)."""
    metric: ClassVar[str]
    """The key of the selection score in `scores`' result."""
    label_noun: ClassVar[str]
    """What one label is called in messages and reports ("label", "entity type")."""
    extensions: ClassVar[tuple[str, ...]]
    """The accepted data-file extensions, in the order a split file is looked for."""
    shots_unit: ClassVar[str]
    """What `sample_shots` draws, for its error message ("training examples")."""
    examples_shown: ClassVar[int]
    """How many seed examples the Generator's prompt shows."""
    default_description: ClassVar[str]
    """The teacher's one-line task description when neither the settings nor the data card give one."""
    pipeline_tag: ClassVar[str]
    """The Hugging Face pipeline that loads the saved student, and the cards' Hub task ("text-classification")."""
    pipeline_args: ClassVar[str]
    """Keyword arguments the model card's ``pipeline(...)`` line adds to predict like `evokd predict` ("" if none)."""
    card_metrics: ClassVar[tuple[HubMetric, ...]]
    """The test scores the model card lists, the selection metric first."""
    export_columns: ClassVar[str]
    """`export_row`'s columns as the dataset card describes them."""
    batches_labels: ClassVar[bool]
    """Whether one labelling call may carry several texts (``--label-batch``): a label per text is a short
    list; an annotation per sentence is not."""

    # ---- data files ----------------------------------------------------------------------------

    @abstractmethod
    def read_split(self, file: Path, text: str) -> list[Record]:
        """The checked examples of one split file's text (`DataError` naming the line on a bad row)."""

    @abstractmethod
    def read_rows(self, file: Path, rows: list[Row]) -> list[Record]:
        """The checked examples of table rows (JSONL, Parquet, a `datasets` split), each named by its row."""

    @abstractmethod
    def labels_in(self, ex: Example) -> set[str]:
        """The labels one example uses (its class, the entity types it holds)."""

    @abstractmethod
    def check_label_set(self, labels: tuple[str, ...], file: Path) -> None:
        """Raise `DataError` if the training labels cannot make a task (a classifier needs two classes)."""

    def sample_shots(self, train: list[Example], task: Task, k: int, seed: int) -> list[Example]:
        """Pick k examples per label, reproducibly from ``seed``.

        Greedy over the labels in order: each label gets k examples of its own that no earlier label
        took, so every label is guaranteed k and no example counts twice (an NER sentence holds several types).
        """
        if k < 1:
            raise DataError(f"--shots must be at least 1, got {k}")
        rng = random.Random(seed)
        picked: list[Example] = []
        taken: set[int] = set()
        for label in task.labels:
            pool = [i for i, ex in enumerate(train) if i not in taken and label in self.labels_in(ex)]
            if len(pool) < k:
                raise DataError(
                    f"{self.label_noun} {label!r} has only {len(pool)} {self.shots_unit}, "
                    f"fewer than --shots {k}; lower --shots"
                )
            for i in rng.sample(pool, k):
                taken.add(i)
                picked.append(train[i])
        return picked

    def pool_item(self, value: str | list[str]) -> Example:
        """An unlabelled pool row's text (or token list) as the student reads it: ``{"text"}`` plus what the
        kind's student needs (NER: ``tokens``); never a label. Default: the text (a token list joined by spaces)."""
        return Example(text=value if isinstance(value, str) else " ".join(value))

    def fitted(self, train: Sequence[Example], label_descriptions: Mapping[str, str] | None = None) -> TaskAdapter:
        """This adapter with what it learns from a run's training data and what its data card says each label
        means (``label_descriptions``: label -> one line), built once per run; default: itself, unchanged."""
        return self

    # ---- the student -----------------------------------------------------------------------------

    @abstractmethod
    def head(self, task: Task) -> Head:
        """The student's output layer for ``task``."""

    @abstractmethod
    def gold(self, ex: Example) -> Any:
        """An example's answer in the form the student predicts it (a class name, a tag list)."""

    def agrees(self, gold: Any, predicted: Any) -> bool:
        """Whether a prediction is the example's answer (`gold`'s form)."""
        return bool(gold == predicted)

    @abstractmethod
    def scores(self, task: Task, gold: list[Any], predicted: list[Any]) -> dict[str, Any]:
        """The metric's scores (with ``self.metric`` among the keys) of predictions against gold answers."""

    def evaluate(self, task: Task, examples: Sequence[Example], predicted: list[Any]) -> dict[str, Any]:
        """Scores of the student's predictions on ``examples``; ``score`` is the selection metric, ``n`` the count."""
        if len(examples) != len(predicted):
            raise ValueError(f"{len(examples)} gold examples but {len(predicted)} predictions")
        result = self.scores(task, [self.gold(ex) for ex in examples], predicted)
        result["score"] = result[self.metric]
        result["n"] = len(examples)
        return result

    @abstractmethod
    def to_example(self, sample: Sample) -> Example:
        """The training example an accepted sample becomes."""

    @abstractmethod
    def task_for(self, head: Head) -> Task | None:
        """The task whose student head is ``head`` (a saved student's), or None if this kind builds no such head."""

    @abstractmethod
    def weighted_scores(self, task: Task, gold: list[Any], predicted: list[Any], weights: np.ndarray) -> np.ndarray:
        """The selection metric once per row of ``weights`` (how often each text counts, e.g. a bootstrap
        resample; a row of ones gives the metric of `scores`), computed from per-text counts so that a
        thousand resamples cost one matrix product."""

    # ---- what the teacher reads ------------------------------------------------------------------

    def label_text(self, task: Task) -> str:
        """The labels as the prompts that write texts show them."""
        return ", ".join(task.labels)

    @abstractmethod
    def format_feedback(self, feedback: list[Prediction], limit: int) -> tuple[str, str]:
        """The wrong and right predictions as the Analyst's prompt text, at most ``limit`` of each."""

    @abstractmethod
    def format_examples(self, seeds: Sequence[Example], label: str | None = None, limit: int = 6) -> str:
        """Seed examples as prompt text, to anchor the style and length of what gets written (``label``'s first
        where the kind ranks them)."""

    @abstractmethod
    def written_for(self, pool: Sequence[Example], label: str) -> list[Example]:
        """The earlier generated examples a new text asked for ``label`` must not repeat."""

    # ---- the Critic ------------------------------------------------------------------------------

    def label(
        self,
        teacher: Teacher,
        prompt: str,
        task: Task,
        description: str,
        todo: list[Sample],
        logprobs: bool = False,
        per_call: int = 1,
        label_call: LabelStyle = "json",
        mask: bool = False,
    ) -> list[Reply[Any]]:
        """Ask the Critic for each screened sample's label (calls run concurrently) and record in place the
        verdict, its reason and the label fields; return the replies for the cost record.

        A sample with a ``requested`` label (generated) must get it; a pool text has none to agree with.
        ``logprobs`` asks the endpoint for log-probabilities and records the chosen label's probability as
        ``teacher_confidence`` where the kind can read one (None where the endpoint sent none).
        ``per_call`` texts share one call where the kind `batches_labels` (else it must be 1).
        ``label_call`` "label-only" asks for the label alone where the kind has such a call (it also records
        every label's probability as ``teacher_probs``); a kind without one keeps its JSON call. ``mask`` keeps
        a partly wrong annotation where the kind can mask its bad parts (NER's mentions)."""
        if per_call < 1 or (per_call > 1 and not self.batches_labels):
            raise ValueError(f"{self.kind} labels one text per teacher call; got {per_call} (drop --label-batch)")
        return self.label_calls(
            LabelCall(teacher, prompt, task, description, logprobs, per_call, label_call, mask), todo
        )

    @abstractmethod
    def label_calls(self, call: LabelCall, todo: list[Sample]) -> list[Reply[Any]]:
        """`label`'s work for this kind, its arguments checked: label ``todo`` in place as ``call`` asks."""

    # ---- reports ---------------------------------------------------------------------------------

    @abstractmethod
    def show_label(self, sample: Mapping[str, Any]) -> str:
        """The Critic's label of a sample as one line of text."""

    @abstractmethod
    def show_prediction(self, sample: Mapping[str, Any]) -> str:
        """The student's prediction on a sample as one line of text."""

    # ---- what a user takes away ------------------------------------------------------------------

    @abstractmethod
    def output_row(
        self, task: Task, text: str, scores: torch.Tensor, offsets: Sequence[tuple[int, int]]
    ) -> dict[str, Any]:
        """One prediction as `evokd predict` writes it: ``text`` and the answer read from the student's ``scores``
        (softmax over the head's names: one row for the text, or, for a per-token head, one row per word, the
        words at the character ``offsets``)."""

    @abstractmethod
    def export_row(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """A seed or sample (accepted or, for auditing, rejected) as a row of the exported training data:
        the kind's own columns (`export_columns`), without ``source`` and ``round``."""

    @abstractmethod
    def label_counts(self, examples: Iterable[Mapping[str, Any]]) -> Counter[str]:
        """How often each label occurs in ``examples`` (exported rows): texts per class, mentions per entity type."""
