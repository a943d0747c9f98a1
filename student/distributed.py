"""Data-parallel student training over several local processes, with torch's own elastic launcher.

The LangGraph loop never runs under torchrun (every rank would run the loop and pay the teacher once
each). Instead the Student node hands one training pass to `train_in_ranks`: the student is saved,
N ranks (gloo on CPU, NCCL on GPUs) each load it and run `evokd.student.train.train`, which trains
data-parallel inside a process group, and rank 0 saves the result for the node to load back.

The same entry point runs standalone under ``torchrun`` for a user's own (multi-node) job on a run's
exported training set::

    torchrun --nproc-per-node 2 -m evokd.student.distributed --train train.jsonl --student runs/x/model --out trained/
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from evokd.student import model
from evokd.student.model import Head
from evokd.student.train import TrainConfig, train
from evokd.task import Example


@dataclass
class Job:
    """One training pass, as every rank receives it (pickled to the spawned ranks)."""

    student_dir: str
    head: Head
    examples: list[Example]
    cfg: TrainConfig
    out_dir: str
    balance_by: list[str] | None = None
    dev_score: Any = None  # a picklable callable(student) -> float, or None


def run_rank(job: Job) -> dict[str, Any]:
    """One rank: join the process group, train on its share, check the ranks agree; rank 0 saves."""
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    try:
        student = model.load(job.student_dir, job.head, device=f"cuda:{local}" if cuda else "cpu")
        stats = train(student, job.examples, job.cfg, balance_by=job.balance_by, dev_score=job.dev_score)
        # Every rank must end with the same weights; a checksum per rank, gathered, shows it.
        checksum = torch.tensor(
            [sum(float(p.double().sum()) for p in student.model.parameters())],
            dtype=torch.float64,
            device=student.device,
        )
        sums = [torch.zeros_like(checksum) for _ in range(dist.get_world_size())]
        dist.all_gather(sums, checksum)
        stats.update(
            world_size=dist.get_world_size(),
            param_checksums=[float(t.item()) for t in sums],
            backend=dist.get_backend(),
        )
        if dist.get_rank() == 0:
            model.save(student, job.out_dir)
        dist.barrier()
        return stats
    finally:
        dist.destroy_process_group()


def train_in_ranks(job: Job, procs: int) -> dict[str, Any]:
    """Run `job` on ``procs`` local ranks with torch's elastic launcher; rank 0's stats (the weights are in out_dir)."""
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=procs, run_id=uuid.uuid4().hex, rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0", max_restarts=0, monitor_interval=0.1, start_method="spawn",
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="evokd-ranks-") as logs:
        os.environ.setdefault("TORCHELASTIC_ERROR_FILE", str(Path(logs) / "error.json"))
        results = elastic_launch(config, run_rank)(job)
    stats: dict[str, Any] = results[0]
    return stats


def _read_examples(path: str) -> list[Example]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> None:
    """Standalone under torchrun: train a saved student on a JSONL training set (``text``+``label``, or
    ``tokens``+``tags``), as `evokd export --format jsonl` writes it."""
    ap = argparse.ArgumentParser(prog="python -m evokd.student.distributed")
    ap.add_argument("--train", required=True, help="JSONL training set")
    ap.add_argument("--student", required=True, help="a saved student (a run's model/ folder: its head is kept)")
    ap.add_argument("--out", required=True, help="where rank 0 saves the trained student")
    for name, value in asdict(TrainConfig()).items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = ap.parse_args(argv)
    examples = _read_examples(args.train)
    cfg = TrainConfig(**{k: getattr(args, k) for k in asdict(TrainConfig())})
    stats = run_rank(Job(args.student, model.saved_head(args.student), examples, cfg, args.out))
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(stats))


if __name__ == "__main__":
    main()
