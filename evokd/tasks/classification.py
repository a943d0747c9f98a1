"""Text classification: each text has exactly one of the task's labels.

Examples are ``{"text", "label"}``; the student's head labels the whole text; the selection metric is
macro-F1. The Critic names a label for each text in a labelling call of its own (or, with ``--label-batch``,
one call for several numbered texts), and a text is kept only if
that label is one the task has and the one the Generator was asked for.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evokd import prompts
from evokd.data.formats import DataError, Row, jsonl_rows
from evokd.data.readers import Record, classification_example, read_csv, read_table
from evokd.prompts import render
from evokd.schemas import LabelVerdict, label_verdict
from evokd.state import Prediction, Sample
from evokd.student.metrics import class_scores, f1_of_counts
from evokd.student.model import Head
from evokd.task import Example, Task
from evokd.tasks.base import HubMetric, LabelCall, TaskAdapter
from evokd.teacher.client import Reply, Teacher, value_confidences, value_probabilities
from evokd.text import as_data, bullet_list, clip, described

if TYPE_CHECKING:
    import torch


def match_label(answer: str, labels: tuple[str, ...]) -> str | None:
    """The allowed label an answer names (case-insensitive, or the one label it mentions), else None."""
    folded = {lab.casefold(): lab for lab in labels}
    if answer.strip().casefold() in folded:
        return folded[answer.strip().casefold()]
    named = {lab for lab in labels if re.search(rf"(?<!\w){re.escape(lab)}(?!\w)", answer, re.I)}
    return named.pop() if len(named) == 1 else None


# Words of a text the labelling call shows: a long article's lead carries its topic, and a whole one would
# multiply what each labelling call costs a small teacher; reviews and tickets fit whole. Chosen by the rule in
# benchmarks/decisions/lead-words.md (`choose_lead`) on bbc_news dev texts; a test ties it to that file.
LABEL_WORDS = 50


def prefix_label(answer: str, labels: tuple[str, ...]) -> str | None:
    """The one allowed label a reply cut short begins ("entertain" for "entertainment"), else None."""
    start = answer.strip().strip("\"'.:`*").casefold()
    begun = [lab for lab in labels if start and lab.casefold().startswith(start)]
    return begun[0] if len(begun) == 1 else None


# The label-only call: a reply of a few tokens (enough for a label name, or its start), and the likeliest
# tokens at each position, from which every label's probability is read.
LABEL_ONLY_MAX_TOKENS = 3
LABEL_ONLY_TOP = 10


def label_only_messages(
    template: str, description: str, labels: str, texts: Sequence[str], meanings: str = ""
) -> tuple[str, list[str]]:
    """The label-only call's system message (the template's lines before the one holding ``$text``, the same for
    every call, so a server's prefix cache reuses it) and one user turn per text (the rest, with the text).
    ``labels`` is the inline list; ``meanings`` the labels' meanings, one line each, or empty (then the shipped
    prompt's ``$meanings`` line vanishes and the call is the one measured without meanings)."""
    lines = template.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "$text" in line)
    fixed, turn = "".join(lines[:at]), "".join(lines[at:])
    values = {"task": description, "labels": labels, "meanings": meanings}
    system = render(fixed, **values).strip()
    users = [render(turn, **values, text=as_data(" ".join(t.split()))).strip() for t in texts]
    return system, users


def numbered(texts: Sequence[str]) -> str:
    """Texts for one labelling call, one per line as ``[1] ...``, ``[2] ...`` (line breaks inside a text folded)."""
    return "\n".join(f"[{i}] {as_data(' '.join(t.split()))}" for i, t in enumerate(texts, 1))


def ask_labels(
    teacher: Teacher, prompt: str, labels: str, description: str, calls: Sequence[Sequence[str]], logprobs: bool
) -> list[Reply[LabelVerdict]]:
    """One labelling call per group of texts, all concurrently, each asked for exactly as many labels as it has
    texts; ``labels`` is the label list as the prompt shows it (`Classification.label_text`). The prompt's fixed
    part (task, labels, instructions) comes before the texts, so it is byte-identical across calls and a
    server that reuses a matched prompt prefix (llama.cpp) skips re-reading it."""
    replies: list[Reply[LabelVerdict] | None] = [None] * len(calls)
    for n in sorted({len(c) for c in calls}):  # a schema per group size: at most two sizes (full, remainder)
        idx = [i for i, c in enumerate(calls) if len(c) == n]
        prompts = [render(prompt, task=description, labels=labels, text=numbered(calls[i])) for i in idx]
        for i, reply in zip(idx, teacher.ask_many(prompts, label_verdict(n), logprobs=logprobs), strict=True):
            replies[i] = reply
    return [r for r in replies if r is not None]


