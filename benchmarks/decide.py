"""The rule that turns a benchmark variant into a default, applied to a committed results file.

A variant (``VARIANTS`` in `evokd.bench.tables`: one setting away from the method it varies) becomes the
default only where it beats that method on **dev** scores, paired by seed, with a Student-t 95 % interval
that lies above zero. Dev, not test: the test split judges results and never also chooses a setting; the dev
scores are the ones each run reports at its scored round and never reads inside the run.

    python -m evokd.bench.decide benchmarks/results/X/rotten_tomatoes.json pool-random-all
    python -m evokd.bench.decide A/rotten_tomatoes.json pool-random-soft --with B/bbc_news.json

``--with`` pools the seeds of more results files (other datasets) with the first: one paired difference per
dataset and seed, one interval over all of them. ``--pairs N`` names how many pairs the rule asks for: with
fewer present the command says so and adopts nothing, so a rule is never applied early on a good look.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evokd.bench.tables import VARIANTS, difference


def dev_verdict(runs: dict[str, list[dict]], variant: str, *more: dict[str, list[dict]], pairs: int = 0) -> dict:
    """The variant against the method it varies on each seed's dev score (of ``runs`` and of each of ``more``,
    pooled): mean difference, paired t-interval, pairs, and ``adopt`` (the interval's lower end above zero, and
    at least the ``pairs`` the rule asks for present)."""
    baseline = VARIANTS[variant]
    diffs = []
    for each in (runs, *more):
        theirs = {r["seed"]: r["dev"] for r in each.get(baseline, [])}
        diffs += [r["dev"] - theirs[r["seed"]] for r in each.get(variant, []) if r["seed"] in theirs]
    if not diffs:
        raise ValueError(f"{variant} and {baseline} share no seed in these runs: nothing to decide on")
    d = difference(baseline, diffs)
    return {
        "variant": variant,
        "baseline": baseline,
        "seeds": d["seeds"],
        "dev_difference": d["delta_mean"],
        "interval": d["interval"],  # None for one seed: no interval, so nothing to adopt
        "missing": (missing := max(0, pairs - d["seeds"])),  # pairs the rule asks for that these files lack
        "adopt": d["interval"] is not None and d["interval"][0] > 0 and not missing,
    }


def main(argv: list[str] | None = None) -> None:
    """Print the verdict for each variant named, read from a results JSON written by `evokd bench`."""
    p = argparse.ArgumentParser(prog="python -m evokd.bench.decide", description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, help="a benchmark results JSON (benchmarks/results/.../<dataset>.json)")
    p.add_argument("variants", nargs="+", choices=sorted(VARIANTS), help="variants to judge against their method")
    p.add_argument("--with", dest="more", type=Path, action="append", default=[], help="pool another results JSON")
    p.add_argument("--pairs", type=int, default=0, help="how many seed pairs the rule asks for (fewer: no verdict)")
    args = p.parse_args(argv)
    runs, *more = (json.loads(f.read_text(encoding="utf-8"))["runs"] for f in (args.results, *args.more))
    for variant in args.variants:
        try:
            v = dev_verdict(runs, variant, *more, pairs=args.pairs)
        except ValueError as e:
            raise SystemExit(f"{args.results}: {e}") from None
        interval = "[{:+.4f}, {:+.4f}]".format(*v["interval"]) if v["interval"] else "(one seed: no interval)"
        verdict = "adopt" if v["adopt"] else "keep the default"
        if v["missing"]:
            verdict = f"no verdict: the rule asks for {args.pairs} pairs, {v['missing']} missing"
        print(
            f"{variant} vs {v['baseline']} on dev ({v['seeds']} paired seeds): {v['dev_difference']:+.4f} {interval} "
            f"-> {verdict}"
        )


if __name__ == "__main__":
    main()
