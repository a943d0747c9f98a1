"""Human review: the graph pauses after the Analyst and the Critic, applies the answer, and resumes."""

from __future__ import annotations

import io

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from evokd.cli import console_review as terminal
from evokd.cli import main
from evokd.graph.build import build_graph
from evokd.graph.review import DROPPED, ReviewError, reviewed_analysis, reviewed_batch
from evokd.records import read_jsonl
from tests.support.fake_openai import schema_name
from tests.support.runs import make_context, run_args

LABELS = ("negative", "positive")
ANALYSIS = {
    "summary": "It misses mild wording.",
    "weaknesses": [{"label": "negative", "pattern": "mild complaints"}],
    "status": "ok",
}
BATCH = [
    {"id": "r1-0", "verdict": "accepted", "label": "negative", "text": "a"},
    {"id": "r1-1", "verdict": "rejected", "reason": "duplicate", "text": "b"},
    {"id": "r1-2", "verdict": "accepted", "label": "positive", "text": "c"},
]


def calls(server, kind: str) -> int:
    """How many requests the scripted teacher got for one reply model."""
    return sum(schema_name(r) == kind for r in server.requests)


def test_answers_are_applied_or_refused():
    assert reviewed_analysis(ANALYSIS, "approve", LABELS)["review"] == "approved"
    edited = reviewed_analysis(
        ANALYSIS, {"analysis": {"summary": "s", "weaknesses": [{"label": "positive", "pattern": "p"}]}}, LABELS
    )
    assert edited["review"] == "edited" and edited["weaknesses"] == [{"label": "positive", "pattern": "p"}]
    with pytest.raises(ReviewError, match="unknown label"):
        reviewed_analysis(
            ANALYSIS, {"analysis": {"summary": "s", "weaknesses": [{"label": "neutral", "pattern": "p"}]}}, LABELS
        )
    with pytest.raises(ReviewError, match="summary"):
        reviewed_analysis(ANALYSIS, {"analysis": {"weaknesses": []}}, LABELS)
    dropped = reviewed_batch(BATCH, {"drop": ["r1-2"]})
    assert [(s["verdict"], s.get("reason")) for s in dropped] == [
        ("accepted", None),
        ("rejected", "duplicate"),
        ("rejected", DROPPED),
    ]
    assert reviewed_batch(BATCH, True) == BATCH
    with pytest.raises(ReviewError, match="r1-1"):  # already rejected: nothing to drop
        reviewed_batch(BATCH, {"drop": ["r1-1"]})
    with pytest.raises(ReviewError, match="drop"):
        reviewed_batch(BATCH, "maybe")


def test_graph_pauses_after_analyst_and_critic(sentiment_dir, tiny_student, teacher_server, tmp_path):
    run = tmp_path / "run"
    ctx = make_context(sentiment_dir, tiny_student, teacher_server, run, max_rounds=1, review=("analysis", "samples"))
    app, cfg = build_graph().compile(checkpointer=InMemorySaver()), {"configurable": {"thread_id": "t"}}

    out = app.invoke({}, cfg, context=ctx)
    question = out["__interrupt__"][0].value
    assert question["review"] == "analysis" and question["analysis"]["summary"] == "It misses mild wording."
    assert app.get_state(cfg).next == ("review_analysis",)
    assert (calls(teacher_server, "Analysis"), calls(teacher_server, "GeneratedText")) == (1, 0)

    # A bad answer pauses again with the reason; nothing is generated meanwhile.
    out = app.invoke(
        Command(resume={"analysis": {"summary": "s", "weaknesses": [{"label": "neutral", "pattern": "p"}]}}),
        cfg,
        context=ctx,
    )
    assert "unknown label" in out["__interrupt__"][0].value["error"]
    edited = {
        "summary": "Edited by a person.",
        "weaknesses": [{"label": "positive", "pattern": "quietly upbeat asides"}],
    }
    out = app.invoke(Command(resume={"analysis": edited}), cfg, context=ctx)
    question = out["__interrupt__"][0].value
    assert question["review"] == "samples" and question["samples"]
    assert calls(teacher_server, "Analysis") == 1  # resuming the review did not re-run the Analyst
    generator_prompts = [
        m["content"] for r in teacher_server.requests if schema_name(r) == "GeneratedText" for m in r["messages"]
    ]
    assert generator_prompts and all("quietly upbeat asides" in p for p in generator_prompts)
    assert not (run / "student" / "round-1").exists()  # the student has not trained on the batch yet

    dropped = question["samples"][0]["id"]
    out = app.invoke(Command(resume={"drop": [dropped]}), cfg, context=ctx)
    assert out["stop_reason"] == "max_rounds"
    samples = {s["id"]: s for s in read_jsonl(run / "samples.jsonl")}
    assert samples[dropped]["verdict"] == "rejected" and samples[dropped]["reason"] == DROPPED
    assert read_jsonl(run / "rounds.jsonl")[1]["rejected"].get(DROPPED) == 1
    assert app.get_state(cfg).values["analysis"]["review"] == "edited"


def test_terminal_reviewer_turns_replies_into_answers():
    shown: list[str] = []
    replies = iter(["drop 1", "add positive: quietly upbeat asides", "summary Edited.", ""])
    answer = terminal.ask(
        {"review": "analysis", "round": 1, "labels": list(LABELS), "analysis": ANALYSIS},
        read=lambda _: next(replies),
        show=shown.append,
    )
    assert answer == {
        "analysis": {"summary": "Edited.", "weaknesses": [{"label": "positive", "pattern": "quietly upbeat asides"}]}
    }
    assert any("mild complaints" in line for line in shown)

    replies = iter(["add neutral: x", ""])  # an unknown label is refused and asked again
    assert (
        terminal.ask(
            {"review": "analysis", "round": 1, "labels": list(LABELS), "analysis": ANALYSIS},
            read=lambda _: next(replies),
            show=shown.append,
        )
        == "approve"
    )
    assert any("unknown label" in line for line in shown)

    samples = {
        "review": "samples",
        "round": 1,
        "samples": [
            {"id": "r1-0", "stance": "hard", "label": "negative", "text": "a"},
            {"id": "r1-2", "stance": "easy", "label": "positive", "text": "c"},
        ],
    }
    replies = iter(["r1-9", "2"])
    assert terminal.ask(samples, read=lambda _: next(replies), show=shown.append) == {"drop": ["r1-2"]}
    assert terminal.ask(samples, read=lambda _: "", show=shown.append) == "approve"


def test_cli_review_reads_stdin(sentiment_dir, tiny_student, teacher_server, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "1", "--review", "analysis,samples")
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("add positive: quietly upbeat asides\n\n")
    )  # stdin ends before the samples
    assert main(args) == 2
    assert "evokd resume" in capsys.readouterr().err
    assert not (out / "summary.json").exists()

    monkeypatch.setattr("sys.stdin", io.StringIO("1\n"))  # resume asks again where it stopped: the samples
    assert main(["resume", str(out), "--teacher-url", teacher_server.url]) == 0
    samples = read_jsonl(out / "samples.jsonl")
    assert [s["reason"] for s in samples].count(DROPPED) == 1
    generator_prompts = [
        m["content"] for r in teacher_server.requests if schema_name(r) == "GeneratedText" for m in r["messages"]
    ]
    assert all("quietly upbeat asides" in p for p in generator_prompts)
