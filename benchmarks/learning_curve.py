"""The student recipe against training-set size: a learning curve from 2 examples per label to 2,048.

It checks that one recipe trains well at every size. For each dataset, rung of `LADDER`,
seed and recipe, the student is trained on that many gold-labelled train examples and scored on the
benchmark's dev and test splits at the epoch the recipe keeps: ``default`` is the recipe every method trains
with as the oracle-dev protocol runs it (class-balanced batches, the epoch chosen on dev, never test);
``few-shot`` is the same recipe as a few-shot run trains it (the last epoch kept); ``old`` is the earlier
recipe (`RECIPES["old"]`: fewer epochs, no class balancing, the last epoch kept). `choose_recipe` applies
the rule of benchmarks/decisions/recipe.md on dev. Writes ``learning-curve-<dataset>.json|md|png``.

    python -m evokd.bench.learning_curve --datasets rotten_tomatoes,bbc_news,wnut16

Per-label rungs draw k examples per label (k sentences per entity type for NER) as the seeds of a run
are drawn; the others are prefixes of one seeded shuffle of train, so a seed's sets are nested.
A rung larger than the train split uses all of it (the tables give the real count).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import random
import statistics
import sys
import time
from pathlib import Path

from evokd.bench.bench_task import bench_task
from evokd.bench.curves import t_interval
from evokd.bench.settings import Say, Settings, name_of
from evokd.bench.tables import machine, mean_std
from evokd.data.readers import Dataset
from evokd.records import write_json, write_text
from evokd.services import services
from evokd.settings import pass_steps
from evokd.student import model
from evokd.student.recipe import dev_selection, fit
from evokd.student.train import predict
from evokd.task import Example
from evokd.tasks import adapter_for, evaluate, head_for, sample_shots

# Fixed before any measurement: 2 and 8 per label (the few-shot regime the loop starts from), then
# totals that quadruple up to about 2,000 examples, where a labelled set stops being few-shot.
LADDER = ("2/label", "8/label", "32", "128", "512", "2048")
# Overrides of the benchmark's recipe (Settings/Context).
RECIPES: dict[str, dict[str, object]] = {
    "old": {"epochs": 3, "lr": 5e-5, "balance": False, "select_epoch": False},
    "default": {"protocol": "oracle-dev"},  # the shipped recipe as the committed curves measured it: epoch on dev
    "few-shot": {"protocol": "few-shot"},  # the shipped recipe as a few-shot run trains: the last epoch kept
}
# The rule of benchmarks/decisions/recipe.md, fixed before its measurement: the shipped few-shot recipe stays
# unless the candidate's dev score, averaged over the rungs run and paired by seed, is higher with a Student-t
# interval that excludes zero. Dev labels judge here, never test (test is reported beside it).
INCUMBENT, CANDIDATE = "few-shot", "old"


def train_subset(ds: Dataset, rung: str, seed: int) -> list[Example]:
    """The training examples of one rung and seed (see the module docstring)."""
    if rung.endswith("/label"):
        return sample_shots(ds.train, ds.task, int(rung.split("/")[0]), seed)
    order = list(ds.train)
    random.Random(seed).shuffle(order)
    return order[: int(rung)]


def point(s: Settings, ds: Dataset, base: model.Student, dataset: str, recipe: str, rung: str, seed: int) -> dict:
    """Train a fresh student on one rung with one recipe and seed; its test score at the epoch kept."""
    ctx = s.context(dataset, seed, Path(s.work) / "learning-curve", **RECIPES[recipe])
    data = train_subset(ds, rung, seed)
    net = dataclasses.replace(base, model=copy.deepcopy(base.model))  # load() is pure: a copy is a fresh load
    stats = fit(net, data, ctx, 0, dev_selection(ctx, ds.task, ds.dev, evaluate))
    test, dev = (
        evaluate(ds.task, split, predict(net, split, max_length=ctx.max_length)) for split in (ds.test, ds.dev)
    )
    return {
        "recipe": recipe,
        "rung": rung,
        "n": len(data),
        "seed": seed,
        "test": test["score"],
        "dev_kept": dev["score"],  # the kept student on dev, whatever picked its epoch: what the rule reads
        "dev": stats["dev"],
        "epoch": stats["epoch"],
        "epochs": stats["epochs"],
        "steps": stats["steps"],
        "seconds": round(stats["seconds"], 2),
    }


def summarise(points: list[dict], recipes: list[str], rungs: list[str]) -> dict[str, list[dict]]:
    """Per recipe, one row per rung: mean ± std of the test score over seeds, the epochs kept and run."""
    out: dict[str, list[dict]] = {}
    for recipe in recipes:
        rows = []
        for rung in rungs:
            pts = [p for p in points if p["recipe"] == recipe and p["rung"] == rung]
            if pts:
                mean, std = mean_std([p["test"] for p in pts])
                rows.append(
                    {
                        "rung": rung,
                        "n": pts[0]["n"],
                        "seeds": len(pts),
                        "test_mean": round(mean, 4),
                        "test_std": round(std, 4),
                        "dev_mean": round(mean_std([p["dev_kept"] for p in pts])[0], 4),
                        "epochs_kept": [p["epoch"] for p in pts],
                        "epochs_run": [p["epochs"] for p in pts],
                        "seconds_mean": round(sum(p["seconds"] for p in pts) / len(pts), 1),
                    }
                )
        out[recipe] = rows
    return out


def choose_recipe(points: list[dict], incumbent: str = INCUMBENT, candidate: str = CANDIDATE) -> dict | None:
    """The rule above over ``points``: per seed, each recipe's dev score averaged over the rungs both ran, the
    candidate minus the incumbent with its t-interval, and the recipe kept. None until both have a paired seed."""
    by = {(p["recipe"], p["seed"], p["rung"]): p["dev_kept"] for p in points}
    pairs = {(seed, rung) for r, seed, rung in by if r == incumbent and (candidate, seed, rung) in by}
    seeds = sorted({seed for seed, _ in pairs})
    if not seeds:
        return None
    diffs = [
        statistics.fmean(by[candidate, seed, rung] - by[incumbent, seed, rung] for s, rung in pairs if s == seed)
        for seed in seeds
    ]
    mean, low, high = t_interval(diffs)  # one seed: an infinite interval, which keeps the incumbent
    return {
        "incumbent": incumbent,
        "candidate": candidate,
        "seeds": seeds,
        "dev_differences": [round(d, 4) for d in diffs],
        "mean": round(mean, 4),
        "interval": [round(low, 4), round(high, 4)] if len(seeds) > 1 else None,
        "kept": candidate if low > 0 else incumbent,
    }


def markdown(result: dict) -> str:
    """The table: one row per rung, each recipe's test score side by side, and the difference."""
    recipes = list(result["summary"])
    by = {r: {row["rung"]: row for row in rows} for r, rows in result["summary"].items()}
    rungs = [rung for rung in result["ladder"] if any(rung in by[r] for r in recipes)]
    st = result["settings"]
    kept = (
        f"the epoch with the best dev score kept (patience {st['patience_epochs']})"
        if st["select_epoch"]
        else "the last epoch kept"
    )
    lines = [
        f"## Learning curve: {result['dataset']}, gold labels, seeds {', '.join(map(str, result['seeds']))}",
        "",
        f"{result['date']} · student: {result['student']} · machine: {result['machine']}",
        "",
        "| size | examples | "
        + " | ".join(f"{r}: test {result['metric']} (epochs kept / run; dev)" for r in recipes)
        + (" | Δ default − old |" if {"old", "default"} <= set(recipes) else " |"),
        "|---|---|" + "---|" * (len(recipes) + ({"old", "default"} <= set(recipes))),
    ]
    for rung in rungs:
        cells = []
        for r in recipes:
            row = by[r].get(rung)
            cells.append(
                f"{row['test_mean']:.3f} ± {row['test_std']:.3f} ({'/'.join(map(str, row['epochs_kept']))} of "
                f"{'/'.join(map(str, row['epochs_run']))}; dev {row['dev_mean']:.3f})"
                if row
                else "–"
            )
        if {"old", "default"} <= set(recipes):
            old, new = by["old"].get(rung), by["default"].get(rung)
            cells.append(f"{new['test_mean'] - old['test_mean']:+.3f}" if old and new else "–")
        n = next(by[r][rung]["n"] for r in recipes if rung in by[r])
        lines.append(f"| {rung} | {n:,} | " + " | ".join(cells) + " |")

    def cut(split: str) -> str:
        """The texts of ``split`` scored: its first ``eval_limit``, or all of it."""
        return f"the first {st['eval_limit']} {split} examples" if st["eval_limit"] else f"the whole {split} split"

    lines += [
        "",
        f"- default: the recipe every method trains with: AdamW lr {st['lr']}, batch {st['batch_size']}, up to "
        f"{st['epochs']} epochs but at least {st['min_steps']} optimizer steps, "
        f"{'class-balanced batches, ' if st['balance'] else ''}{kept}.",
        "- old: the recipe before issue 12: "
        + ", ".join(f"{k} {v}" for k, v in RECIPES["old"].items())
        + " (otherwise as default).",
        "- few-shot: the default recipe as a few-shot run trains it: the last epoch kept, no dev label read.",
        f"- Scores are on {cut('test')}; the default recipe chooses its epoch on {cut('dev')}, never on test. "
        "'epochs run' counts the repeats that reach the minimum steps on tiny sets, and stops short where dev "
        "stopped improving. 'dev' is the kept student's score on that dev split.",
        "",
    ]
    if rule := result.get("decision"):
        low, high = (f"{x:+.3f}" for x in rule["interval"]) if rule["interval"] else ("-inf", "+inf")
        lines += [
            f"**Rule** (benchmarks/decisions/recipe.md): {rule['candidate']} − {rule['incumbent']} on dev, averaged "
            f"over the rungs and paired by seed: {rule['mean']:+.3f} [{low}, {high}] over seeds "
            f"{', '.join(map(str, rule['seeds']))}; kept: **{rule['kept']}**.",
            "",
        ]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    """Test score against training-set size (log scale), one line per recipe, ± std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for recipe, rows in result["summary"].items():
        rows = sorted(rows, key=lambda row: row["n"])
        ax.errorbar(
            [row["n"] for row in rows],
            [row["test_mean"] for row in rows],
            yerr=[row["test_std"] for row in rows],
            marker="o",
            capsize=3,
            label=recipe,
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training examples (gold labels)")
    ax.set_ylabel(f"test {result['metric']} (mean ± std over seeds)")
    ax.set_title(f"{result['dataset']}: student recipe learning curve, {len(result['seeds'])} seeds", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_dataset(s: Settings, dataset: str, rungs: list[str], recipes: list[str], say: Say) -> dict:
    """Every rung, seed and recipe on one dataset; the files are rewritten after each point."""
    ds = services(s.context(dataset, 0, Path(s.work) / "learning-curve")).dataset
    base = model.load(s.student or model.default_student_path(), head_for(ds.task))
    points: list[dict] = []
    result: dict = {
        "dataset": dataset,
        "date": datetime.date.today().isoformat(),
        "machine": s.machine or machine(),
        "device": str(base.device),
        "student": s.student or "all-MiniLM-L6-v2 (bundled)",
        "metric": bench_task(adapter_for(ds.task)).metric_title,
        "ladder": rungs,
        "seeds": s.seeds,
        "settings": {
            k: pass_steps(s.min_steps, ds.task.kind) if k == "min_steps" else getattr(s, k)
            for k in (
                "lr",
                "batch_size",
                "epochs",
                "min_steps",
                "max_length",
                "balance",
                "select_epoch",
                "patience_epochs",
                "eval_limit",
            )
        },
        "recipes": {r: RECIPES[r] for r in recipes},
        "dev_examples": len(ds.dev),
        "test_examples": len(ds.test),
        "points": points,
    }
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for seed in s.seeds:
        for rung in rungs:
            for recipe in recipes:
                p = point(s, ds, base, dataset, recipe, rung, seed)
                points.append(p)
                say(
                    f"[{dataset}] {recipe} · {rung} ({p['n']} examples) · seed {seed} · test {p['test']:.4f} · "
                    f"epoch {p['epoch']} of {p['epochs']} · {p['steps']} steps · {p['seconds']:.1f} s"
                )
                result["summary"] = summarise(points, recipes, rungs)
                result["decision"] = choose_recipe(points)
                result["seconds"] = round(time.perf_counter() - started, 1)
                write_json(out / f"learning-curve-{name_of(dataset)}.json", result)
                write_text(out / f"learning-curve-{name_of(dataset)}.md", markdown(result))
    plot(result, out / f"learning-curve-{name_of(dataset)}.png")
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The flags; `--sizes` picks rungs of the fixed ladder (a smoke run), it cannot invent new ones."""
    p = argparse.ArgumentParser(prog="python -m evokd.bench.learning_curve", description=__doc__.splitlines()[0])
    p.add_argument(
        "--datasets", default="rotten_tomatoes,bbc_news,wnut16", help="comma-separated bundled names or data folders"
    )
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument(
        "--sizes", default=",".join(LADDER), help=f"rungs of the ladder to run (default all: {','.join(LADDER)})"
    )
    p.add_argument("--recipes", default=",".join(RECIPES), help=f"from: {', '.join(RECIPES)}")
    p.add_argument("--student", default="", help="student encoder folder (default: bundled MiniLM)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (a GPU is used when present)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--work", default="runs/bench", help="where the benchmark's dev/test subsets are cut")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the learning curve for each dataset; a bad flag is one line on stderr and exit code 2."""
    import torch

    args = parse_args(argv)
    rungs, recipes = args.sizes.split(","), args.recipes.split(",")
    try:
        if bad := [r for r in rungs if r not in LADDER]:
            raise ValueError(f"--sizes: {', '.join(bad)} not on the ladder; choose from {','.join(LADDER)}")
        if bad := [r for r in recipes if r not in RECIPES]:
            raise ValueError(f"--recipes: unknown {', '.join(bad)}; choose from {', '.join(RECIPES)}")
        s = Settings(
            datasets=args.datasets.split(","),
            seeds=[int(x) for x in args.seeds.split(",")],
            student=args.student,
            threads=args.threads,
            out=args.out,
            work=args.work,
        )
        for dataset in s.datasets:  # a missing dataset fails here, before hours of others' training
            s.task_of(dataset)
    except ValueError as e:  # bad flags and DataError/DataNotFound: one line, exit 2
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(s.threads)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for dataset in s.datasets:
        result = run_dataset(s, dataset, rungs, recipes, say)
        say(f"wrote {Path(s.out) / f'learning-curve-{name_of(dataset)}'}.json|md|png ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
