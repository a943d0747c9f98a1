"""The few-shot protocol reads no gold label beyond the k shots: a run handed dev and test splits whose every
label is wrong decides exactly as a run with the real labels, and trains the same student; only the scores
it reports differ. Under oracle-dev the gold dev labels decide."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver

from evokd.cli import main
from evokd.graph.build import build_graph
from evokd.records import read_jsonl
from tests.support.data import write_jsonl
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher
from tests.support.runs import make_context, run_args

FLIP = {"positive": "negative", "negative": "positive"}


def poisoned(data: Path, folder: Path) -> Path:
    """A copy of ``data`` whose dev and test labels are all flipped (train, and so the shots, unchanged)."""
    shutil.copytree(data, folder)
    for split in ("dev", "test"):
        rows = read_jsonl(folder / f"{split}.jsonl")
        write_jsonl(folder / f"{split}.jsonl", [{**r, "label": FLIP[r["label"]]} for r in rows])
    return folder


def run(data: Path, student: Path, run_dir: Path, **settings: object) -> dict:
    """One run with a fresh scripted teacher, its texts in order; what it decided, and its kept weights."""
    with FakeOpenAI(SentimentTeacher()) as teacher:
        ctx = make_context(data, student, teacher, run_dir, concurrency=1, max_rounds=3, lr=5e-3, **settings)
        out = (
            build_graph()
            .compile(checkpointer=InMemorySaver())
            .invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)
        )
    summary = json.loads((run_dir / "summary.json").read_text())
    history = out["history"]
    return {
        "decided": {
            "rounds": [r["round"] for r in history],
            "best_round": summary["best_round"],
            "stop_reason": summary["stop_reason"],
            "epochs": [r["train"].get("epoch") for r in history],
            "agreement": [r.get("fresh_agreement") for r in history],
            "accepted": [r["accepted"] for r in history],
        },
        "weights": (run_dir / "model" / "model.safetensors").read_bytes(),
        "dev": [r["dev"]["score"] for r in history],
        "test": [r["test"]["score"] for r in history],
        "epoch_scored": [r["train"].get("dev") is not None for r in history],
    }


def test_few_shot_decides_and_trains_alike_on_poisoned_dev_and_test_labels(sentiment_dir, tiny_student, tmp_path):
    bad = poisoned(sentiment_dir, tmp_path / "poisoned")
    # Hard targets: with the soft-target loss this tiny student ends predicting one label, whose macro-F1 is
    # the same against flipped labels, and the last check could not tell the reported scores apart.
    real = run(sentiment_dir, tiny_student, tmp_path / "real", patience=1, soft_targets=False)
    flipped = run(bad, tiny_student, tmp_path / "flipped", patience=1, soft_targets=False)
    assert flipped["decided"] == real["decided"] and flipped["weights"] == real["weights"]
    assert real["decided"]["best_round"] == real["decided"]["rounds"][-1]  # the last round is kept
    assert not any(real["epoch_scored"])  # no epoch was picked on dev
    assert flipped["dev"] != real["dev"] and flipped["test"] != real["test"]  # only what is reported differs


def test_oracle_dev_reads_the_gold_dev_labels(sentiment_dir, tiny_student, tmp_path):
    bad = poisoned(sentiment_dir, tmp_path / "poisoned")
    real = run(sentiment_dir, tiny_student, tmp_path / "real", protocol="oracle-dev")
    flipped = run(bad, tiny_student, tmp_path / "flipped", protocol="oracle-dev")
    for r in (real, flipped):
        assert all(r["epoch_scored"][:1])  # the seed pass picks its epoch on dev
        first_best = r["dev"].index(max(r["dev"]))
        assert r["decided"]["best_round"] == first_best  # the kept round follows dev
    assert flipped["weights"] != real["weights"] or flipped["decided"] != real["decided"]


def test_dev_feedback_needs_the_oracle_dev_protocol(sentiment_dir, tiny_student, teacher_server, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, "--dev-feedback", "3")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--protocol oracle-dev" in err[0] and not out.exists()
