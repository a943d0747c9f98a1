"""What the benchmark writes per dataset: ``<dataset>.json``, a Markdown table and an F1-against-tokens plot."""

from __future__ import annotations

import dataclasses
import datetime
import platform
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from evokd.records import write_json, write_text
from evokd.tasks import adapter_for

if TYPE_CHECKING:
    from evokd.bench.runner import Settings


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for fewer than two values)."""
    if not values:
        return 0.0, 0.0
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def machine() -> str:
    """A one-line description of the machine the numbers come from."""
    import os

    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{os.cpu_count()}-core CPU ({platform.machine()}, {platform.system()}){gpu}"


def curve(runs: list[dict]) -> list[dict]:
    """The mean learning curve over seeds, round by round (rounds within budget only)."""
    by_round: dict[int, list[dict]] = {}
    for run in runs:
        for point in run.get("curve", []):
            if point["within_budget"]:
                by_round.setdefault(point["round"], []).append(point)
    return [{"round": r, "seeds": len(pts), "tokens": round(statistics.fmean(p["tokens"] for p in pts)),
             "test": round(statistics.fmean(p["test"] for p in pts), 4), "dev": round(statistics.fmean(p["dev"] for p in pts), 4)}
            for r, pts in sorted(by_round.items())]


def summarise_method(runs: list[dict], full: float | None) -> dict:
    """Mean ± std of the test score, share of full-shot, tokens and wall time over seeds."""
    score, std = mean_std([r["score"] for r in runs])
    return {
        "seeds": [r["seed"] for r in runs], "score_mean": round(score, 4), "score_std": round(std, 4),
        "scores": [r["score"] for r in runs],
        "share_of_full_shot": round(score / full, 3) if full else None,
        "tokens_mean": round(statistics.fmean(r["tokens"] for r in runs)),
        "tokens_max": max(r["tokens"] for r in runs),
        "seconds_mean": round(statistics.fmean(r["seconds"] for r in runs), 1),
        "rounds_mean": round(statistics.fmean(r.get("rounds", 0) for r in runs), 1),
        "selected_rounds": [r.get("round", 0) for r in runs],
        "accepted_mean": round(statistics.fmean(r.get("accepted", 0) for r in runs), 1),
        "curve": curve(runs),
    }


def paired(runs: dict[str, list[dict]], ours: str) -> dict[str, dict]:
    """``ours`` against every other method on the same seeds: mean difference and wins/ties/losses."""
    mine = {r["seed"]: r["score"] for r in runs.get(ours, [])}
    out = {}
    for name, other in runs.items():
        pairs = [(mine[r["seed"]], r["score"]) for r in other if r["seed"] in mine and name != ours]
        if pairs:
            out[name] = {"delta_mean": round(statistics.fmean(a - b for a, b in pairs), 4),
                         "wins": sum(a > b for a, b in pairs), "ties": sum(a == b for a, b in pairs),
                         "losses": sum(a < b for a, b in pairs), "seeds": len(pairs)}
    return out


def summarise(s: Settings, dataset: str, runs: dict[str, list[dict]], refs: dict[str, dict]) -> dict:
    """The whole dataset result, JSON-ready."""
    full = refs.get("full-shot", {}).get("score")
    settings = {k: v for k, v in dataclasses.asdict(s).items() if k not in ("teacher_url", "datasets", "out", "work")}
    adapter = adapter_for(s.task_of(dataset))
    return {
        "dataset": dataset,
        "date": datetime.date.today().isoformat(),
        "teacher": s.teacher_name or s.teacher_model,
        "student": s.student or "all-MiniLM-L6-v2 (bundled)",
        "machine": s.machine or machine(),
        "metric": adapter.metric_title,
        "settings": settings,
        "methods": {name: summarise_method(rs, full) for name, rs in runs.items() if rs},
        "references": refs,
        "evokd_vs": {ours: paired(runs, ours) for ours in ("evokd", "evokd-paper") if runs.get(ours)},
        "runs": runs,
        "notes": notes(s, runs, refs, adapter.cuts_reference_texts),
    }


def notes(s: Settings, runs: dict[str, list[dict]], refs: dict[str, dict], cut_texts: bool) -> list[str]:
    """How to read the numbers: selection, budget, what the references were computed on, and budget warnings."""
    out = [
        f"Every method trains the same student with the same recipe (AdamW lr {s.lr}, batch {s.batch_size}, "
        f"up to {s.epochs} epochs but at least {s.min_steps} optimizer steps per pass, "
        f"{'class-balanced batches, ' if s.balance else ''}"
        f"{f'the epoch with the best dev score kept (patience {s.patience_epochs}), ' if s.select_epoch else ''}"
        f"max length {s.max_length}, replay {s.replay}) and is scored on the test split at the round with the best "
        "dev score (test labels never select).",
        f"Budget: {s.budget_tokens:,} teacher tokens (prompt + completion) per run; a run stops before a round like "
        "its last would overrun it, and a round that still overran is excluded from the result.",
        "static, rephrase, evokd-paper and evokd all label through the same Critic (screening + a separate "
        "labelling call at temperature 0); seed-only spends no tokens.",
    ]
    if s.eval_limit:
        out.append(f"Dev and test are the first {s.eval_limit} examples of each split (the splits are seeded shuffles), "
                   "so that evaluating every round stays affordable on a 2-core CPU; scores are on those.")
    if (t := refs.get("teacher")) and t["n"] < t["of"]:
        out.append(f"teacher: zero-shot labels on the first {t['n']} of {t['of']} test texts (the test split is a seeded "
                   f"shuffle){', first 150 words of each' if cut_texts else ''}; not the full test split.")
    if f := refs.get("full-shot"):
        chosen = f" (epoch {f['epoch']} kept, chosen on dev)" if "epoch" in f else ""
        out.append(f"full-shot: {f['train_examples']:,} train examples, {f['epochs']} epoch(s){chosen}, "
                   f"seed {f['seed']} only.")
    for name, rs in runs.items():  # a budget below one round leaves a method at its seed-only score: say so
        first = [c["tokens"] for r in rs for c in r.get("curve", []) if c["round"] == 1 and not c["within_budget"]]
        if first:
            out.append(f"WARNING {name}: the first round overran the budget in {len(first)} of {len(rs)} runs "
                       f"({max(first):,} tokens > {s.budget_tokens:,}), so those runs score as seed-only; "
                       "raise --budget-tokens.")
    return out


def fmt(score: float, std: float | None = None) -> str:
    """A score (± std) to three places."""
    return f"{score:.3f}" if std is None else f"{score:.3f} ± {std:.3f}"


def markdown(summary: dict) -> str:
    """The Markdown table and notes for one dataset."""
    st = summary["settings"]
    lines = [
        f"## {summary['dataset']} — {st['shots']}-shot, seeds {', '.join(map(str, st['seeds']))} requested "
        "(the seeds column says how many finished), "
        f"budget {st['budget_tokens']:,} teacher tokens per run",
        "",
        f"{summary['date']} · teacher: {summary['teacher']} · student: {summary['student']} · machine: {summary['machine']}",
        "",
        f"| method | seeds | test {summary['metric']} (mean ± std) | share of full-shot | teacher tokens (mean) | rounds | "
        "wall s (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in summary["methods"].items():
        share = f"{m['share_of_full_shot']:.0%}" if m["share_of_full_shot"] is not None else "n/a"
        lines.append(f"| {name} | {len(m['seeds'])} | {fmt(m['score_mean'], m['score_std'])} | {share} | {m['tokens_mean']:,} | "
                     f"{m['rounds_mean']:g} | {m['seconds_mean']:.0f} |")
    refs = summary["references"]
    if f := refs.get("full-shot"):
        lines.append(f"| full-shot (reference) | 1 | {fmt(f['score'])} | 100% | 0 | – | {f['seconds']:.0f} |")
    if t := refs.get("teacher"):
        full = refs.get("full-shot", {}).get("score")
        share = f"{t['score'] / full:.0%}" if full else "n/a"
        lines.append(f"| teacher zero-shot (reference, {t['n']} test texts) | – | {fmt(t['score'])} | {share} | "
                     f"{t['tokens']:,} | – | {t['seconds']:.0f} |")
    for ours, against in summary["evokd_vs"].items():
        if against:
            lines += ["", f"**{ours} against each method, paired by seed** (Δ = {ours} − other):", ""]
            lines += [f"- vs {name}: Δ {d['delta_mean']:+.3f}, wins {d['wins']}, ties {d['ties']}, losses {d['losses']} "
                      f"of {d['seeds']}" for name, d in against.items()]
    lines += ["", *[f"- {n}" for n in summary["notes"]], ""]
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    """Test score against teacher tokens, one line per method (mean over seeds, round by round)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for name, m in summary["methods"].items():
        pts = m["curve"]
        if name == "seed-only":
            ax.axhline(m["score_mean"], color="grey", linestyle=":", label=f"seed-only ({m['score_mean']:.3f})")
        elif pts:
            ax.plot([p["tokens"] for p in pts], [p["test"] for p in pts], marker="o", label=name)
    styles = {"full-shot": ("black", "--"), "teacher": ("tab:purple", "-.")}
    for name, ref in summary["references"].items():
        colour, style = styles[name]
        ax.axhline(ref["score"], color=colour, linestyle=style, label=f"{name} ({ref['score']:.3f})")
    ax.axvline(summary["settings"]["budget_tokens"], color="grey", linewidth=0.8)
    ax.set_xlabel("teacher tokens spent (prompt + completion)")
    ax.set_ylabel(f"test {summary['metric']} at each round\n(mean over seeds, not dev-selected)")
    st = summary["settings"]
    ax.set_title(f"{summary['dataset']}, {st['shots']}-shot, {len(st['seeds'])} seeds, teacher {summary['teacher']}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the lines stay readable
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(s: Settings, dataset: str, runs: dict[str, list[dict]], refs: dict[str, dict]) -> dict:
    """Write ``<out>/<dataset>.json|md|png`` from the runs finished so far; return the summary."""
    summary = summarise(s, dataset, runs, refs)
    out, name = Path(s.out), Path(dataset).name
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{name}.json", summary)
    write_text(out / f"{name}.md", markdown(summary))
    plot(summary, out / f"{name}.png")
    write_index(out)
    return summary


def write_index(out: Path) -> None:
    """``<out>/README.md``: every dataset table and the speed table found there, for the project README."""
    parts = [p.read_text(encoding="utf-8") for p in sorted(out.glob("*.md")) if p.name not in ("README.md", "speed.md")]
    parts += [(out / "speed.md").read_text(encoding="utf-8")] if (out / "speed.md").exists() else []
    header = "# Benchmark results\n\nWritten by `evokd bench`; see docs/benchmarks.md for what is compared and how.\n\n"
    write_text(out / "README.md", header + "\n".join(parts))
