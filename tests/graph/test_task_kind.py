"""A task kind that implements only the loop's members runs the compiled graph end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from evokd import tasks
from evokd.graph.build import build_graph
from evokd.records import read_jsonl
from evokd.settings import Context
from tests.support.data import write_jsonl
from tests.support.fake_openai import FakeOpenAI
from tests.support.tiny_model import make_tiny_model
from tests.support.toy_task import TOPIC_PROMPTS, WORDS, Topic, TopicTeacher


def test_a_kind_without_benchmark_members_runs_the_loop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(tasks, "_ADAPTERS", dict(tasks._ADAPTERS))
    tasks.register(Topic())
    data = tmp_path / "data"
    data.mkdir()
    for split, extra in (("train", ""), ("dev", " today"), ("test", " again")):
        rows = [{"text": f"the {w}{extra}", "topic": t} for t, words in WORDS.items() for w in words.split()]
        write_jsonl(data / f"{split}.jsonl", rows)
    student = make_tiny_model(tmp_path / "student", [" ".join(WORDS.values()) + " a the story today again"])
    run = tmp_path / "run"
    with FakeOpenAI(TopicTeacher()) as server:
        ctx = Context(
            data=str(data), task="topic", student=str(student), teacher_url=server.url, teacher_model="teacher",
            run_dir=str(run), max_rounds=2, per_round=2, min_steps=4, epochs=1, batch_size=8, concurrency=2,
            max_retries=0, patience=5, lr=1e-3, **{f"{a}_prompt": p for a, p in TOPIC_PROMPTS.items()},
        )  # fmt: skip
        out = (
            build_graph()
            .compile(checkpointer=InMemorySaver())
            .invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)
        )

    assert [r["round"] for r in out["history"]] == [0, 1, 2] and out["stop_reason"] == "max_rounds"
    samples = read_jsonl(run / "samples.jsonl")
    accepted = [s for s in samples if s["verdict"] == "accepted"]
    assert accepted and all(s["label"] in WORDS and s["label"] == s["requested"] for s in accepted)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["rounds"] == 2 and "accuracy" in summary["test"]
    assert (run / "model" / "model.safetensors").exists()
