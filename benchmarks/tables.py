"""What the benchmark writes per dataset: ``<dataset>.json``, Markdown tables and a score-against-budget plot."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import platform
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from evokd.accounting import STANCE_COUNTS
from evokd.bench.bench_task import bench_task
from evokd.bench.curves import area, ladder, t_interval
from evokd.records import write_json, write_text
from evokd.settings import pass_steps
from evokd.tasks import adapter_for

if TYPE_CHECKING:
    from evokd.bench.settings import Settings


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


def at_rungs(runs: list[dict]) -> list[dict]:
    """Mean over seeds at every budget rung: dev-selected score, last-round score, runs that fell back to round 0."""
    rungs = [b["budget"] for b in runs[0].get("budgets", [])]
    out = []
    for i, budget in enumerate(rungs):
        pts = [r["budgets"][i] for r in runs]
        score, std = mean_std([p["score"] for p in pts])
        out.append(
            {
                "budget": budget,
                "score": round(score, 4),
                "std": round(std, 4),
                "last": round(statistics.fmean(p["last_score"] for p in pts), 4),
                "tokens": round(statistics.fmean(p["tokens"] for p in pts)),
                "fallbacks": sum(p["fallback"] for p in pts),
            }
        )
    return out


PER_ACCEPTED = ("tokens_per_accepted_pool", "tokens_per_accepted_generated")


def mean_of(runs: list[dict], key: str) -> float | None:
    """The mean of a per-run figure over the runs that have it (None where none does)."""
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.fmean(values), 1) if values else None


def gold_labels(run: dict) -> int:
    """Gold dev labels a run read to decide (its epoch, best round): counted only under the oracle-dev protocol."""
    return int(run.get("gold_dev_labels", 0)) if run.get("protocol") == "oracle-dev" else 0


def interval(values: list[float]) -> list[float] | None:
    """The Student-t 95% interval of ``values`` as [low, high], None where one value gives no interval."""
    _, low, high = t_interval(values)
    return [round(low, 4), round(high, 4)] if math.isfinite(low) else None


def summarise_method(runs: list[dict], full: float | None) -> dict:
    """Mean ± std and t interval over seeds at the top budget, the score at every rung and the area under
    that curve; the protocol the runs followed and the gold dev labels an oracle-dev run read."""
    score, std = mean_std([r["score"] for r in runs])
    areas = [area([(max(b["budget"], 1), b["score"]) for b in r["budgets"]]) for r in runs if r.get("budgets")]
    return {
        "seeds": [r["seed"] for r in runs],
        "score_mean": round(score, 4),
        "score_std": round(std, 4),
        "score_interval": interval([r["score"] for r in runs]),
        "scores": [r["score"] for r in runs],
        "protocol": runs[0].get("protocol"),
        "gold_labels": max(gold_labels(r) for r in runs),
        "share_of_full_shot": round(score / full, 3) if full else None,
        "labelled_max": max(r.get("labelled", 0) + gold_labels(r) for r in runs),
        "tokens_mean": round(statistics.fmean(r["tokens"] for r in runs)),
        "tokens_max": max(r["tokens"] for r in runs),
        "seconds_mean": round(statistics.fmean(r["seconds"] for r in runs), 1),
        "rounds_mean": round(statistics.fmean(r.get("rounds", 0) for r in runs), 1),
        "selected_rounds": [r.get("round", 0) for r in runs],
        "accepted_mean": round(statistics.fmean(r.get("accepted", 0) for r in runs), 1),
        **{key: mean_of(runs, key) for key in PER_ACCEPTED},
        **{key: sum(r.get(key) or 0 for r in runs) for key in STANCE_COUNTS},
        "area": round(mean_std(areas)[0], 4) if areas else None,
        "rungs": at_rungs(runs),
    }


def ours(name: str) -> bool:
    """Whether a method is one of the project's loops (evokd, evokd-*): the others are its baselines."""
    return name.startswith("evokd")


# The baseline every active method must beat: compared with whenever it ran, even when not the best.
ANNOTATOR_BASELINE = "pool-random"
# Variants, each compared with the run it varies: the same picks with another noise step, or with the
# student's own pool labels added (self-training).
VARIANTS = {
    "pool-active-nonoise": "pool-active",
    "pool-random-confnoise": "pool-random",
    "pool-random-st": "pool-random",
    "pool-random-all": "pool-random",
    "pool-random-soft": "pool-random",  # the committed tables from before soft targets became the default
    "pool-random-hard": "pool-random",
    "pool-random-mask": "pool-random",
    "pool-random-oracle": "pool-random",  # the same picks, gold dev labels deciding: what they are worth
    "seed-only-long": "seed-only",
}


