"""Pool mode end to end: the selector picks unlabelled texts, the Critic labels them, the student learns."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver

from evokd.graph.build import build_graph
from evokd.records import read_jsonl
from tests.support.data import write_jsonl
from tests.support.fake_openai import prompt_of
from tests.support.runs import make_context

POOL = ["a good film to see", "an awful boring film here", "lovely and great acting now", "bad plot and awful cast",
        "great fun for all", "boring story all along", "good lovely cast again", "awful film to skip"]


def poisoned_pool(folder: Path) -> Path:
    """A pool file whose label column says POISON on every row: no part of it may be read."""
    path = folder / "pool.jsonl"
    write_jsonl(path, [{"text": t, "label": "POISON", "note": "POISON"} for t in POOL])
    return path


def run_graph(ctx) -> dict:  # noqa: ANN001
    return build_graph().compile(checkpointer=InMemorySaver()).invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)


def test_pure_pool_run_labels_picks_and_never_leaks_the_pool_labels(sentiment_dir, tiny_student, teacher_server, tmp_path):
    run = tmp_path / "run"
    ctx = make_context(sentiment_dir, tiny_student, teacher_server, run, pool=str(poisoned_pool(tmp_path)),
                       per_round=0, pool_per_round=3)
    out = run_graph(ctx)

    assert [r["round"] for r in out["history"]] == [0, 1, 2]
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 6 and {s["source"] for s in samples} == {"pool"}
    assert len({s["pool_id"] for s in samples}) == 6  # never a text twice
    assert all(s["text"] in POOL and s["query_score"] >= 0 for s in samples)
    assert {s["label"] for s in samples if s["verdict"] == "accepted"} <= {"positive", "negative"}
    rounds = read_jsonl(run / "rounds.jsonl")
    assert set(rounds[1]["nodes"]) == {"selector", "critic", "student"}  # pure active labelling: nothing written
    assert rounds[1]["pool_accepted"] == 3 and rounds[1]["tokens_per_accepted_pool"] > 0
    assert rounds[1]["tokens_per_accepted_generated"] is None
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pool_accepted"] == 6 and summary["tokens_per_accepted_pool"] > 0
    # The poisoned column reaches neither the teacher nor any file of the run.
    assert not any("POISON" in prompt_of(r) for r in teacher_server.requests)
    for f in run.rglob("*"):
        if f.is_file():
            assert b"POISON" not in f.read_bytes(), f


def test_full_mode_labels_picks_with_the_generated_batch(sentiment_dir, tiny_student, teacher_server, tmp_path):
    run = tmp_path / "run"
    ctx = make_context(sentiment_dir, tiny_student, teacher_server, run, pool=str(poisoned_pool(tmp_path)),
                       pool_per_round=2, query="diverse")
    run_graph(ctx)

    samples = read_jsonl(run / "samples.jsonl")
    assert sorted(s["source"] for s in samples if s["round"] == 1) == ["generated"] * 4 + ["pool"] * 2
    rounds = read_jsonl(run / "rounds.jsonl")
    assert set(rounds[1]["nodes"]) == {"selector", "analyst", "generator", "critic", "student"}
    assert (run / "pool_embeddings.pt").exists()
    # The Analyst saw the pool texts the student is least sure of.
    analyst = [prompt_of(r) for r in teacher_server.requests if "analysing" in prompt_of(r)]
    assert analyst and all(any(t in p for t in POOL) for p in analyst)
