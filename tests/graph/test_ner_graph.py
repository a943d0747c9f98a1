"""The whole loop with ``--task ner`` against a scripted teacher: through the graph and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver

from evokd.cli import main
from evokd.graph.build import build_graph
from evokd.records import read_jsonl
from evokd.settings import Context
from tests.support.data import NER_TYPES as TYPES
from tests.support.runs import run_args


def check_run_folder(run: Path, rounds: int) -> None:
    """The run folder a classification run writes, with span metrics and per-type scores."""
    records = read_jsonl(run / "rounds.jsonl")
    assert [r["round"] for r in records] == list(range(rounds + 1))
    for r in records:
        for split in ("dev", "test"):
            scores = r[split]
            assert scores["score"] == scores["span_f1"] and {"precision", "recall"} <= set(scores)
            assert set(scores["per_type"]) == set(TYPES)
            assert all({"precision", "recall", "f1", "support"} == set(v) for v in scores["per_type"].values())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metric"] == "span_f1" and set(summary["dev"]["per_type"]) == set(TYPES)
    assert set(summary["test"]["per_type"]) == set(TYPES)
    assert (run / "model" / "model.safetensors").exists()
    assert read_jsonl(run / "seeds.jsonl") and all("tags" in s for s in read_jsonl(run / "seeds.jsonl"))

    samples = read_jsonl(run / "samples.jsonl")
    assert len({s["id"] for s in samples}) == len(samples) == rounds * 2 * 2
    accepted = [s for s in samples if s["verdict"] == "accepted"]
    rejected = {s["reason"] for s in samples if s["verdict"] == "rejected"}
    assert accepted and {"unknown_type", "not_substring"} <= rejected
    for s in accepted:
        assert len(s["tokens"]) == len(s["tags"]) == len(s["predicted"])
        assert s["requested"] in {e["type"] for e in s["entities"]}
        assert all(s["text"][e["start"] : e["end"]] == e["text"] for e in s["entities"])
    # Variant 1: the Critic wrote the names in capitals; the sentence's own casing is what was kept.
    retyped = [s for s in accepted if int(s["text"].rsplit("w", 1)[1]) % 4 == 1]
    assert retyped and all(e["text"] != e["text"].upper() for s in retyped for e in s["entities"])
    assert all(r["rejected"] == {"unknown_type": 1, "not_substring": 1} for r in records[1:])
    assert sum(r["accepted"] for r in records) == len(accepted) == rounds * 2


def test_ner_loop_through_the_graph(ner_dir, ner_student, ner_server, tmp_path):
    run = tmp_path / "run"
    ctx = Context(
        task="ner",
        data=str(ner_dir),
        student=str(ner_student),
        teacher_url=ner_server.url,
        teacher_model="teacher",
        run_dir=str(run),
        max_rounds=2,
        per_round=2,
        min_steps=4,
        epochs=1,
        batch_size=8,
        concurrency=2,
        max_retries=0,
        patience=5,
        lr=1e-3,
    )
    out = (
        build_graph()
        .compile(checkpointer=InMemorySaver())
        .invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)
    )
    assert out["stop_reason"] == "max_rounds" and out["task"] == {"kind": "ner", "labels": TYPES}
    check_run_folder(run, rounds=2)
    # The Analyst saw span errors; its off-task weakness type ("ORG") was dropped; hard requests aim at "company".
    assert [w["label"] for w in out["analysis"]["weaknesses"]] == ["company"]
    prompts = [m["content"] for r in ner_server.requests for m in r["messages"]]
    assert any("Sentences the tagger got WRONG" in p and "missed" in p for p in prompts)
    samples = read_jsonl(run / "samples.jsonl")
    hard = [s for s in samples if s["stance"] == "hard"]
    assert hard and all(s["requested"] == "company" for s in hard)
    # The pool the student trains on holds the generated sentences as token lists, with text = tokens joined.
    assert out["replay_set"] and all(ex["text"] == " ".join(ex["tokens"]) for ex in out["replay_set"])


def test_ner_run_through_the_cli(ner_dir, ner_student, ner_server, tmp_path, capsys):
    out = tmp_path / "cli-run"
    args = run_args(ner_dir, ner_student, ner_server, out, "--task", "ner")
    assert main(args) == 0
    for name in (
        "samples.jsonl",
        "rounds.jsonl",
        "summary.json",
        "run.json",
        "checkpoints.sqlite",
        "prompts/critic.md",
        "seeds.jsonl",
    ):
        assert (out / name).exists(), name
    assert json.loads((out / "run.json").read_text())["task"] == "ner"
    assert '"entities"' in (out / "prompts" / "critic.md").read_text()
    check_run_folder(out, rounds=2)
    assert "learning curve" in capsys.readouterr().out
    # Resuming the finished run changes nothing.
    before = (out / "samples.jsonl").read_text()
    assert main(["resume", str(out), "--teacher-url", ner_server.url]) == 0
    assert (out / "samples.jsonl").read_text() == before


def test_ner_run_with_too_few_sentences_per_type_exits_2(ner_dir, ner_student, ner_server, tmp_path, capsys):
    args = run_args(ner_dir, ner_student, ner_server, tmp_path / "r", "--task", "ner", "--shots", "5")
    assert main(args) == 2
    assert "entity type" in capsys.readouterr().err and not (tmp_path / "r").exists()