def paired(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Each of our methods against the best baseline (highest mean score) at the top budget, and against
    `ANNOTATOR_BASELINE` where it ran, and each of `VARIANTS` against the run it varies, paired by seed: the
    mean difference with a paired Student-t 95% interval over seeds, and whether it covers zero. Keyed "<method>"
    (the best baseline) or "<method> vs <baseline>"."""
    base = {n: rs for n, rs in runs.items() if rs and not ours(n)}
    if not base:
        return {}
    best = max(base, key=lambda n: statistics.fmean(r["score"] for r in base[n]))
    pairs = [(name, baseline) for baseline in [best, ANNOTATOR_BASELINE] for name in runs if ours(name)]
    out = {}
    for name, baseline in dict.fromkeys([*pairs, *VARIANTS.items()]):
        theirs = {r["seed"]: r["score"] for r in runs.get(baseline, [])}
        if diffs := [r["score"] - theirs[r["seed"]] for r in runs.get(name, []) if r["seed"] in theirs]:
            out[name if baseline == best and ours(name) else f"{name} vs {baseline}"] = difference(baseline, diffs)
    return out


def difference(baseline: str, diffs: list[float]) -> dict:
    """Paired differences to one baseline, summarised: mean, paired t interval (None for one seed: it covers
    zero), wins and losses."""
    mean, low, high = t_interval(diffs)
    return {
        "against": baseline,
        "delta_mean": round(mean, 4),
        "interval": [round(low, 4), round(high, 4)] if math.isfinite(low) else None,
        "covers_zero": low <= 0 <= high,
        "wins": sum(d > 0 for d in diffs),
        "losses": sum(d < 0 for d in diffs),
        "seeds": len(diffs),
    }


def summarise_refs(refs: dict[str, list[dict]]) -> dict[str, dict]:
    """Each reference once: the full-shot mean ± std and t interval over its seeds, the teacher with its bootstrap
    interval over test texts."""
    out = {}
    for name, rs in refs.items():
        score, std = mean_std([r["score"] for r in rs])
        out[name] = {
            **rs[0],
            **({} if name == "teacher" else {"interval": interval([r["score"] for r in rs])}),
            "score": round(score, 4),
            "std": round(std, 4),
            "seeds": [r.get("seed") for r in rs],
            "epochs_kept_of_run": [f"{r['epoch']}/{r['epochs']}" for r in rs if "epoch" in r],
            "seconds": round(statistics.fmean(r["seconds"] for r in rs), 1),
        }
    return out


def summarise(
    s: Settings, dataset: str, runs: dict[str, list[dict]], refs: dict[str, list[dict]], texts: dict | None = None
) -> dict:
    """The whole dataset result, JSON-ready; ``texts``: the intervals over seeds and test texts (`over_texts`)."""
    from evokd.bench.runner import source_sha256

    ref = summarise_refs(refs)
    full = ref.get("full-shot", {}).get("score")
    settings = {k: v for k, v in dataclasses.asdict(s).items() if k not in ("teacher_url", "datasets", "out", "work")}
    settings["seeds"] = s.seeds_for(dataset)
    settings["min_steps"] = pass_steps(s.min_steps, s.task_of(dataset))  # the steps it ran, not -1 ("the kind's")
    bench = bench_task(adapter_for(s.task_of(dataset)))
    return {
        "dataset": dataset,
        "date": datetime.date.today().isoformat(),
        "teacher": s.teacher_name or s.teacher_model,
        "student": s.student or "all-MiniLM-L6-v2 (bundled)",
        "machine": s.machine or machine(),
        # Every cell in this table was made by this code (`collect` refuses cells made by other code).
        "code_sha256": source_sha256(),
        "metric": bench.metric_title,
        "settings": settings,
        "methods": {name: summarise_method(rs, full) for name, rs in runs.items() if rs},
        "references": ref,
        "against_best_baseline": paired(runs),
        "over_texts": texts or {},
        "runs": runs,
        "notes": notes(s, runs, ref, s.task_of(dataset)),
    }


def protocol_of(runs: dict[str, list[dict]]) -> str | None:
    """The protocol a table's runs followed (one per `evokd bench` call); None for results from before it was named."""
    return next((r.get("protocol") for rs in runs.values() for r in rs), None)


def selected(protocol: str | None) -> str:
    """How a table's score was chosen, for its headers: by gold dev labels, or the last round within the budget."""
    return "last round" if protocol == "few-shot" else "dev-selected"


def notes(s: Settings, runs: dict[str, list[dict]], refs: dict[str, dict], kind: str) -> list[str]:
    """How to read the numbers (``kind``: the dataset's task kind): selection, budgets, labelled data, the
    references, and budget warnings."""
    label_words = bench_task(adapter_for(kind)).label_words
    few_shot = protocol_of(runs) == "few-shot"
    if few_shot:
        epoch, pick = (
            "the last epoch of each pass kept, ",
            "at the last round within the budget (no gold label beyond the shots selects; the stop rule's patience "
            "reads the student's agreement with the teacher on each round's new samples).",
        )
    else:
        epoch = f"the epoch with the best dev score kept (patience {s.patience_epochs}), " if s.select_epoch else ""
        pick = "at the round with the best dev score (test labels never select)."
    out: list[str] = []
    if runs:  # a table of references alone (`--methods teacher`) has no method's recipe or selection to explain
        out += [
            f"Every method trains the same student with the same recipe (AdamW lr {s.lr}, batch {s.batch_size}, "
            f"up to {s.epochs} epochs but at least {pass_steps(s.min_steps, kind)} optimizer steps per pass, "
            f"{'class-balanced batches, ' if s.balance else ''}{epoch}"
            f"max length {s.max_length}, replay {s.replay}) and is scored on the test split {pick}",
            f"Budgets: each run ran once at {s.budget_tokens:,} teacher tokens (prompt + completion) and is scored at "
            f"every rung of the ladder fixed in code ({', '.join(f'{b:,}' for b in ladder(s.budget_tokens))}) by "
            f"replaying the loop's stop rule and {'its' if few_shot else 'the dev'} selection on its rounds; a round "
            "that overran a rung is excluded at that rung. Area: the mean score over the ladder on a log2 token axis.",
            "'last round' is the test score of the last round within the budget (no selection"
            f"{', so under the few-shot protocol it is the score itself' if few_shot else ''}); 'fell back' counts "
            "runs whose dev selection kept round 0 (the seeds-only student) although later rounds ran.",
            "'labelled texts' is what the teacher and student saw with gold labels: the k-shot seeds, plus the dev "
            "texts shown to the Analyst each round in a dev-feedback variant (an upper bound: rounds x texts shown).",
        ]
    oracle_rows = sorted({m for m, rs in runs.items() if any(gold_labels(r) for r in rs)})
    if few_shot and oracle_rows:  # an ablation inside a few-shot table: its rows decided otherwise
        out.append(
            f"{', '.join(oracle_rows)} ran under the oracle-dev protocol: the dev split's gold labels (the oracle "
            "dev column) chose each pass's epoch and the round kept at each rung, and 'labelled texts' counts them."
        )
    if s.eval_limit:
        out.append(
            f"Dev and test are the first {s.eval_limit} examples of each split (the splits are seeded shuffles), "
            "so that evaluating every round stays affordable on a 2-core CPU; scores are on those."
        )
    if t := refs.get("teacher"):
        same = (
            "the same test texts every method is scored on"
            if t["n"] == t["of"]
            else f"the first {t['n']} of the {t['of']} test texts the methods are scored on"
        )
        out.append(
            f"teacher: zero-shot labels on {same}{f', first {label_words} words of each' if label_words else ''}, "
            "95% interval: percentile bootstrap over those texts."
        )
    if f := refs.get("full-shot"):  # results from before the protocol was recorded chose their epoch on dev
        kept = "the last epoch kept" if f.get("protocol") == "few-shot" else "the epoch chosen on dev"
        out.append(
            f"full-shot: {f['train_examples']:,} train examples, up to {s.full_shot_epochs or s.epochs} epochs "
            f"with {kept} (epoch kept / epochs run: {', '.join(f['epochs_kept_of_run'])}), "
            f"seeds {', '.join(map(str, f['seeds']))} (mean ± std)."
        )
    for name, rs in runs.items():  # a budget below one round leaves a method at its seed-only score: say so
        first = [r["budgets"][0]["budget"] for r in rs if spent(r) and not r["budgets"][0]["rounds"]]
        if first:
            out.append(
                f"WARNING {name}: the first round (with the shot check before it) overran the lowest rung "
                f"({first[0]:,} tokens) in "
                f"{len(first)} of {len(rs)} runs, so those runs score as seed-only there (one round of this "
                "method costs more than that rung)."
            )
    out += [f"SAME {a} and {b}: {RUN_TWINS}" for a, b in twins(runs)]
    return out


def spent(run: dict) -> bool:
    """Whether a run called the teacher at all: a round past round 0, or the shot check after it."""
    return len(run.get("rounds_run", [])) > 1 or bool(run.get("teacher_tokens_spent"))


RUN_TWINS = (
    "every seed's run went round for round the same (scores and tokens): the settings that tell them apart "
    "did not bind on this dataset, so the two rows are one measurement, not two."
)


def twins(runs: dict[str, list[dict]]) -> list[tuple[str, str]]:
    """Pairs of methods whose runs are identical on every seed they share (the same curve: dev, test and
    tokens each round), so a reader does not count one measurement twice."""

    def curves(rs: list[dict]) -> dict[int, list]:
        return {r["seed"]: [(c["dev"], c["test"], c["tokens"]) for c in r.get("curve", [])] for r in rs}

    seen = {name: curves(rs) for name, rs in runs.items() if rs}
    names = list(seen)
    return [  # runs that never left round 0 (seed-only, setfit) are not "the same loop"
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if seen[a] == seen[b] and any(len(c) > 1 for c in seen[a].values())
    ]


def fmt(score: float, std: float | None = None) -> str:
    """A score (± std) to three places."""
    return f"{score:.3f}" if std is None else f"{score:.3f} ± {std:.3f}"


def bounds(pair: list[float] | None) -> str:
    """An interval as "[low, high]" ("–" where there is none: one seed)."""
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]" if pair else "–"


