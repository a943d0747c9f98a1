"""benchmarks/over_texts.py: intervals over seeds and test texts, and a student against its teacher on the same
texts, from the predictions cells save."""

from __future__ import annotations

import json
from pathlib import Path

from evokd.bench.curves import t_interval
from evokd.bench.over_texts import for_table, over_texts, scored_predictions
from evokd.bench.tables import over_seeds_and_texts
from evokd.handoff.card import PREDICTIONS
from evokd.task import Task

TASK = Task("classification", ("neg", "pos"))
GOLD = [{"text": f"t{i}", "label": "pos" if i % 2 else "neg"} for i in range(40)]
TRUTH = [ex["label"] for ex in GOLD]


def flipped(every: int, offset: int = 0) -> list[str]:
    """The gold labels with every ``every``-th one (from ``offset``) wrong."""
    return [("neg" if y == "pos" else "pos") if (i - offset) % every == 0 else y for i, y in enumerate(TRUTH)]


def test_perfect_predictions_leave_no_doubt_and_one_seed_gives_no_interval() -> None:
    assert over_texts(TASK, GOLD, [TRUTH, TRUTH])["interval"] == [1.0, 1.0]
    one = over_texts(TASK, GOLD, [flipped(4)])
    assert one["interval"] is None and one["covers_zero"] and one["seeds"] == 1


def test_the_texts_widen_the_interval_over_seeds() -> None:
    seeds = [flipped(4, 0), flipped(5, 1), flipped(3, 2)]
    found = over_texts(TASK, GOLD, seeds)
    from evokd.tasks import evaluate

    mean, low, high = t_interval([evaluate(TASK, GOLD, p)["score"] for p in seeds])
    assert abs(found["mean"] - mean) < 1e-4
    assert found["text_std"] > 0
    assert found["interval"][0] < low and found["interval"][1] > high


def test_against_the_teacher_the_difference_is_paired_on_the_same_texts() -> None:
    teacher = flipped(3)  # wrong on 14 of 40 texts
    better = over_texts(TASK, GOLD, [TRUTH, flipped(20), flipped(20, 1)], teacher)
    assert better["mean"] > 0.2 and not better["covers_zero"]
    same = over_texts(TASK, GOLD, [teacher, teacher, flipped(3, 1)], teacher)
    assert same["covers_zero"]


def cell(folder: Path, predicted: list[str]) -> Path:
    """A finished cell's folder with the test predictions its kept student saved."""
    (folder / "model").mkdir(parents=True)
    (folder / "model" / PREDICTIONS).write_text(json.dumps({"dev": [], "test": predicted}), encoding="utf-8")
    return folder


def test_only_predictions_that_give_the_reported_score_are_used(tmp_path: Path) -> None:
    folder = cell(tmp_path / "a", flipped(4))
    assert scored_predictions(TASK, GOLD, folder, 0.7333) == flipped(4)  # macro-F1 of 30 right in 40
    assert scored_predictions(TASK, GOLD, folder, 0.70) is None  # another round's predictions
    assert scored_predictions(TASK, GOLD, tmp_path / "none", 0.75) is None
    runs = {
        "kept": [(folder, {"score": 0.7333}), (cell(tmp_path / "b", TRUTH), {"score": 1.0})],
        "lost": [(folder, {"score": 0.7333}), (tmp_path / "c", {"score": 0.5})],
    }
    found = for_table(TASK, GOLD, runs, teacher=flipped(3))
    assert set(found) == {"kept", "kept vs teacher"}


def test_the_table_says_beats_only_where_the_interval_excludes_zero() -> None:
    summary = {
        "settings": {"budget_tokens": 16000},
        "over_texts": {
            "pool-random": over_texts(TASK, GOLD, [TRUTH, flipped(20)]),
            "pool-random vs teacher": {"mean": 0.1, "interval": [0.02, 0.18], "covers_zero": False, "seeds": 2,
                                       "texts": 40},
            "seed-only vs teacher": {"mean": 0.1, "interval": [-0.02, 0.22], "covers_zero": True, "seeds": 2,
                                     "texts": 40},
        },
    }  # fmt: skip
    lines = "\n".join(over_seeds_and_texts(summary))
    assert "pool-random vs teacher: Δ +0.100 [0.020, 0.180], beats" in lines
    assert "seed-only vs teacher: Δ +0.100 [-0.020, 0.220], no difference shown" in lines
    assert over_seeds_and_texts({"over_texts": {}}) == []
