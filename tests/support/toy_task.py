"""A made-up third task kind, ``topic``, that implements only what the loop calls (no benchmark parts), with a
scripted teacher and prompts of its own: the proof that a new kind plugs into the loop."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from evokd.data.formats import Row, jsonl_rows
from evokd.data.readers import DataError, Record, read_table
from evokd.prompts import render
from evokd.state import Prediction, Sample
from evokd.student.model import Head
from evokd.task import Example, Task
from evokd.tasks.base import HubMetric, LabelCall, TaskAdapter
from evokd.teacher.client import Reply
from evokd.text import bullet_list
from tests.support.fake_openai import prompt_of, schema_name


class TopicVerdict(BaseModel):
    """The made-up kind's own reply schema: one topic per call."""

    label: str


class Topic(TaskAdapter):
    """A made-up third kind with a data format of its own (a ``topic`` column); its examples hold the answer
    under ``label``, as the student's whole-text head reads it."""

    kind = "topic"
    metric = "accuracy"
    label_noun = "topic"
    extensions = (".jsonl",)
    shots_unit = "training texts"
    examples_shown = 2
    default_description = "Name each text's topic."
    pipeline_tag = "text-classification"
    pipeline_args = ""
    card_metrics = (HubMetric("accuracy", "accuracy", "accuracy"),)
    export_columns = "`text`, `topic`"
    batches_labels = False

    def read_split(self, file: Path, text: str) -> list[Record]:
        return self.read_rows(file, jsonl_rows(file, text))

    def read_rows(self, file: Path, rows: list[Row]) -> list[Record]:
        def make(line_text: str, topic: str, where: str) -> Example:
            return {"text": line_text, "label": topic}

        return read_table(file, rows, ("text", "topic"), make)

    def labels_in(self, ex: Example) -> set[str]:
        return {ex["label"]}

    def check_label_set(self, labels: tuple[str, ...], file: Path) -> None:
        if not labels:
            raise DataError(f"{file}: no topics")

    def head(self, task: Task) -> Head:
        return Head(task.labels)

    def gold(self, ex: Example) -> str:
        return ex["label"]

    def scores(self, task: Task, gold: list, predicted: list) -> dict:
        return {"accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0}

    def to_example(self, sample: Sample) -> Example:
        return {"text": sample["text"], "label": sample["label"]}

    def task_for(self, head: Head) -> Task | None:
        return None if head.per_token else Task(self.kind, head.names)

    def weighted_scores(self, task: Task, gold: list, predicted: list, weights: np.ndarray) -> np.ndarray:
        right = np.array([g == p for g, p in zip(gold, predicted, strict=True)], dtype=float)
        return weights @ right / weights.sum(axis=1)

    def format_feedback(self, feedback: list[Prediction], limit: int) -> tuple[str, str]:
        return bullet_list([p["text"] for p in feedback if not p["correct"]][:limit]), "(none)"

    def format_examples(self, seeds: Sequence[Example], label: str | None = None, limit: int = 6) -> str:
        return bullet_list([f"{s['text']} [{s['label']}]" for s in seeds[:limit]])

    def written_for(self, pool: Sequence[Example], label: str) -> list[Example]:
        return [e for e in pool if e.get("label") == label]

    def label_calls(self, call: LabelCall, todo: list[Sample]) -> list[Reply]:
        texts = [
            render(call.prompt, task=call.description, labels=self.label_text(call.task), text=s["text"]) for s in todo
        ]
        replies = call.teacher.ask_many(texts, TopicVerdict, logprobs=call.logprobs)
        for s, r in zip(todo, replies, strict=True):
            ok = r.parsed is not None and r.parsed.label == s.get("requested", r.parsed.label)
            s["teacher_tokens"] = s.get("teacher_tokens", 0) + r.tokens
            s.update(
                verdict="accepted" if ok else "rejected",
                reason="" if ok else "off_topic",
                label=r.parsed.label if r.parsed else "",
            )
        return replies

    def show_label(self, sample: Mapping[str, Any]) -> str:
        return f"topic {sample.get('label', '')}"

    def show_prediction(self, sample: Mapping[str, Any]) -> str:
        return f"topic {sample.get('predicted', '')}"

    def output_row(self, task: Task, text: str, scores: torch.Tensor, offsets: Sequence[tuple[int, int]]) -> dict:
        return {"text": text, "topic": task.labels[int(scores.argmax())]}

    def export_row(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        return {"text": sample.get("text", ""), "topic": sample.get("label") or None}

    def label_counts(self, examples: Iterable[Mapping[str, Any]]) -> Counter[str]:
        return Counter(ex["topic"] for ex in examples)


# The kind's own prompts (a registered kind ships them as prompts/topic/<agent>.md).
TOPIC_PROMPTS = {
    "analyst": "Task: $task\nTopics: $labels\nWrong:\n$wrong\nName the weaknesses.",
    "generator": "Task: $task\nTopics: $labels\nWrite one $stance text.\nTopic: $label\n",
    "critic": "Task: $task\nTopics: $labels\nWhich topic is this text about?\n<<<$text>>>",
}

WORDS = {"sport": "goal match cup", "politics": "vote law parliament"}


class TopicTeacher:
    """A scripted teacher for the topic kind: writes a text of the asked topic and labels by keyword."""

    def __init__(self) -> None:
        self.counter = itertools.count()

    def __call__(self, body: dict) -> str:
        prompt, kind = prompt_of(body), schema_name(body)
        if kind == "Analysis":
            return json.dumps(
                {"summary": "It mixes the topics up.", "weaknesses": [{"label": "sport", "pattern": "x"}]}
            )
        if kind == "GeneratedText":
            topic = re.search(r"^Topic: (\S+)", prompt, re.M).group(1)  # type: ignore[union-attr]
            return json.dumps({"text": f"a {WORDS[topic]} story w{next(self.counter)}"})
        if kind == "TopicVerdict":
            text = prompt.split("<<<")[1].split(">>>")[0]
            return json.dumps({"label": "sport" if "goal" in text else "politics"})
        return "{}"
