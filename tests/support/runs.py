"""A fast run: its flags and context on the tiny data, and the comparable part of a run folder.

Test modules import from here (or get fixtures from conftest.py), never from another test module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evokd.cli import main
from evokd.records import read_jsonl
from evokd.settings import Context
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher

# --- a fast run ---------------------------------------------------------------------------------


def run_args(data: Path, student: Path, server: FakeOpenAI, out: Path, *extra: str) -> list[str]:
    """`evokd run` flags for a fast run on the tiny data and model."""
    return [
        "run", "--data", str(data), "--student", str(student), "--teacher-url", server.url,
        "--rounds", "2", "--per-round", "2", "--min-steps", "4", "--epochs", "1", "--batch-size", "8",
        "--max-retries", "0", "--out", str(out), *extra,
    ]  # fmt: skip


def make_context(data: Path, student: Path, server: FakeOpenAI, run: Path, **overrides: Any) -> Context:
    """A fast run configuration for the tiny data and model, as the graph (or Studio) gets it."""
    settings: dict[str, Any] = dict(
        data=str(data), student=str(student), teacher_url=server.url, teacher_model="teacher", run_dir=str(run),
        max_rounds=2, per_round=2, min_steps=4, epochs=1, batch_size=8, concurrency=2, max_retries=0, patience=5,
        lr=1e-3,
    )  # fmt: skip
    settings.update(overrides)
    return Context(**settings)


# --- comparing runs -----------------------------------------------------------------------------

# The Critic's JSON call, for tests that script, hold or break labelling requests by their schema (LabelVerdict).
JSON_CALL = ("--label-call", "json")
# A learning rate the tiny student actually learns at, so metrics move with what it was trained on
# and an equality between two runs means something; the JSON call, which the crash and fault tests hold.
LEARN = ("--lr", "5e-3", "--min-steps", "12", "--concurrency", "2", *JSON_CALL)


def outcome(run: Path) -> dict[str, Any]:
    """Everything a run decided and measured, without wall times: samples, per-round metrics, summary.

    The determinism, fault and crash tests compare an interrupted and resumed run against an
    uninterrupted one with it.
    """
    rounds = [
        {
            "round": r["round"],
            "dev": r["dev"],
            "test": r["test"],
            "accepted": r["accepted"],
            "rejected": r["rejected"],
            "teacher_tokens": r["teacher_tokens"],
            "steps": r["train"].get("steps"),
            "loss": r["train"].get("loss"),
        }
        for r in read_jsonl(run / "rounds.jsonl")
    ]
    summary = json.loads((run / "summary.json").read_text())
    for timing in ("seconds", "model"):
        summary.pop(timing, None)
    return {"samples": read_jsonl(run / "samples.jsonl"), "rounds": rounds, "summary": summary}


def run_outcome(data: Path, student: Path, out: Path) -> dict[str, Any]:
    """Run uninterrupted with the fast flags (`LEARN`) against a fresh by-seed teacher; its `outcome`."""
    # A fresh server: replies depend on the request alone, as with a seeded teacher.
    with FakeOpenAI(SentimentTeacher(by_seed=True)) as server:
        assert main(run_args(data, student, server, out, *LEARN)) == 0
    return outcome(out)


_REFERENCE: dict[str, dict[str, Any]] = {}


def reference_outcome(data: Path, student: Path, folder: Path) -> dict[str, Any]:
    """`run_outcome` of an uninterrupted run on the `sentiment_dir` data, run once per test session.

    What a run decides depends on the data's content, not its path, so every test comparing
    against an uninterrupted run on that fixture can share one.
    """
    if "sentiment" not in _REFERENCE:
        _REFERENCE["sentiment"] = run_outcome(data, student, folder / "reference")
    return _REFERENCE["sentiment"]
