"""The task-kind registry and adapter interface: every kind implements it whole, a new kind plugs in, and no
code outside the adapters branches on the kind."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from evokd import tasks
from evokd.agents.critic import label_batch
from evokd.bench.bench_task import bench_task
from evokd.data.readers import DataError
from evokd.graph.student_nodes import feedback_for
from evokd.prompts import PLACEHOLDERS, default_path
from evokd.state import Prediction, Sample
from evokd.student.model import Head
from evokd.task import Task
from evokd.tasks import TaskAdapter, adapter_for, kinds, register
from evokd.teacher.client import Teacher
from evokd.text import LeakIndex
from tests.support.toy_task import Topic

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


def test_the_benchmarks_parts_live_beside_the_benchmark_not_on_the_adapter():
    for member in ("show_written", "source_label", "reference_labels", "metric_title", "label_words"):
        assert not hasattr(TaskAdapter, member), member
    for kind in kinds():
        assert bench_task(adapter_for(kind)).adapter is adapter_for(kind)
    with pytest.raises(DataError, match=r"^the benchmark has no 'topic' task kind; use one of: classification, ner$"):
        bench_task(Topic())


def test_a_kind_that_labels_one_text_per_call_refuses_a_label_batch():
    with pytest.raises(ValueError, match=r"^ner labels one text per teacher call; got 2 \(drop --label-batch\)$"):
        adapter_for("ner").label(
            Teacher(FakeListChatModel(responses=[])), "", Task("ner", ("PER",)), "", [], per_call=2
        )


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
    assert sorted(s["label"] for s in seeds) == ["politics", "sport"]
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
