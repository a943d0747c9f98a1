"""Data-parallel student training: real torch ranks (gloo on this CPU) launched by torch's elastic launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from evokd.cli import main
from evokd.records import read_jsonl
from evokd.student import model
from evokd.student.distributed import Job, train_in_ranks
from evokd.student.model import Head
from evokd.student.train import TrainConfig, predict, train
from tests.support.data import NEG, POS, write_jsonl
from tests.support.runs import run_args

EXAMPLES = [{"text": t, "label": "positive"} for t in POS] + [{"text": t, "label": "negative"} for t in NEG]
HEAD = Head(("negative", "positive"))
CFG = TrainConfig(lr=5e-3, batch_size=4, epochs=20, min_steps=12, seed=3)  # the tiny student learns the set


def accuracy(student: model.Student) -> float:
    return sum(p == ex["label"] for p, ex in zip(predict(student, EXAMPLES), EXAMPLES, strict=True)) / len(EXAMPLES)


def test_two_ranks_end_with_one_set_of_weights_and_learn_like_one_process(tiny_student, tmp_path):
    job = Job(str(tiny_student), HEAD, EXAMPLES, CFG, str(tmp_path / "out"))
    stats = train_in_ranks(job, procs=2)
    assert stats["world_size"] == 2 and stats["backend"] == "gloo"
    first, second = stats["param_checksums"]
    assert first == second  # gradients averaged every step: the ranks never drift apart
    two = model.load(tmp_path / "out", HEAD, device="cpu")
    one = model.load(tiny_student, HEAD, device="cpu")
    alone = train(one, EXAMPLES, CFG)
    assert stats["steps"] == alone["steps"]  # the global batch, and so the schedule, is that of one process
    assert accuracy(one) == 1.0 and accuracy(two) >= 0.9  # the same quality, within the noise of 12 texts


def test_a_run_trains_its_student_in_two_ranks(sentiment_dir, tiny_student, teacher_server, tmp_path):
    out = tmp_path / "run"
    args = run_args(
        sentiment_dir,
        tiny_student,
        teacher_server,
        out,
        "--rounds",
        "1",
        "--student-procs",
        "2",
        "--lr",
        "5e-3",
        "--min-steps",
        "12",
    )
    assert main(args) == 0
    rounds = read_jsonl(out / "rounds.jsonl")
    assert [r["train"]["world_size"] for r in rounds] == [2, 2]
    assert all(len(set(r["train"]["param_checksums"])) == 1 for r in rounds)
    assert json.loads((out / "summary.json").read_text())["rounds"] == 1


def test_the_training_module_runs_standalone_under_torchrun(tiny_student, tmp_path):
    seed = tmp_path / "seed"
    model.save(model.load(tiny_student, HEAD, device="cpu"), seed)
    write_jsonl(tmp_path / "train.jsonl", EXAMPLES)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "evokd.student.distributed", "--train", str(tmp_path / "train.jsonl"), "--student", str(seed),
         "--out", str(tmp_path / "trained"), "--lr", "5e-3", "--min-steps", "12", "--batch-size", "4"],
        capture_output=True, text=True, timeout=180, env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert stats["world_size"] == 2 and len(set(stats["param_checksums"])) == 1
    assert (tmp_path / "trained" / "model.safetensors").exists()