def oracle(m: dict) -> str:
    """The oracle-dev column: "yes (N)" for runs that read N gold dev labels to decide, "no" under few-shot."""
    if m.get("protocol") is None:
        return "–"  # a result from before the protocols were named
    return f"yes ({m['gold_labels']:,})" if m["protocol"] == "oracle-dev" else "no"


def verdict(covers_zero: bool, delta: float) -> str:
    """What a paired comparison shows: "beats" or "loses to" only where its interval excludes zero."""
    if covers_zero:
        return "no difference shown"
    return "beats" if delta > 0 else "loses to"


def compared(name: str, d: dict) -> str:
    """One paired comparison as a line of the table's notes."""
    span = f" [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}]" if d["interval"] else " (one seed: no interval)"
    method = name.split(" vs ")[0]
    return (
        f"{method} vs {d['against']}: Δ {d['delta_mean']:+.3f}{span}, {verdict(d['covers_zero'], d['delta_mean'])}, "
        f"wins {d['wins']}, losses {d['losses']} of {d['seeds']}"
    )


def per_accepted(m: dict) -> str:
    """Teacher tokens per accepted pool and generated text ("–" for a source the method does not use)."""
    return " / ".join(f"{m[k]:,.0f}" if m.get(k) is not None else "–" for k in PER_ACCEPTED)


