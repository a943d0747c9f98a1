"""The README's result tables, written from the committed benchmark files so that no number is typed by hand.

    python -m evokd.bench.readme           # rewrite the tables between the markers in README.md
    python -m evokd.bench.readme --check   # exit 1 if README.md differs from what the files give

Each block between ``<!-- bench:<block> begin -->`` and ``<!-- bench:<block> end -->`` is built from the files
`BLOCKS` names for it: for each dataset, ``benchmarks/results/<name>.json`` (generating methods and references) and
``benchmarks/results/pool-16k/<name>.json`` (pool methods), measured under the oracle-dev protocol;
``few-shot/<name>`` from ``benchmarks/results/few-shot-16k/<name>.json``, the reruns under the few-shot protocol,
and ``few-shot-cheap/<name>`` from ``few-shot-16k-cheap/<name>.json``, pool-random rerun with budget-filling rounds
and the shorter label prompt, and ``few-shot-recipe/<name>`` from ``few-shot-16k-recipe/<name>.json``, pool-random
beside its full-replay and soft-target variants (``few-shot-soft/bbc_news``: the soft-target pair's bbc_news seeds
3-5, run later at other code), ``few-shot-default/<name>`` the shipped default with the
teacher's reference on the same texts (``few-shot-40steps/wnut16``: wnut16's before NER passes ran 200 steps),
``few-shot-mask/wnut16`` pool-random beside mention masking, ``few-shot-gen/rotten_tomatoes`` the generating
methods (``few-shot-16k-gen/``), ``few-shot-oracle/rotten_tomatoes`` pool-random beside its oracle-dev ablation
(``few-shot-16k-oracle/``), and ``min-steps/<name>`` seed-only at 40 and 200 steps.
Each gives the mean at each budget rung that holds a round, mean ±
std and the Student-t 95 % interval over seeds at each file's top budget, the paired comparisons recomputed from
the per-seed scores those files hold, and, for files that hold them, the intervals over seeds and test texts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evokd.bench.tables import bounds, compared, fmt, interval, oracle, over_seeds_and_texts, paired, per_accepted

RESULTS = Path(__file__).parent / "results"
README = Path(__file__).parent.parent / "README.md"
DATASETS = ("rotten_tomatoes", "bbc_news", "wnut16")
# Each README block and the result files it is built from: the generating methods' table, then the pool methods'
# (oracle-dev, 2026-11-27); then the reruns under the few-shot protocol: the first (few-shot-16k), and pool-random
# again after the last pool round came to fill the budget and the label prompt was cut (few-shot-16k-cheap), then
# beside two variants that train differently on the same labels (few-shot-16k-recipe).
BLOCKS: dict[str, tuple[str, ...]] = {
    **{name: (f"{name}.json", f"pool-16k/{name}.json") for name in DATASETS},
    **{f"few-shot/{name}": (f"few-shot-16k/{name}.json",) for name in DATASETS},
    **{f"few-shot-cheap/{name}": (f"few-shot-16k-cheap/{name}.json",) for name in DATASETS},
    **{f"few-shot-recipe/{name}": (f"few-shot-16k-recipe/{name}.json",) for name in DATASETS},
    "few-shot-soft/bbc_news": ("few-shot-16k-soft-bbc/bbc_news.json",),  # soft targets' last 3 bbc_news pairs
    **{  # the shipped default, with the teacher's reference on the same whole test split
        f"few-shot-default/{name}": (f"few-shot-16k-default/{name}.json", f"teacher-label-only/{name}.json")
        for name in DATASETS
    },
    "few-shot-mask/wnut16": ("few-shot-16k-wnut16/wnut16.json",),
    # the generating methods under the few-shot protocol (benchmarks/decisions/generating-few-shot.md)
    "few-shot-gen/rotten_tomatoes": (
        "few-shot-16k-gen/rotten_tomatoes.json",
        "teacher-label-only/rotten_tomatoes.json",
    ),
    # pool-random beside its oracle-dev ablation at one code (benchmarks/decisions/oracle-dev-column.md)
    "few-shot-oracle/rotten_tomatoes": (
        "few-shot-16k-oracle/rotten_tomatoes.json",
        "teacher-label-only/rotten_tomatoes.json",
    ),
    # wnut16's shipped default before NER passes ran 200 steps (benchmarks/decisions/min-steps.md)
    "few-shot-40steps/wnut16": ("few-shot-16k-wnut16-40steps/wnut16.json", "teacher-label-only/wnut16.json"),
    **{f"min-steps/{name}": (f"min-steps-dev/{name}.json",) for name in DATASETS},  # seed-only at 40 and 200 steps
}


def marker(name: str, end: bool) -> str:
    """The comment that opens or closes a dataset's generated block."""
    return f"<!-- bench:{name} {'end' if end else 'begin'} -->"