def judge(s: Sample, answer: str | None, label: str | None, reason: str | None) -> None:
    """Record the verdict on a sample from the teacher's answer and the allowed label it names: no answer is
    ``reason`` (else malformed), no label ``off_label``, another label than the one requested ``label_mismatch``."""
    if answer is None:
        s.update({"verdict": "rejected", "reason": reason or "malformed"})
    elif label is None:
        s.update({"verdict": "rejected", "reason": "off_label", "label": answer[:50]})
    elif s.get("requested") and label != s["requested"]:
        # The Generator was asked for another label: the text is ambiguous, a likely source of label noise.
        s.update({"verdict": "rejected", "reason": "label_mismatch", "label": label})
    else:
        s.update({"verdict": "accepted", "label": label})


class Classification(TaskAdapter):
    """One label per text."""

    kind = "classification"
    metric = "macro_f1"
    label_noun = "label"
    extensions = (".jsonl", ".csv", ".parquet")
    shots_unit = "training examples"
    examples_shown = 6
    default_description = "Classify each text into exactly one of the labels."
    pipeline_tag = "text-classification"
    pipeline_args = ""
    card_metrics = (
        HubMetric("f1", "macro_f1", "macro-F1", average="macro"),
        HubMetric("accuracy", "accuracy", "accuracy"),
    )
    export_columns = "`text`, `label`"
    batches_labels = True

    def __init__(self, label_descriptions: Mapping[str, str] | None = None) -> None:
        self.meanings = dict(label_descriptions or {})  # the card's label -> meaning, shown next to each label

    def fitted(self, train: Sequence[Example], label_descriptions: Mapping[str, str] | None = None) -> Classification:
        """An adapter whose prompts show what each label means, as the data card says."""
        return Classification(label_descriptions)

    def label_text(self, task: Task) -> str:
        """The labels inline ("negative, positive"), or, where the card gives any label a meaning, one per line
        with it: "tech" or "other" alone tells a small teacher little about where a text belongs."""
        meanings = self.meanings_text(task)
        return "\n" + meanings if meanings else ", ".join(task.labels)

    def meanings_text(self, task: Task) -> str:
        """The labels one per line with the card's meanings, or "" where the card gives no label one."""
        return described(task.labels, self.meanings) if any(self.meanings.get(x) for x in task.labels) else ""

    def read_split(self, file: Path, text: str) -> list[Record]:
        """JSONL ``{"text", "label"}`` lines, or a CSV with ``text`` and ``label`` columns."""
        if file.suffix == ".csv":
            return read_csv(file, text)
        return self.read_rows(file, jsonl_rows(file, text))

    def read_rows(self, file: Path, rows: list[Row]) -> list[Record]:
        """Rows with ``text`` and ``label`` (JSONL, Parquet, a `datasets` split)."""
        return read_table(file, rows, ("text", "label"), classification_example)

    def labels_in(self, ex: Example) -> set[str]:
        """The example's one label."""
        return {ex["label"]}

    def check_label_set(self, labels: tuple[str, ...], file: Path) -> None:
        """A classifier needs at least two classes."""
        if len(labels) < 2:
            raise DataError(f"{file}: only one class ({labels[0]!r}) in train; a classifier needs at least two labels")

    def head(self, task: Task) -> Head:
        """One class per text, named by the labels."""
        return Head(names=task.labels)

    def gold(self, ex: Example) -> str:
        """The label."""
        return ex["label"]

    def scores(self, task: Task, gold: list[str], predicted: list[str]) -> dict[str, Any]:
        """Accuracy, macro-F1 and per-label scores."""
        return class_scores(task.labels, gold, predicted)

    def to_example(self, sample: Sample) -> Example:
        """The text with the Critic's label, and the teacher's probabilities per label where it has them."""
        example = Example(text=sample["text"], label=sample["label"])
        if "teacher_probs" in sample:
            example["teacher_probs"] = sample["teacher_probs"]
        return example

    def task_for(self, head: Head) -> Task | None:
        """A whole-text head: its names are the labels."""
        return None if head.per_token else Task(self.kind, head.names)

    def weighted_scores(self, task: Task, gold: list[str], predicted: list[str], weights: np.ndarray) -> np.ndarray:
        """Macro-F1 from each text's (tp, fp, fn) per label."""
        counts = np.array(
            [
                [c for label in task.labels for c in (p == label == g, p == label != g, g == label != p)]
                for g, p in zip(gold, predicted, strict=True)
            ],
            dtype=float,
        )
        counts = counts.reshape(len(gold), 3 * len(task.labels))  # also when there are no texts
        macro: np.ndarray = f1_of_counts((weights @ counts).reshape(len(weights), len(task.labels), 3)).mean(axis=1)
        return macro

    def format_feedback(self, feedback: list[Prediction], limit: int) -> tuple[str, str]:
        """Wrong ones with true and predicted label, right ones with their label."""
        wrong = [
            f'"{clip(p["text"])}" (true: {p["gold"]} -> predicted: {p["predicted"]})'
            for p in feedback
            if not p["correct"]
        ]
        right = [f'"{clip(p["text"])}" ({p["gold"]})' for p in feedback if p["correct"]]
        return bullet_list(wrong[:limit]), bullet_list(right[:limit])

    def format_examples(self, seeds: Sequence[Example], label: str | None = None, limit: int = 6) -> str:
        """Each text with its label, in the seeds' order."""
        return bullet_list([f'"{clip(s["text"])}" ({s["label"]})' for s in seeds[:limit]])

    def written_for(self, pool: Sequence[Example], label: str) -> list[Example]:
        """Those with the same label."""
        return [e for e in pool if e.get("label") == label]

    def label_calls(self, call: LabelCall, todo: list[Sample]) -> list[Reply[Any]]:
        """The Critic names a label for each numbered text of a call; it must be one of the task's (else
        ``off_label``) and the one requested, where one was (else ``label_mismatch``). A call's tokens are
        shared out over its texts. ``call.style`` "label-only" asks one text per call with the shipped label
        prompt instead (`label_alone`)."""
        if call.style == "label-only":
            return self.label_alone(call.teacher, call.task, call.description, todo)
        task, per_call, logprobs = call.task, call.per_call, call.logprobs
        calls = [todo[i : i + per_call] for i in range(0, len(todo), per_call)]
        shown = [[clip(s["text"], LABEL_WORDS) for s in c] for c in calls]
        replies = ask_labels(call.teacher, call.prompt, self.label_text(task), call.description, shown, logprobs)
        for group, reply in zip(calls, replies, strict=True):
            answers: list[str | None] = list(reply.parsed.labels) if reply.parsed else [None] * len(group)
            confidences = value_confidences(reply, [a or "" for a in answers]) if logprobs else []
            share, extra = divmod(reply.tokens, len(group))
            for i, (s, answer) in enumerate(zip(group, answers, strict=True)):
                s["teacher_tokens"] = s.get("teacher_tokens", 0) + share + (i < extra)
                if logprobs:
                    s["teacher_confidence"] = confidences[i]
                label = match_label(answer, task.labels) if answer is not None else None
                judge(s, answer, label, reply.reason)
        return replies

    def label_alone(
        self,
        teacher: Teacher,
        task: Task,
        description: str,
        todo: list[Sample],
        template: str = "",
        words: int = LABEL_WORDS,
    ) -> list[Reply[Any]]:
        """One label-only call per text, clipped to its first ``words`` words (``template``, else
        prompts/classification/label.md): the reply is the
        label alone, a few tokens, and every label's probability is read from the endpoint's log-probabilities
        (``teacher_probs``; the chosen one's is ``teacher_confidence``), the likeliest label taken. Without
        log-probabilities the reply's text is matched like the JSON call's answer (or, cut short, by the label it
        begins); a reply naming no label is ``off_label`` either way, whatever the probabilities say."""
        # The labels stay inline: listed one per line with their meanings after "Answer with one of:", the 1.5B
        # teacher answered the first (benchmarks/decisions/bbc-label-meanings.md); the meanings come before it.
        system, users = label_only_messages(
            template or prompts.default(self.kind, "label"),
            description,
            ", ".join(task.labels),
            [clip(s["text"], words) for s in todo],
            self.meanings_text(task),
        )
        replies = teacher.ask_plain(system, users, LABEL_ONLY_MAX_TOKENS, LABEL_ONLY_TOP)
        for s, reply in zip(todo, replies, strict=True):
            s["teacher_tokens"] = s.get("teacher_tokens", 0) + reply.tokens
            answer = reply.raw if reply.reason is None else None
            named = answer and (match_label(answer, task.labels) or prefix_label(answer, task.labels))
            read = value_probabilities(reply, task.labels) if named else None
            probs = {lab: round(p, 6) for lab, p in read.items()} if read else None
            label = max(probs, key=lambda lab: probs[lab]) if probs else named or None
            s["teacher_confidence"] = probs[label] if probs and label else None
            if probs:
                s["teacher_probs"] = probs
            judge(s, answer, label, reply.reason)
        return replies

    def show_label(self, sample: Mapping[str, Any]) -> str:
        """The label."""
        return str(sample.get("label", ""))

    def show_prediction(self, sample: Mapping[str, Any]) -> str:
        """The predicted label."""
        return str(sample.get("predicted", ""))

    def output_row(
        self, task: Task, text: str, scores: torch.Tensor, offsets: Sequence[tuple[int, int]]
    ) -> dict[str, Any]:
        """The likeliest label, its probability, and every label's probability."""
        best = int(scores.argmax())
        probabilities = {name: round(float(v), 6) for name, v in zip(task.labels, scores.tolist(), strict=True)}
        return {
            "text": text,
            "label": task.labels[best],
            "score": round(float(scores[best]), 6),
            "probabilities": probabilities,
        }

    def export_row(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The text and its label (None for a sample rejected before it had one)."""
        return {"text": sample.get("text", ""), "label": sample.get("label") or None}

    def label_counts(self, examples: Iterable[Mapping[str, Any]]) -> Counter[str]:
        """Texts per label."""
        return Counter(ex["label"] for ex in examples)
