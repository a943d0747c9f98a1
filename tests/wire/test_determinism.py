"""Same seed, data and teacher replies give the same run, down to the student's losses and metrics (CPU)."""

from __future__ import annotations

from evokd.cli import main
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher
from tests.support.runs import LEARN, outcome, reference_outcome, run_args, run_outcome


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
