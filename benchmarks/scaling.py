"""Scale-out speed ratios for the speed report (issue 15), each measured against its one-process baseline:

- ``cells``: benchmark cells as Ray tasks on a local cluster against the same cells one after another
  (seed-only cells: student training only, so the ratio is the sweep's, not a teacher's);
- ``ranks``: one student training pass in 2 data-parallel ranks against 1 process, on a training set
  large enough that start-up does not dominate.

On this 2-core machine both ratios are capped near 2x by the cores; they say what the machinery
costs and gives, not what a cluster would.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from evokd.bench.cells import all_cells, run_local, run_ray
from evokd.bench.settings import Settings

Say = Callable[[str], None]


def cells(data: str, student: str, say: Say, n: int = 4, epochs: int = 1) -> dict:
    """``n`` seed-only cells on Ray (one CPU each) against the same cells in sequence, in fresh folders."""
    with tempfile.TemporaryDirectory(prefix="evokd-scaling-") as tmp:
        base = Settings(
            datasets=[data],
            methods=["seed-only"],
            seeds=list(range(1, n + 1)),
            student=student,
            epochs=epochs,
            threads=1,
            out=str(Path(tmp) / "out"),
        )
        timings = {}
        for name in ("sequence", "ray"):
            s = dataclasses.replace(base, work=str(Path(tmp) / name))
            todo = all_cells(s)
            started = time.perf_counter()
            if name == "ray":
                run_ray(s, todo, "local", cpus=1, gpus=0, say=say)
            else:
                run_local(s, todo, say)
            timings[name] = round(time.perf_counter() - started, 2)
    result = {
        "cells": n,
        "cpus": os.cpu_count(),
        "sequence_s": timings["sequence"],
        "ray_s": timings["ray"],
        "speedup": round(timings["sequence"] / timings["ray"], 2),
    }
    say(f"cells: {n} on Ray in {result['ray_s']} s vs {result['sequence_s']} s in sequence = {result['speedup']}x")
    return result


def ranks(data: str, student: str, say: Say, n: int = 512, procs: int = 2, epochs: int = 1) -> dict:
    """One training pass over ``n`` examples in ``procs`` data-parallel ranks against one process."""
    from evokd.data.registry import resolve_data, task_kind
    from evokd.student import model
    from evokd.student.distributed import Job, train_in_ranks
    from evokd.student.train import TrainConfig, train
    from evokd.tasks import head_for, load_dataset

    folder = resolve_data(data)
    ds = load_dataset(folder, task_kind(folder))
    examples, head = ds.train[:n], head_for(ds.task)
    cfg = TrainConfig(epochs=epochs, min_steps=0)
    with tempfile.TemporaryDirectory(prefix="evokd-ranks-") as tmp:
        seed = Path(tmp) / "seed"
        model.save(model.load(student, head, device="cpu"), seed)
        started = time.perf_counter()
        alone = train(model.load(seed, head, device="cpu"), examples, cfg)
        one_s = time.perf_counter() - started
        started = time.perf_counter()
        together = train_in_ranks(Job(str(seed), head, examples, cfg, str(Path(tmp) / "out")), procs)
        ranks_s = time.perf_counter() - started
    result = {
        "examples": len(examples),
        "procs": procs,
        "one_s": round(one_s, 2),
        "ranks_s": round(ranks_s, 2),
        "speedup": round(one_s / ranks_s, 2),
        "train_s_one": round(alone["seconds"], 2),
        "train_s_ranks": round(together["seconds"], 2),
        "same_weights": len(set(together["param_checksums"])) == 1,
    }
    say(
        f"ranks: {len(examples)} examples in {procs} ranks {result['ranks_s']} s "
        f"(training {result['train_s_ranks']} s) vs one process {result['one_s']} s = {result['speedup']}x"
    )
    return result


def main() -> None:
    """``python -m evokd.bench.scaling [DATA]``: measure both ratios with the bundled student and add them to
    benchmarks/results/speed.json|md (the other speed figures are kept as they were measured)."""
    import json
    import sys

    from evokd.bench import speed
    from evokd.student.model import default_student_path

    data = sys.argv[1] if len(sys.argv) > 1 else "rotten_tomatoes"
    out = Path("benchmarks/results")
    result = json.loads((out / "speed.json").read_text(encoding="utf-8"))
    student = default_student_path()
    result["scaling"] = {
        "cells": cells(data, student, print),
        "ranks": ranks(data, student, print),
        "date": time.strftime("%Y-%m-%d"),
        "data": data,
    }
    speed.save(str(out), result)


if __name__ == "__main__":
    main()
