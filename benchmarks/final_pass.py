"""A final pass over all a run's labels, against the continual student the run shipped (a pilot).

For each finished benchmark cell of one method, a fresh student is trained from the base weights on every
label the run holds within its scored round (the shots, then each accepted sample it may train on), once,
with the shared recipe and the round-0 training seed, and scored on dev and test beside the cell's own
scored round. No teacher is called. The rule this pilot answers is in benchmarks/decisions/final-pass.md.
With several ``--student`` values each trains on the same labels, so students compare paired by seed on
identical teacher labels (benchmarks/decisions/student-size.md).

    python -m evokd.bench.final_pass runs/bench-soft-bbc bbc_news --seeds 3,4,5 \\
        --out benchmarks/results/final-pass-bbc_news-pilot.json
    python -m evokd.bench.final_pass runs/bench-rt rotten_tomatoes --seeds 1,2,3 --student "" --student mpnet \\
        --out benchmarks/results/student-size-rotten_tomatoes.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path
from typing import Any

from evokd.bench.methods import methods
from evokd.bench.over_texts import intervals, scored_data, scored_predictions, teacher_predictions
from evokd.bench.settings import Settings
from evokd.bench.tables import described, difference, interval, machine, mean_std
from evokd.handoff.retrain import labels_of, scores, train_once, trained_samples
from evokd.records import write_json
from evokd.services import services
from evokd.state import Sample
from evokd.task import Example
from evokd.tasks import head_for


def teacher_accuracy(samples: list[Sample], train: list[Example]) -> dict[str, float]:
    """For reporting only (it reads gold train labels): how often the pool labels among ``samples`` match the
    gold label of their train text (``--pool train`` ids ``t<i>``), overall and by gold label."""
    rows = [
        (train[int(s["pool_id"][1:]) - 1]["label"], s["label"])
        for s in samples
        if str(s.get("pool_id", "")).startswith("t")
    ]
    by_gold = {g: [t == g for gg, t in rows if gg == g] for g in sorted({g for g, _ in rows})}
    return {
        "all": round(sum(g == t for g, t in rows) / len(rows), 4) if rows else float("nan"),
        **{g: round(sum(hits) / len(hits), 4) for g, hits in by_gold.items()},
    }


def student_name(student: str) -> str:
    """How a ``--student`` value is shown: the bundled default has no name of its own."""
    return student or "default"


def final_pass(
    s: Settings, work: Path, dataset: str, method: str, seed: int, students: list[str]
) -> tuple[dict, dict[str, list[Any] | None]]:
    """Train a fresh student of each of ``students`` on one cell's labels; their dev and test scores and
    seconds beside the cell's scored round, and the test predictions of each and of the cell's own student
    ("continual"; None where its folder did not keep those of its scored round)."""
    run_dir = work / dataset / method / f"seed-{seed}"
    result = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    ctx = s.context(dataset, seed, run_dir, **methods(s.per_round)[method].overrides)
    ds = services(ctx).dataset
    samples = trained_samples(run_dir, result["round"])
    examples = labels_of(run_dir, samples, services(ctx).adapter)
    passes = {}
    predicted = {"continual": scored_predictions(ds.task, ds.test, run_dir, result["score"])}
    for student in students:
        print(f"[{dataset}] seed {seed}: training {student_name(student)} on {len(examples)} labels", flush=True)
        net, trained = train_once(student, head_for(ds.task), examples, ctx)  # shipped whatever it scores
        started = time.perf_counter()
        scored, both = scores(net, ds, ctx.max_length)
        predicted[student_name(student)] = both["test"]
        passes[student_name(student)] = {
            **scored,
            "train_seconds": round(trained, 1),
            "eval_seconds": round(time.perf_counter() - started, 1),
            "eval_texts": len(ds.dev) + len(ds.test),
        }
    row = {
        "seed": seed,
        "round": result["round"],
        "labels": len(examples),
        "teacher_label_accuracy": teacher_accuracy(samples, ds.train),  # reporting only
        "continual": {"dev": result["dev"], "test": result["score"]},
        "final_pass": passes,
    }
    return row, predicted


def paired_by_seed(per_seed: list[dict[str, dict]], a: str, b: str) -> dict[str, dict]:
    """``a`` minus ``b`` on dev and on test, paired by seed (``per_seed``: each seed's {name: {split: score}})."""
    return {split: difference(b, [one[a][split] - one[b][split] for one in per_seed]) for split in ("dev", "test")}


def against_first(rows: list[dict], students: list[str]) -> dict[str, dict]:
    """Each later student minus the first, paired by seed on the same labels, on dev and on test."""
    first, *others = (student_name(x) for x in students)
    return {other: paired_by_seed([r["final_pass"] for r in rows], other, first) for other in others}


def cells_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The flags naming a work folder's finished cells of one method (a script's own flags follow)."""
    p = argparse.ArgumentParser(prog=prog, description=(doc or "").splitlines()[0])
    p.add_argument("work", type=Path, help="the benchmark's --work folder holding the finished cells")
    p.add_argument("dataset")
    p.add_argument("--method", default="pool-random")
    p.add_argument("--seeds", required=True, help="comma-separated seeds")
    p.add_argument("--budget-tokens", type=int, default=16_000, help="as the cells ran (it shapes their context)")
    return p


def main(argv: list[str] | None = None) -> None:
    """Run the pilot on the named cells and write its JSON."""
    p = cells_parser("python -m evokd.bench.final_pass", __doc__)
    p.add_argument(
        "--student",
        dest="students",
        action="append",
        help='a student to train (repeatable; "" = the bundled default; default: the cells\' own)',
    )
    p.add_argument("--teacher", type=Path, help="a teacher reference's cell folder that kept its labels (`over_texts`)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    s = Settings(budget_tokens=args.budget_tokens, datasets=[args.dataset], work=str(args.work))
    students = args.students or [s.student]
    ds = scored_data(s, args.dataset)
    teacher = teacher_predictions(args.teacher, ds.test) if args.teacher else None
    if args.teacher and teacher is None:
        raise SystemExit(f"{args.teacher}: no teacher labels for all {len(ds.test)} test texts; run the reference")
    rows: list[dict] = []
    kept: dict[str, list[list[Any] | None]] = {}
    for seed in (int(x) for x in args.seeds.split(",")):
        row, predicted = final_pass(s, args.work, args.dataset, args.method, seed, students)
        rows.append(row)
        for name, got in predicted.items():
            kept.setdefault(name, []).append(got)
        r = rows[-1]
        passes = " · ".join(
            f"{name} dev {one['dev']:.4f} test {one['test']:.4f} ({one['train_seconds']:.0f} s to train)"
            for name, one in r["final_pass"].items()
        )
        print(
            f"[{args.dataset}] {args.method} seed {seed}: {r['labels']} labels "
            f"({r['teacher_label_accuracy']['all']:.0%} of the pool's right) · continual dev "
            f"{r['continual']['dev']:.4f} test {r['continual']['test']:.4f} · final pass {passes}",
            flush=True,
        )
        result = summary(args.dataset, args.method, students, rows, intervals(ds.task, ds.test, kept, teacher))
        write_json(args.out, result)  # after every seed: an interruption keeps the seeds done
    first = result["students"][0]
    print(
        f"final pass ({first}) beats the continual student on dev in {result['dev_wins']} of {len(rows)} seeds, "
        f"mean {result['mean_dev_difference']:+.4f}"
    )
    for other, by_split in result["against_first_student"].items():
        for split, d in by_split.items():
            print(f"{other} - {first} on {split}: {d['delta_mean']:+.4f} {d['interval']} over {d['seeds']} seeds")
    for name, d in result["over_texts"].items():
        print(f"test, over seeds and texts: {described(name, d)}")


def summary(dataset: str, method: str, students: list[str], rows: list[dict], texts: dict | None = None) -> dict:
    """The pilot's JSON over the seeds done so far: the rows, the first student against the continual one on
    dev, each later student against the first, and ``texts``: each student's test score over seeds and texts
    (and against the teacher's labels on the same texts, `over_texts`)."""
    first = student_name(students[0])
    gains = [r["final_pass"][first]["dev"] - r["continual"]["dev"] for r in rows]
    return {
        "dataset": dataset,
        "method": method,
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "rule": "benchmarks/decisions/final-pass.md",
        "students": [student_name(x) for x in students],
        "runs": rows,
        "dev_wins": sum(g > 0 for g in gains),
        "mean_dev_difference": round(sum(gains) / len(gains), 4),
        "over_seeds": {name: over_seeds([r["final_pass"] for r in rows], name) for name in map(student_name, students)},
        "against_first_student": against_first(rows, students),
        "over_texts": texts or {},
    }


def over_seeds(per_seed: list[dict[str, dict]], name: str) -> dict[str, dict]:
    """One student's (or arm's) dev and test scores over the seeds (``per_seed``: each seed's {name: {split:
    score}}): mean, std and Student-t 95 % interval."""
    out = {}
    for split in ("dev", "test"):
        values = [one[name][split] for one in per_seed]
        mean, std = mean_std(values)
        out[split] = {"mean": round(mean, 4), "std": round(std, 4), "interval": interval(values)}
    return out


if __name__ == "__main__":
    main()
