"""The training-passes control: a run's shots alone, trained for as many passes and steps as the run trained.

Seed-only trains its student once on the shots; a pool run trains it once per round, so part of its gain over
seed-only could be the passes, not the teacher's labels. For each finished cell of a method, the control
trains the base student on the cell's shots alone, continually, one pass per round up to the cell's scored
round, each with that round's training seed and at least the optimizer steps that round's pass took (none
where the round trained nothing), and scores it on dev and test. Its first pass is seed-only's own student,
which the control scores too as a check. No teacher call, no selection. Paired by seed: the method minus the
control is what the labels add beyond the passes; the control minus seed-only what the passes alone add
(the rule is in benchmarks/decisions/passes-control.md).

    python -m evokd.bench.passes_control runs/bench-wnut-default wnut16 --seeds 1,2,3 \\
        --out benchmarks/results/passes-control-wnut16.json
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

import torch

from evokd.bench.final_pass import cells_parser, over_seeds, paired_by_seed
from evokd.bench.methods import methods
from evokd.bench.over_texts import intervals, scored_data, scored_predictions
from evokd.bench.settings import Settings
from evokd.bench.tables import described, machine
from evokd.handoff.card import point
from evokd.handoff.retrain import labels_of, scores
from evokd.records import read_jsonl, write_json
from evokd.services import services
from evokd.student import model
from evokd.student.recipe import fit
from evokd.student.train import predict
from evokd.tasks import head_for

BASELINE = "seed-only"  # the cell the control's first pass reproduces
CONTROL = "control"  # the control's name in the output


def steps_per_pass(run_dir: Path, last_round: int) -> list[int]:
    """The optimizer steps each round's training pass took, rounds 0 to ``last_round`` (0: it trained nothing)."""
    rounds = {int(r["round"]): r for r in read_jsonl(run_dir / "rounds.jsonl")}
    return [int((rounds[r].get("train") or {}).get("steps", 0)) for r in range(last_round + 1)]


def control(s: Settings, work: Path, dataset: str, method: str, seed: int) -> tuple[dict, dict[str, list[Any] | None]]:
    """Train the control for one cell; its dev and test scores beside the cell's and seed-only's, and the test
    predictions of the control and of the cell's own student (None where its folder did not keep them)."""
    run_dir = work / dataset / method / f"seed-{seed}"
    result = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    baseline = json.loads((work / dataset / BASELINE / f"seed-{seed}" / "result.json").read_text(encoding="utf-8"))
    ctx = s.context(dataset, seed, run_dir, **methods(s.per_round)[method].overrides)
    ds, adapter = services(ctx).dataset, services(ctx).adapter
    shots = labels_of(run_dir, [], adapter)
    steps = steps_per_pass(run_dir, int(result["round"]))
    net = model.load(ctx.student or model.default_student_path(), head_for(ds.task))
    first: float | None = None
    for rnd, n in enumerate(steps):
        if n:  # a round that accepted nothing trained nothing
            fit(net, shots, dataclasses.replace(ctx, min_steps=n), rnd, None)
        if rnd == 0:  # seed-only's student: test alone is what the check compares
            first = point(ds.task, ds.test, predict(net, ds.test, max_length=ctx.max_length))
    scored, predicted = scores(net, ds, ctx.max_length)
    row = {
        "seed": seed,
        "round": result["round"],
        "shots": len(shots),
        "steps": steps,
        "first_pass_test": round(first or 0.0, 4),
        "scores": {
            BASELINE: {"dev": baseline["dev"], "test": baseline["score"]},
            CONTROL: {split: round(v, 4) for split, v in scored.items()},
            method: {"dev": result["dev"], "test": result["score"]},
        },
    }
    return row, {CONTROL: predicted["test"], method: scored_predictions(ds.task, ds.test, run_dir, result["score"])}


def summary(dataset: str, method: str, rows: list[dict], texts: dict) -> dict:
    """The control's JSON over the seeds done so far: the rows, each arm over the seeds, the two paired
    differences on dev and test, and the intervals over seeds and test texts where predictions were kept."""
    per_seed = [r["scores"] for r in rows]
    return {
        "dataset": dataset,
        "method": method,
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "rule": "benchmarks/decisions/passes-control.md",
        "runs": rows,
        "first_pass_is_seed_only": all(abs(r["first_pass_test"] - r["scores"][BASELINE]["test"]) < 5e-4 for r in rows),
        "over_seeds": {name: over_seeds(per_seed, name) for name in (BASELINE, CONTROL, method)},
        f"{method} - {CONTROL}": paired_by_seed(per_seed, method, CONTROL),
        f"{CONTROL} - {BASELINE}": paired_by_seed(per_seed, CONTROL, BASELINE),
        "over_texts": texts,
    }


def main(argv: list[str] | None = None) -> None:
    """Train the control for the named cells and write its JSON after every seed."""
    p = cells_parser("python -m evokd.bench.passes_control", __doc__)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the cells' --threads reproduces them)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)  # more than the cores free oversubscribes them (many times slower)
    s = Settings(budget_tokens=args.budget_tokens, datasets=[args.dataset], work=str(args.work))
    ds = scored_data(s, args.dataset)
    rows: list[dict] = []
    kept: dict[str, list[list[Any] | None]] = {}
    for seed in (int(x) for x in args.seeds.split(",")):
        row, predicted = control(s, args.work, args.dataset, args.method, seed)
        rows.append(row)
        for name, got in predicted.items():
            kept.setdefault(name, []).append(got)
        arms = " · ".join(f"{name} test {one['test']:.4f}" for name, one in row["scores"].items())
        print(
            f"[{args.dataset}] seed {seed}: {row['shots']} shots, {len(row['steps'])} passes ({sum(row['steps'])} "
            f"steps), first pass test {row['first_pass_test']:.4f} · {arms}",
            flush=True,
        )
        result = summary(args.dataset, args.method, rows, intervals(ds.task, ds.test, kept, None))
        write_json(args.out, result)  # after every seed: an interruption keeps the seeds done
    for key in (f"{args.method} - {CONTROL}", f"{CONTROL} - {BASELINE}"):
        d = result[key]["test"]
        print(f"{key} on test: {d['delta_mean']:+.4f} {d['interval']} ({d['wins']} wins of {d['seeds']})")
    for name, d in result["over_texts"].items():
        print(f"test, over seeds and texts: {described(name, d)}")
    print(f"first pass reproduces {BASELINE} on every seed: {result['first_pass_is_seed_only']}")


if __name__ == "__main__":
    main()
