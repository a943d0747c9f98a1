"""benchmarks/passes_control.py: one pass per round of the cell, each as long as the round's, and the two
paired differences that split a pool run's gain into passes and labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evokd.bench.passes_control import steps_per_pass, summary


def test_each_pass_is_as_long_as_its_rounds_and_a_round_that_trained_nothing_adds_none(tmp_path: Path):
    rounds = [
        {"round": 0, "train": {"steps": 40}},
        {"round": 2, "train": {"steps": 0}},  # nothing accepted: the student node trained nothing
        {"round": 1, "train": {"steps": 42}},
        {"round": 3, "train": {"steps": 48}},  # past the scored round
    ]
    (tmp_path / "rounds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rounds), encoding="utf-8")
    assert steps_per_pass(tmp_path, 2) == [40, 42, 0]
    assert steps_per_pass(tmp_path, 0) == [40]


def row(seed: int, seed_only: float, control: float, pool: float, first: float) -> dict:
    return {
        "seed": seed,
        "first_pass_test": first,
        "scores": {
            "seed-only": {"dev": seed_only, "test": seed_only},
            "control": {"dev": control, "test": control},
            "pool-random": {"dev": pool, "test": pool},
        },
    }


def test_the_method_is_paired_with_the_control_and_the_control_with_seed_only():
    rows = [row(1, 0.01, 0.05, 0.15, 0.01), row(2, 0.00, 0.02, 0.12, 0.00), row(3, 0.03, 0.03, 0.18, 0.03)]
    got = summary("wnut16", "pool-random", rows, {})
    labels = got["pool-random - control"]["test"]
    assert labels["against"] == "control" and labels["delta_mean"] == pytest.approx((0.10 + 0.10 + 0.15) / 3, abs=1e-4)
    assert labels["wins"] == 3 and not labels["covers_zero"]
    passes = got["control - seed-only"]["test"]
    assert passes["delta_mean"] == pytest.approx((0.04 + 0.02 + 0.0) / 3, abs=1e-4) and passes["wins"] == 2
    assert got["over_seeds"]["control"]["test"]["mean"] == pytest.approx(0.0333, abs=1e-4)
    assert got["first_pass_is_seed_only"]


def test_a_first_pass_that_differs_from_seed_only_is_flagged():
    rows = [row(1, 0.01, 0.05, 0.15, 0.01), row(2, 0.00, 0.02, 0.12, 0.04)]
    assert not summary("wnut16", "pool-random", rows, {})["first_pass_is_seed_only"]