def stances(summary: dict) -> list[str]:
    """Whether hard texts find the student's weaknesses: for each method that generated texts, its accepted hard
    and easy texts over all runs and how many of each the student got wrong before training on them (Markdown
    lines; none where no method generated)."""
    rows = [(name, m) for name, m in summary["methods"].items() if m.get("hard_accepted") or m.get("easy_accepted")]
    if not rows:
        return []

    def wrong(m: dict, stance: str) -> str:
        n, k = m[f"{stance}_accepted"], m[f"{stance}_fooled"]
        return f"{k} of {n} ({k / n:.0%})" if n else "–"

    return [
        "",
        "**The student wrong before training on them** (accepted generated texts over all runs; hard texts are "
        "written at its weaknesses, so they should fool it more often than easy ones):",
        "",
        "| method | hard: student wrong | easy: student wrong |",
        "|---|---|---|",
        *[f"| {name} | {wrong(m, 'hard')} | {wrong(m, 'easy')} |" for name, m in rows],
    ]


def described(name: str, d: dict) -> str:
    """One `over_texts` result as a line: "pool-random: 0.746 [0.688, 0.804] (5 seeds, 425 texts)", and against
    the teacher with its verdict."""
    counts = f"({d['seeds']} seeds, {d['texts']:,} texts)"
    if not name.endswith(" vs teacher"):
        return f"{name}: {d['mean']:.3f} {bounds(d['interval'])} {counts}"
    return f"{name}: Δ {d['mean']:+.3f} {bounds(d['interval'])}, {verdict(d['covers_zero'], d['mean'])} {counts}"