def load(results: Path, paths: tuple[str, ...]) -> list[tuple[str, dict]]:
    """The committed summaries among ``paths`` that exist, with their paths relative to ``results``."""
    return [(p, json.loads((results / p).read_text(encoding="utf-8"))) for p in paths if (results / p).exists()]


def legacy(method: str, m: dict, settings: dict) -> dict:
    """A method summary from before the protocols were named, with the protocol it followed: every method but
    setfit chose its epoch and best round on the first ``eval_limit`` gold dev labels (oracle dev)."""
    if "protocol" in m or method == "setfit":
        return m
    gold = settings["eval_limit"]
    return {**m, "protocol": "oracle-dev", "gold_labels": gold, "labelled_max": m["labelled_max"] + gold}


def block(results: Path, paths: tuple[str, ...]) -> str:
    """The generated Markdown for one block: a table over its committed summaries, then paired comparisons.
    A budget rung is shown where some method's runs hold a round within it (elsewhere every row is seed-only)."""
    files = load(results, paths)
    rungs = sorted({r["budget"] for _, f in files for m in f["methods"].values() for r in m["rungs"] if r["tokens"]})
    lines = [
        f"Generated by `python -m evokd.bench.readme` from {', '.join(f'`benchmarks/results/{p}`' for p, _ in files)}"
        " (do not edit by hand). Mean over seeds at each rung; at a table's top budget mean ± std and the "
        "Student-t 95 % interval over seeds.",
        "",
        "| method | seeds | labelled texts | oracle dev (N gold labels) | "
        + " | ".join(f"{b:,} tokens" for b in rungs)
        + " | 95 % t-interval at the top | fell back to round 0 at the top | "
        "tokens per accepted pool / generated text |",
        "|---|---|---|---|" + "---|" * len(rungs) + "---|---|---|",
    ]
    seen: set[str] = set()
    for _, f in files:
        top = f["settings"]["budget_tokens"]
        for method, m in f["methods"].items():
            if method in seen:  # seed-only is in both files, from the same runs
                continue
            seen.add(method)
            m = legacy(method, m, f["settings"])
            by = {r["budget"]: r for r in m["rungs"]}
            cells = [
                (fmt(m["score_mean"], m["score_std"]) if b == top else f"{by[b]['score']:.3f}") if b in by else ""
                for b in rungs
            ]
            fell = f"{by[top]['fallbacks']} of {len(m['seeds'])}" if top in by else "–"
            lines.append(
                f"| {method} | {len(m['seeds'])} | {m['labelled_max']} | {oracle(m)} | {' | '.join(cells)} | "
                f"{bounds(interval(m['scores']))} | {fell} | {per_accepted(m)} |"
            )
    refs: dict[str, dict] = next((f["references"] for _, f in files if f["references"]), {})
    blank = " | " * (len(rungs) - 1)
    if full := refs.get("full-shot"):
        lines.append(
            f"| full-shot ({full['train_examples']:,} gold train texts) | {len(full['seeds'])} | {full['labelled']:,} "
            f"| – | {blank}{fmt(full['score'], full['std'])} | – | – | – |"
        )
    if teacher := refs.get("teacher"):
        low, high = teacher["interval"]
        lines.append(
            f"| teacher zero-shot ({teacher['n']:,} test texts) | – | 0 | – | {blank}{fmt(teacher['score'])} | "
            f"[{low:.3f}, {high:.3f}] over texts (bootstrap) | – | – |"
        )
    for path, f in files:
        if against := paired(f["runs"]):
            lines += [
                "",
                f"Paired by seed at {f['settings']['budget_tokens']:,} tokens (`{path}`; Δ = method − baseline, "
                "paired Student-t 95 % interval; a method beats another only where it excludes zero):",
                "",
                *[f"- {compared(n, d)}" for n, d in against.items()],
            ]
        lines += over_seeds_and_texts(f)  # files collected since these intervals exist
    return "\n".join(lines)


def render(text: str, results: Path = RESULTS) -> str:
    """``text`` (the README) with every dataset block that has markers rewritten from ``results``."""
    for name, paths in BLOCKS.items():
        begin, end = marker(name, False), marker(name, True)
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            text = f"{head}{begin}\n{block(results, paths)}\n{end}{rest.split(end, 1)[1]}"
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite README.md's result blocks, or with --check say whether they match the committed files."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is not what the files give")
    ap.add_argument("--readme", default=str(README))
    ap.add_argument("--results", default=str(RESULTS))
    args = ap.parse_args(argv)
    readme = Path(args.readme)
    text = readme.read_text(encoding="utf-8")
    new = render(text, Path(args.results))
    if args.check:
        if new != text:
            print(
                f"{readme}: result tables differ from {args.results}; run: python -m evokd.bench.readme",
                file=sys.stderr,
            )
            return 1
        return 0
    readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
