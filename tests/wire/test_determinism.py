"""Same seed, data and teacher replies give the same run, down to the student's losses and metrics (CPU).

`outcome` is the comparable part of a run folder; the fault and crash tests compare an interrupted
and resumed run against an uninterrupted one with it.
"""

from __future__ import annotations

import json
from pathlib import Path

from evokd.cli import main
from evokd.records import read_jsonl
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher
from tests.test_cli import run_args

# A learning rate the tiny student actually learns at, so metrics move with what it was trained on
# and an equality between two runs means something.
LEARN = ("--lr", "5e-3", "--min-steps", "12", "--concurrency", "2")


def outcome(run: Path) -> dict[str, object]:
    """Everything a run decided and measured, without wall times: samples, per-round metrics, summary."""
    rounds = [{"round": r["round"], "dev": r["dev"], "test": r["test"], "accepted": r["accepted"],
               "rejected": r["rejected"], "teacher_tokens": r["teacher_tokens"],
               "steps": r["train"].get("steps"), "loss": r["train"].get("loss")}
              for r in read_jsonl(run / "rounds.jsonl")]
    summary = json.loads((run / "summary.json").read_text())
    for timing in ("seconds", "model"):
        summary.pop(timing, None)
    return {"samples": read_jsonl(run / "samples.jsonl"), "rounds": rounds, "summary": summary}


_REFERENCE: dict[str, dict[str, object]] = {}


def run_outcome(data: Path, student: Path, out: Path) -> dict[str, object]:
    """Run uninterrupted with the fast flags (`LEARN`) against a fresh by-seed teacher; its `outcome`."""
    # A fresh server: replies depend on the request alone, as with a seeded teacher.
    with FakeOpenAI(SentimentTeacher(by_seed=True)) as server:
        assert main(run_args(data, student, server, out, *LEARN)) == 0
    return outcome(out)


def reference_outcome(data: Path, student: Path, folder: Path) -> dict[str, object]:
    """`run_outcome` of an uninterrupted run on the `sentiment_dir` data, run once per test session.

    What a run decides depends on the data's content, not its path, so every test comparing
    against an uninterrupted run on that fixture can share one.
    """
    if "sentiment" not in _REFERENCE:
        _REFERENCE["sentiment"] = run_outcome(data, student, folder / "reference")
    return _REFERENCE["sentiment"]


def test_same_seed_and_replies_give_the_same_run(sentiment_dir, tiny_student, tmp_path):
    first = reference_outcome(sentiment_dir, tiny_student, tmp_path)
    second = run_outcome(sentiment_dir, tiny_student, tmp_path / "again")
    assert first == second
    # Not vacuous: generated samples were trained on, and the student's losses and dev scores moved.
    assert first["summary"]["accepted"] > 0
    assert len({r["loss"] for r in first["rounds"]}) == 3 and len({r["dev"]["score"] for r in first["rounds"]}) > 1


def test_another_seed_gives_another_run(sentiment_dir, tiny_student, tmp_path):
    """The comparison above can fail: a different seed changes the seeds drawn and the training."""
    with FakeOpenAI(SentimentTeacher(by_seed=True)) as server:
        for seed in (0, 1):
            args = run_args(sentiment_dir, tiny_student, server, tmp_path / f"seed{seed}", *LEARN, "--rounds", "0")
            assert main([*args, "--seed", str(seed)]) == 0
    assert outcome(tmp_path / "seed0")["rounds"] != outcome(tmp_path / "seed1")["rounds"]