def over_seeds_and_texts(summary: dict) -> list[str]:
    """Lines for the intervals over seeds and test texts at the top budget, and each student against the teacher
    on the same texts, where the cells kept their predictions (none for older results)."""
    found = summary.get("over_texts") or {}
    if not found:
        return []
    return [
        "",
        f"**Over seeds and test texts** at {summary['settings']['budget_tokens']:,} tokens (the seed t-interval's "
        "half-width and 1.96 standard deviations of the mean over a bootstrap of the test texts, in quadrature; "
        "against the teacher, each seed's score minus the teacher's on the same texts):",
        "",
        *[f"- {described(name, d)}" for name, d in found.items()],
    ]


def markdown(summary: dict) -> str:
    """The Markdown tables and notes for one dataset."""
    st, metric = summary["settings"], summary["metric"]
    top, protocol = st["budget_tokens"], protocol_of(summary["runs"])
    lines = [
        f"## {summary['dataset']}: {st['shots']}-shot, seeds {', '.join(map(str, st['seeds']))} requested "
        f"(the seeds column says how many finished), scores at {top:,} teacher tokens unless a column names "
        "a budget",
        "",
        f"{summary['date']} · teacher: {summary['teacher']} · student: {summary['student']} · "
        f"machine: {summary['machine']}",
        "",
        f"| method | seeds | labelled texts | oracle dev (N gold labels) | test {metric} at {top:,} "
        f"({selected(protocol)}, mean ± std) | 95% t-interval over seeds | last round | fell back to round 0 | "
        "area (log2 tokens) | teacher tokens (mean) | tokens per accepted pool / generated text | wall s (mean) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in summary["methods"].items():
        last = m["rungs"][-1] if m["rungs"] else {"last": m["score_mean"], "fallbacks": 0}
        area_ = f"{m['area']:.3f}" if m["area"] is not None else "–"
        lines.append(
            f"| {name} | {len(m['seeds'])} | {m['labelled_max']} | {oracle(m)} | "
            f"{fmt(m['score_mean'], m['score_std'])} | {bounds(m.get('score_interval'))} | {last['last']:.3f} |"
            f" {last['fallbacks']} of {len(m['seeds'])} | {area_} | "
            f"{m['tokens_mean']:,} | {per_accepted(m)} | {m['seconds_mean']:.0f} |"
        )
    refs = summary["references"]
    if f := refs.get("full-shot"):
        lines.append(
            f"| full-shot (reference) | {len(f['seeds'])} | {f['labelled']:,} | – | {fmt(f['score'], f['std'])} | "
            f"{bounds(f.get('interval'))} | – | – | – | 0 | – | {f['seconds']:.0f} |"
        )
    if t := refs.get("teacher"):
        low, high = t["interval"]
        lines.append(
            f"| teacher zero-shot (reference, {t['n']} test texts) | – | 0 | – | {fmt(t['score'])} | "
            f"[{low:.3f}, {high:.3f}] over texts | – | – | – | {t['tokens']:,} | – | {t['seconds']:.0f} |"
        )
    rungs = [r["budget"] for m in summary["methods"].values() for r in m["rungs"]]
    ladder_ = sorted(set(rungs))
    if ladder_:
        lines += [
            "",
            f"**Test {metric} at each budget** (teacher tokens; mean over seeds, {selected(protocol)}):",
            "",
            "| method | " + " | ".join(f"{b:,}" for b in ladder_) + " |",
            "|---|" + "---|" * len(ladder_),
        ]
        for name, m in summary["methods"].items():
            by = {r["budget"]: r["score"] for r in m["rungs"]}
            lines.append(f"| {name} | " + " | ".join(f"{by[b]:.3f}" if b in by else "–" for b in ladder_) + " |")
    lines += stances(summary)
    if against := summary["against_best_baseline"]:
        lines += [
            "",
            f"**Against the best baseline (and {ANNOTATOR_BASELINE}, where it ran; a variant against the run "
            f"it varies) at {top:,} tokens, paired by seed** (Δ = method − baseline, paired Student-t 95% interval "
            "over seeds; a method beats another only where that interval excludes zero):",
            "",
        ]
        lines += [f"- {compared(name, d)}" for name, d in against.items()]
    lines += over_seeds_and_texts(summary)
    lines += ["", *[f"- {n}" for n in summary["notes"]], ""]
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    """Test score against the teacher-token budget, one line per method (mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for name, m in summary["methods"].items():
        pts = [r for r in m["rungs"] if r["budget"]]
        if pts and any(r["tokens"] for r in pts):
            ax.plot([p["budget"] for p in pts], [p["score"] for p in pts], marker="o", label=name)
        else:
            ax.axhline(m["score_mean"], color="grey", linestyle=":", label=f"{name} ({m['score_mean']:.3f})")
    styles = {"full-shot": ("black", "--"), "teacher": ("tab:purple", "-.")}
    for name, ref in summary["references"].items():
        colour, style = styles.get(name, ("grey", "--"))
        ax.axhline(ref["score"], color=colour, linestyle=style, label=f"{name} ({ref['score']:.3f})")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("teacher-token budget (prompt + completion)")
    ax.set_ylabel(f"test {summary['metric']}\n(mean over seeds, {selected(protocol_of(summary['runs']))})")
    st = summary["settings"]
    ax.set_title(
        f"{summary['dataset']}, {st['shots']}-shot, {len(st['seeds'])} seeds, teacher {summary['teacher']}", fontsize=9
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the lines stay readable
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(
    s: Settings, dataset: str, runs: dict[str, list[dict]], refs: dict[str, list[dict]], texts: dict | None = None
) -> dict:
    """Write ``<out>/<dataset>.json|md|png`` from the runs finished so far; return the summary."""
    summary = summarise(s, dataset, runs, refs, texts)
    out, name = Path(s.out), Path(dataset).name
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{name}.json", summary)
    write_text(out / f"{name}.md", markdown(summary))
    plot(summary, out / f"{name}.png")
    write_index(out)
    return summary


def redraw(path: Path) -> dict:
    """Rewrite a committed result's notes, paired comparisons, table and plot from the runs its JSON holds, after a
    change to how results are presented; the runs, scores and the cells' code identity stay as measured."""
    from evokd.bench.settings import Settings

    summary = json.loads(path.read_text(encoding="utf-8"))
    st = summary["settings"]
    fields = {f.name for f in dataclasses.fields(Settings)}
    s = Settings(**{k: v for k, v in st.items() if k in fields})
    runs = summary["runs"]
    summary |= {
        "against_best_baseline": paired(runs),
        "notes": notes(s, runs, summary["references"], s.task_of(summary["dataset"])),
    }
    write_json(path, summary)
    write_text(path.with_suffix(".md"), markdown(summary))
    plot(summary, path.with_suffix(".png"))
    write_index(path.parent)
    return summary


def write_index(out: Path) -> None:
    """``<out>/README.md``: every dataset table and the speed table found there, for the project README."""
    parts = [p.read_text(encoding="utf-8") for p in sorted(out.glob("*.md")) if p.name not in ("README.md", "speed.md")]
    parts += [(out / "speed.md").read_text(encoding="utf-8")] if (out / "speed.md").exists() else []
    header = "# Benchmark results\n\nWritten by `evokd bench`; see docs/benchmarks.md for what is compared and how.\n\n"
    write_text(out / "README.md", header + "\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    """`python -m evokd.bench.tables RESULT.json ...`: redraw committed results (see `redraw`)."""
    parser = argparse.ArgumentParser(prog="python -m evokd.bench.tables", description=redraw.__doc__)
    parser.add_argument("results", nargs="+", type=Path, help="<dataset>.json files written by `evokd bench`")
    for path in parser.parse_args(argv).results:
        if not path.is_file():
            parser.error(f"{path}: no such result file; give a <dataset>.json written by `evokd bench`")
        redraw(path)
        print(f"redrew {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
