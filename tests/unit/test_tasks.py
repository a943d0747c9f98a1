"""The task-kind registry and adapter interface: every kind implements it whole, a new kind plugs in, and no
code outside the adapters branches on the kind."""

from __future__ import annotations

import ast
import inspect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import BaseModel

from evokd import tasks
from evokd.agents.critic import label_batch
from evokd.data.formats import Row, jsonl_rows
from evokd.data.readers import DataError, Record, read_table
from evokd.graph.nodes import feedback_for
from evokd.prompts import PLACEHOLDERS, default_path
from evokd.settings import LabelCall
from evokd.state import Prediction, Sample
from evokd.student.model import Head
from evokd.task import Example, Task
from evokd.tasks import TaskAdapter, adapter_for, kinds, register
from evokd.tasks.base import HubMetric
from evokd.teacher.client import Reply, Teacher
from evokd.text import LeakIndex, bullet_list

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_kind_implements_the_whole_interface_and_has_its_prompts():
    assert kinds() == ("classification", "ner")
    attributes = [name for name in TaskAdapter.__annotations__ if not name.startswith("_")]
    for kind in kinds():
        adapter = adapter_for(kind)
        assert adapter.kind == kind and not inspect.isabstract(type(adapter))
        assert all(hasattr(adapter, name) for name in attributes), kind
        assert adapter.metric in adapter.scores(Task(kind, ("a", "b")), [], [])
        for agent in PLACEHOLDERS.keys() - {"label"}:  # the loop's agents and the benchmark baselines
            assert default_path(kind, agent).is_file(), (kind, agent)
    assert default_path("classification", "label").is_file()  # the one kind with a label-only call
    assert {p.name for p in (ROOT / "prompts").iterdir() if p.is_dir() and p.name != "__pycache__"} == set(kinds())


def test_unknown_kind_is_a_one_line_data_error():
    with pytest.raises(DataError, match=r"^unknown task kind 'relations'; use one of: classification, ner$"):
        adapter_for("relations")


def test_adapter_for_a_task_is_its_kinds_and_heads_follow_the_kind():
    assert adapter_for(Task("ner", ("PER",))) is adapter_for("ner")
    assert tasks.head_for(Task("classification", ("neg", "pos"))) == Head(("neg", "pos"))
    tags = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    assert tasks.head_for(Task("ner", ("LOC", "PER"))) == Head(tags, per_token=True)


def test_a_saved_head_gives_back_its_task():
    for task in (Task("classification", ("neg", "pos")), Task("ner", ("LOC", "PER"))):
        assert tasks.task_for(tasks.head_for(task)) == task
    assert tasks.task_for(Head(("O", "I-LOC", "B-LOC"), per_token=True)) is None  # tags out of evokd's order


class TopicVerdict(BaseModel):
    """The made-up kind's own reply schema: one topic per call."""

    label: str


