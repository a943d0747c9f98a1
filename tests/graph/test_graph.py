"""The whole EvoKD graph against a scripted OpenAI-compatible server, with an in-memory checkpointer."""

from __future__ import annotations

import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from evokd.graph.build import build_graph
from evokd.records import read_jsonl
from evokd.services import resolved
from tests.support.runs import make_context


def test_loop_runs_rounds_and_writes_run_folder(sentiment_dir, tiny_student, teacher_server, tmp_path):
    run = tmp_path / "run"
    ctx = make_context(sentiment_dir, tiny_student, teacher_server, run)
    app = build_graph().compile(checkpointer=InMemorySaver())
    out = app.invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)

    assert [r["round"] for r in out["history"]] == [0, 1, 2]
    assert out["stop_reason"] == "max_rounds"
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 2 * 2 * 2 and len({s["id"] for s in samples}) == len(samples)
    accepted = [s for s in samples if s["verdict"] == "accepted"]
    assert accepted and all(s["label"] in ("positive", "negative") and "predicted" in s for s in accepted)
    assert all(s["teacher_tokens"] > 0 for s in samples)
    rounds = read_jsonl(run / "rounds.jsonl")
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert set(rounds[1]["nodes"]) == {"analyst", "generator", "critic", "student"}
    assert rounds[2]["teacher_tokens"] > rounds[1]["teacher_tokens"] > 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == "max_rounds" and summary["rounds"] == 2
    # Each accepted text records whether the student got it wrong before training on it; the summary counts
    # them by stance (whether hard texts find weaknesses more often than easy ones).
    assert all(s["fooled"] == (s["predicted"] != s["label"]) for s in accepted)
    for stance in ("hard", "easy"):
        mine = [s for s in accepted if s["stance"] == stance]
        assert (summary[f"{stance}_accepted"], summary[f"{stance}_fooled"]) == (
            len(mine),
            sum(s["fooled"] for s in mine),
        )
    assert (run / "model" / "model.safetensors").exists()
    # The prompts the run used are in its folder, whoever started it (here the graph alone, as Studio does).
    assert all(
        (run / "prompts" / f"{a}.md").read_text() == resolved(ctx).prompt(a) for a in ("analyst", "generator", "critic")
    )
    # The critic's label call (label-only by default) never carries the requested label: its user turn is the
    # text alone, after a system message with the label list.
    plain = [r for r in teacher_server.requests if "response_format" not in r]
    turns = [r["messages"][-1]["content"] for r in plain]
    shots = len(out["seeds"])  # labelled once before round 1, the shot check
    check = summary["shot_check"]  # the scripted teacher answers by keyword, so it gets every shot right
    assert (check["shots"], check["agreed"], check["no_better_than_chance"]) == (shots, shots, False)
    check_cost = out["stats"]["0"]["shot_check"]  # charged to round 1's running total, after round 0's record
    assert check_cost["calls"] == shots and rounds[0]["teacher_tokens"] == 0 < check_cost["prompt_tokens"]
    texts = {" ".join(s["text"].split()) for s in [*samples, *out["seeds"]]}
    assert len(turns) == len(samples) + shots and set(turns) <= texts


@pytest.mark.parametrize(("shot_check", "last_round"), [(False, 1), (True, 0)])
def test_budget_stops_the_loop(sentiment_dir, tiny_student, teacher_server, tmp_path, shot_check, last_round):
    # One token: the first round overruns it and is the last; with the shot check, the check's own calls
    # before round 1 already have, so no round runs.
    ctx = make_context(
        sentiment_dir, tiny_student, teacher_server, tmp_path / "run", max_rounds=10, budget_tokens=1,
        shot_check=shot_check,
    )  # fmt: skip
    out = (
        build_graph()
        .compile(checkpointer=InMemorySaver())
        .invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)
    )
    assert out["stop_reason"] == "token_budget" and out["history"][-1]["round"] == last_round
    assert ("shot_check" in out["stats"]["0"]) == shot_check


def test_the_shot_check_keeps_to_its_share_of_the_budget(sentiment_dir, tiny_student, teacher_server, tmp_path):
    # A share of 1e-5 of 100,000 tokens is 1 token: the first shot, which prices a label, is all it labels.
    ctx = make_context(
        sentiment_dir, tiny_student, teacher_server, tmp_path / "run", max_rounds=1, budget_tokens=100_000,
        shot_check_share=1e-5,
    )  # fmt: skip
    out = (
        build_graph()
        .compile(checkpointer=InMemorySaver())
        .invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)
    )
    check, paid = out["shot_check"], out["stats"]["0"]["shot_check"]
    assert (check["shots"], check["given"], paid["calls"]) == (1, len(out["seeds"]), 1) and len(out["seeds"]) > 1
