"""benchmarks/tables.py: the words of a table follow the protocol its runs followed, and a committed result can be
redrawn from its JSON without changing what was measured."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from evokd.bench.settings import Settings
from evokd.bench.tables import notes, redraw, stances, summarise_method


def run(seed: int, score: float, protocol: str) -> dict:
    """One finished run with a seed-only round 0 and one round at 900 tokens."""
    rung = {"score": score, "last_score": score, "tokens": 900, "fallback": False, "rounds": [1]}
    return {
        "seed": seed,
        "score": score,
        "tokens": 900,
        "seconds": 1.0,
        "labelled": 2,
        "protocol": protocol,
        "gold_dev_labels": 300 if protocol == "oracle-dev" else 0,
        "rounds_run": [0, 1],
        "curve": [{"dev": 0.5, "test": 0.5, "tokens": 0}, {"dev": score, "test": score, "tokens": 900}],
        "budgets": [{"budget": 1000, **rung}, {"budget": 2000, **rung}],
    }


def committed(folder: Path, protocol: str) -> Path:
    """A result JSON as `evokd bench` writes it, with stale notes and no paired comparisons, for a tiny dataset."""
    data = folder / "data"
    data.mkdir()
    (data / "card.json").write_text(json.dumps({"kind": "classification"}), encoding="utf-8")
    s = Settings(seeds=[1, 2, 3], budget_tokens=2000)
    runs = {
        "pool-random": [run(i, x, protocol) for i, x in enumerate((0.60, 0.62, 0.58), 1)],
        "pool-random-st": [run(i, x, protocol) for i, x in enumerate((0.55, 0.56, 0.54), 1)],
    }
    skip = ("teacher_url", "datasets", "out", "work")
    summary = {
        "dataset": str(data),
        "date": "2026-12-05",
        "teacher": "t",
        "student": "s",
        "machine": "m",
        "code_sha256": "cells-code",
        "metric": "macro-F1",
        "settings": {k: v for k, v in dataclasses.asdict(s).items() if k not in skip},
        "methods": {name: summarise_method(rs, None) for name, rs in runs.items()},
        "references": {},
        "against_best_baseline": {},
        "runs": runs,
        "notes": ["stale"],
    }
    path = folder / "results" / "data.json"
    path.parent.mkdir()
    path.write_text(json.dumps(summary), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("protocol", "says", "never"),
    [
        ("few-shot", "last round within the budget", "best dev score"),
        ("oracle-dev", "round with the best dev score", "last round within the budget (no gold"),
    ],
)
def test_redraw_words_the_selection_by_protocol_and_keeps_the_measurements(
    tmp_path: Path, protocol: str, says: str, never: str
) -> None:
    path = committed(tmp_path, protocol)
    before = json.loads(path.read_text(encoding="utf-8"))
    after = redraw(path)
    table = path.with_suffix(".md").read_text(encoding="utf-8")
    assert says in table and never not in table and "stale" not in table
    header = "(last round, mean ± std)" if protocol == "few-shot" else "(dev-selected, mean ± std)"
    assert header in table
    # The self-training variant is paired with the run it varies: 3 losses of 5 points each, an interval below 0.
    st = after["against_best_baseline"]["pool-random-st vs pool-random"]
    assert st["delta_mean"] == pytest.approx(-0.05) and st["losses"] == 3 and not st["covers_zero"]
    assert "pool-random-st vs pool-random: Δ -0.050" in table
    # What was measured stays as measured: the runs, the scores and the cells' code identity.
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    for key in ("runs", "methods", "code_sha256", "settings", "date"):
        assert on_disk[key] == before[key]
    assert path.with_suffix(".png").is_file() and (path.parent / "README.md").read_text(encoding="utf-8").count(
        table.splitlines()[0]
    )


def test_the_table_says_how_often_hard_and_easy_texts_fooled_the_student():
    counts = [
        {"hard_accepted": 6, "hard_fooled": 3, "easy_accepted": 4, "easy_fooled": 0},
        {"hard_accepted": 4, "hard_fooled": 1, "easy_accepted": 6, "easy_fooled": 1},
    ]
    generating = summarise_method([run(i, 0.6, "few-shot") | c for i, c in enumerate(counts, 1)], None)
    labelling = summarise_method([run(1, 0.6, "few-shot")], None)  # pool labels only: no stance
    lines = stances({"methods": {"evokd": generating, "pool-random": labelling}})
    assert "| evokd | 4 of 10 (40%) | 1 of 10 (10%) |" in lines
    assert not any(line.startswith("| pool-random") for line in lines)
    assert stances({"methods": {"pool-random": labelling}}) == []


def test_a_table_of_references_alone_explains_no_method_recipe():
    teacher = {"n": 425, "of": 425}
    alone = notes(Settings(), {}, {"teacher": teacher}, "classification")
    assert len(alone) == 1 and alone[0].startswith("teacher: zero-shot labels on the same test texts")
    with_runs = notes(Settings(), {"pool-random": [run(1, 0.6, "few-shot")]}, {"teacher": teacher}, "classification")
    assert with_runs[0].startswith("Every method trains") and "last round within the budget" in with_runs[0]
    assert with_runs[-1] == alone[0]


def test_the_full_shot_note_says_how_its_epoch_was_kept():
    full = {"train_examples": 1000, "epochs_kept_of_run": ["10/10"], "seeds": [1]}
    few_shot = notes(Settings(), {}, {"full-shot": {**full, "protocol": "few-shot"}}, "classification")
    assert few_shot == [
        "full-shot: 1,000 train examples, up to 10 epochs with the last epoch kept (epoch kept / epochs run: "
        "10/10), seeds 1 (mean ± std)."
    ]
    for older in ({**full, "protocol": "oracle-dev"}, full):  # a result from before the protocol was recorded
        assert "with the epoch chosen on dev" in notes(Settings(), {}, {"full-shot": older}, "classification")[0]


def test_an_oracle_dev_row_in_a_few_shot_table_is_named_in_the_notes():
    few = {"pool-random": [run(1, 0.6, "few-shot")]}
    assert not any("oracle-dev protocol" in line for line in notes(Settings(), few, {}, "classification"))
    mixed = {**few, "pool-random-oracle": [run(1, 0.62, "oracle-dev")]}
    said = [line for line in notes(Settings(), mixed, {}, "classification") if "oracle-dev protocol" in line]
    assert len(said) == 1 and said[0].startswith("pool-random-oracle ran under the oracle-dev protocol")
    assert summarise_method(mixed["pool-random-oracle"], None)["labelled_max"] == 2 + 300