class Topic(TaskAdapter):
    """A made-up third kind whose examples keep their answer under a key of their own (``topic``)."""

    kind = "topic"
    metric = "accuracy"
    metric_title = "accuracy"
    label_noun = "topic"
    extensions = (".jsonl",)
    shots_unit = "training texts"
    examples_shown = 2
    default_description = "Name each text's topic."
    label_words = None
    pipeline_tag = "text-classification"
    pipeline_args = ""
    card_metrics = (HubMetric("accuracy", "accuracy", "accuracy"),)
    export_columns = "`text`, `topic`"
    batches_labels = False

    def read_split(self, file: Path, text: str) -> list[Record]:
        return self.read_rows(file, jsonl_rows(file, text))

    def read_rows(self, file: Path, rows: list[Row]) -> list[Record]:
        def make(line_text: str, topic: str, where: str) -> Example:
            return {"text": line_text, "topic": topic}  # type: ignore[typeddict-unknown-key]

        return read_table(file, rows, ("text", "topic"), make)

    def labels_in(self, ex: Example) -> set[str]:
        return {ex["topic"]}  # type: ignore[typeddict-item]

    def check_label_set(self, labels: tuple[str, ...], file: Path) -> None:
        if not labels:
            raise DataError(f"{file}: no topics")

    def head(self, task: Task) -> Head:
        return Head(task.labels)

    def gold(self, ex: Example) -> str:
        return ex["topic"]  # type: ignore[typeddict-item]

    def scores(self, task: Task, gold: list, predicted: list) -> dict:
        return {"accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0}

    def to_example(self, sample: Sample) -> Example:
        return {"text": sample["text"], "topic": sample["label"]}  # type: ignore[typeddict-unknown-key]

    def task_for(self, head: Head) -> Task | None:
        return None if head.per_token else Task(self.kind, head.names)

    def weighted_scores(self, task: Task, gold: list, predicted: list, weights: np.ndarray) -> np.ndarray:
        right = np.array([g == p for g, p in zip(gold, predicted, strict=True)], dtype=float)
        return weights @ right / weights.sum(axis=1)

    def format_feedback(self, feedback: list[Prediction], limit: int) -> tuple[str, str]:
        return bullet_list([p["text"] for p in feedback if not p["correct"]][:limit]), "(none)"

    def format_examples(self, seeds: Sequence[Example], label: str | None = None, limit: int = 6) -> str:
        return bullet_list([f"{s['text']} [{s['topic']}]" for s in seeds[:limit]])  # type: ignore[typeddict-item]

    def written_for(self, pool: Sequence[Example], label: str) -> list[Example]:
        return [e for e in pool if e.get("topic") == label]

    def source_label(self, task: Task, src: Example, rnd: int) -> str:
        return src["topic"]  # type: ignore[typeddict-item]

    def label(
        self,
        teacher: Teacher,
        prompt: str,
        task: Task,
        description: str,
        todo: list[Sample],
        logprobs: bool = False,
        per_call: int = 1,
        label_call: LabelCall = "json",
    ) -> list[Reply]:
        replies = teacher.ask_many([f"{prompt}: {s['text']}" for s in todo], TopicVerdict, logprobs=logprobs)
        for s, r in zip(todo, replies, strict=True):
            ok = r.parsed is not None and r.parsed.label == s["requested"]
            s.update(
                verdict="accepted" if ok else "rejected",
                reason="" if ok else "off_topic",
                label=r.parsed.label if r.parsed else "",
            )
        return replies

    def reference_labels(
        self,
        teacher: Teacher,
        prompt: str,
        task: Task,
        description: str,
        examples: Sequence[Example],
        per_call: int = 1,
    ) -> tuple[list, list[Reply], int]:
        return [], [], 0

    def show_label(self, sample: Mapping[str, Any]) -> str:
        return str(sample.get("label", ""))

    def show_prediction(self, sample: Mapping[str, Any]) -> str:
        return str(sample.get("predicted", ""))

    def output_row(self, task: Task, text: str, scores: torch.Tensor, offsets: Sequence[tuple[int, int]]) -> dict:
        return {"text": text, "topic": task.labels[int(scores.argmax())]}

    def export_row(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        return {"text": sample.get("text", ""), "topic": sample.get("label") or None}

    def label_counts(self, examples: Iterable[Mapping[str, Any]]) -> Counter[str]:
        return Counter(ex["topic"] for ex in examples)


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> Topic:
    """The third kind, registered for one test only."""
    monkeypatch.setattr(tasks, "_ADAPTERS", dict(tasks._ADAPTERS))
    return register(Topic())  # type: ignore[return-value]


def test_a_third_kind_plugs_into_the_generic_code_path(topic: Topic, tmp_path: Path):
    rows = {
        "train": [
            ("goals in the final", "sport"),
            ("a new tax law", "politics"),
            ("the cup match", "sport"),
            ("votes in parliament", "politics"),
        ],
        "dev": [("a late goal", "sport")],
        "test": [("the election", "politics")],
    }
    for split, pairs in rows.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(f'{{"text": "{t}", "topic": "{c}"}}\n' for t, c in pairs))
    ds = tasks.load_dataset(tmp_path, "topic")
    assert ds.task == Task("topic", ("politics", "sport")) and kinds()[-1] == "topic"

    seeds = tasks.sample_shots(ds.train, ds.task, 1, seed=0)
    assert sorted(s["topic"] for s in seeds) == ["politics", "sport"]  # type: ignore[typeddict-item]
    with pytest.raises(DataError, match="topic 'politics' has only 2 training texts, fewer than --shots 3"):
        tasks.sample_shots(ds.train, ds.task, 3, seed=0)

    batch = [
        Sample(id="r1-0", requested="sport", text="a hat trick in the derby", verdict="pending", reason=""),
        Sample(id="r1-1", requested="sport", text="a budget vote in parliament today", verdict="pending", reason=""),
    ]
    teacher = Teacher(FakeListChatModel(responses=['{"label": "sport"}', '{"label": "politics"}']), concurrency=1)
    out, _ = label_batch(teacher, "Topic?", ds.task, "topics", batch, set(), LeakIndex([]))
    assert [(s["verdict"], s["reason"]) for s in out] == [("accepted", ""), ("rejected", "off_topic")]

    new = [topic.to_example(out[0])]
    assert feedback_for(topic, new, ["politics"]) == [
        Prediction(text="a hat trick in the derby", gold="sport", predicted="politics", correct=False)
    ]
    assert tasks.evaluate(ds.task, ds.dev, ["sport"]) == {"accuracy": 1.0, "score": 1.0, "n": 1}


def _product_files() -> list[Path]:
    """The product's and the benchmark's Python files, less the adapters and the data registry's card conversion."""
    folders = ("agents", "graph", "student", "prompts", "benchmarks", "evokd")
    skip = (ROOT / "evokd" / "tasks", ROOT / "evokd" / "data" / "registry.py")
    return [f for d in folders for f in (ROOT / d).rglob("*.py") if not any(f.is_relative_to(s) for s in skip)]


def test_no_code_outside_the_adapters_branches_on_the_task_kind():
    found = []
    for file in _product_files():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            compared = isinstance(node, ast.Compare) and any(
                isinstance(c, ast.Constant) and c.value in kinds() for c in [node.left, *node.comparators]
            )
            if compared or (isinstance(node, ast.Attribute) and node.attr == "is_ner"):
                found.append(f"{file.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_the_student_imports_no_adapter():
    """The student is below the adapters: it gets a `Head`, never a task kind."""
    for file in (ROOT / "student").rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            assert not any(n.startswith("evokd.tasks") for n in names), file
