"""benchmarks/final_pass.py: the final pass trains on the shots and every label the run may train on, of the
rounds within its scored round, and on nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evokd.bench.final_pass import against_first, over_seeds, teacher_accuracy
from evokd.handoff.retrain import labels_of, trained_samples
from evokd.tasks import adapter_for


def test_labels_are_the_shots_then_the_trainable_accepted_samples_up_to_the_scored_round(tmp_path: Path):
    shots = [{"n": 0, "text": "good", "label": "pos"}, {"n": 1, "text": "bad", "label": "neg"}]
    samples = [
        {
            "id": "a",
            "round": 1,
            "verdict": "accepted",
            "text": "fine",
            "label": "pos",
            "pool_id": "t1",
            "teacher_probs": {"pos": 0.9},
        },
        {"id": "b", "round": 1, "verdict": "rejected", "text": "meh", "label": "neg"},
        {
            "id": "c",
            "round": 2,
            "verdict": "accepted",
            "text": "awful",
            "label": "neg",
            "noise": "held_out",
            "pool_id": "t2",
        },
        {"id": "d", "round": 2, "verdict": "accepted", "text": "dull", "label": "neg", "calibration": True},
        {"id": "e", "round": 2, "verdict": "accepted", "text": "poor", "label": "neg", "pool_id": "t3"},
        {"id": "f", "round": 3, "verdict": "accepted", "text": "great", "label": "pos"},  # past the scored round
    ]
    for name, rows in (("seeds.jsonl", shots), ("samples.jsonl", samples)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    kept = trained_samples(tmp_path, 2)
    got = labels_of(tmp_path, kept, adapter_for("classification"))
    assert [e["text"] for e in got] == ["good", "bad", "fine", "poor"]
    assert got[0] == {"text": "good", "label": "pos"} and got[2]["teacher_probs"] == {"pos": 0.9}
    # reporting only: "fine" is gold pos (right), "poor" gold pos too (wrong); the held-out "awful" is not counted
    train = [{"text": "fine", "label": "pos"}, {"text": "awful", "label": "pos"}, {"text": "poor", "label": "pos"}]
    assert teacher_accuracy(kept, train) == {"all": 0.5, "pos": 0.5}


def test_students_compare_paired_by_seed_against_the_first_one_named():
    rows = [
        {"final_pass": {"default": {"dev": 0.70, "test": 0.71}, "mpnet": {"dev": 0.75, "test": 0.74}}},
        {"final_pass": {"default": {"dev": 0.72, "test": 0.70}, "mpnet": {"dev": 0.74, "test": 0.76}}},
        {"final_pass": {"default": {"dev": 0.69, "test": 0.72}, "mpnet": {"dev": 0.70, "test": 0.73}}},
    ]
    paired = against_first(rows, ["", "mpnet"])
    assert list(paired) == ["mpnet"]
    assert paired["mpnet"]["dev"]["delta_mean"] == pytest.approx((0.05 + 0.02 + 0.01) / 3, abs=1e-4)
    assert paired["mpnet"]["test"]["wins"] == 3 and paired["mpnet"]["test"]["seeds"] == 3


def test_each_students_scores_are_summarised_over_the_seeds():
    rows = [{"final_pass": {"mpnet": {"dev": d, "test": t}}} for d, t in ((0.80, 0.79), (0.82, 0.81), (0.84, 0.83))]
    got = over_seeds([r["final_pass"] for r in rows], "mpnet")
    assert got["test"]["mean"] == pytest.approx(0.81) and got["test"]["std"] == pytest.approx(0.02)
    low, high = got["dev"]["interval"]
    assert low < 0.82 < high and high - 0.82 == pytest.approx(0.82 - low)
