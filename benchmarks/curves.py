"""Token curves: one run at the top budget, scored at every budget of a fixed ladder by replaying its rounds.

A run's rounds do not depend on its budget (only the routing after each round reads it), so a run at a
smaller budget B is a prefix of the run at the top budget: the rounds up to where the loop's own stop
rule (`evokd.graph.routing.stop_reason`) would have stopped under B. Its result at B is the same dev
selection the benchmark always uses (`runner.select`) over that prefix. So each method runs once, and
no budget is chosen after the results are in.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from scipy import stats

from evokd.graph.routing import stop_reason
from evokd.settings import Context

# Fixed before any result exists (issue 13). A doubling ladder: each rung weighs the same in the area
# below. Sized for the 2-core CPU with the local 1.5B teacher: a generating method spends about 11 min
# per 16k teacher tokens and a labelling method about 2 min, so a cell at the 8k top costs ~5.5 min
# (generating) or ~1 min (labelling). Three datasets at 5 + 3 + 3 seeds make 11 dataset-seeds; with
# four generating methods that is 44 cells, ~4 h at 8k (a 16k top would double it to ~8 h, beyond a
# working day's sweep), while the committed runs show the curves still rising past 4k (evokd's best
# rounds cost ~6k on rotten_tomatoes), so 4k would cut off where methods separate. Rounds cost
# ~600-1,000 tokens, so the 1k rung holds one or two rounds: the low end of the curve.
#
# 16k is a rung for runs whose top budget reaches it: issue 12 states the pool methods' goal at 16,000 tokens
# (before any pool result), and `ladder(top)` scores a run only at rungs up to its own top, so the 8k-top runs
# above are scored exactly as before.
LADDER: tuple[int, ...] = (1_000, 2_000, 4_000, 8_000, 16_000)
TOP = 8_000  # the default top budget (`evokd bench --budget-tokens`); the pool comparison runs at 16,000


def ladder(top: int) -> list[int]:
    """The rungs a run at budget ``top`` is scored at: the fixed ladder below ``top``, then ``top``."""
    return [b for b in LADDER if b < top] + [top] if top else [0]


def replay(rounds: Sequence[dict], budget: int, stop: dict) -> list[dict]:
    """The rounds a run with ``budget`` would have run: its stop rule replayed on the top-budget run's rounds.

    ``stop`` holds the run's other stop settings (max_rounds, patience, target).
    """
    ctx = Context(budget_tokens=budget, **stop)
    history: list[dict] = []
    for r in rounds:
        history.append(r)
        if stop_reason(history, r["teacher_tokens"], ctx):  # type: ignore[arg-type]
            break
    return history


def at_budgets(rounds: Sequence[dict], budgets: Sequence[int], stop: dict) -> list[dict]:
    """The run's result at every budget: dev-selected score, last-round score, and whether selection fell back."""
    from evokd.bench.runner import select, within_budget

    out = []
    for b in budgets:
        ran = replay(rounds, b, stop)
        got = select(ran, b, stop["protocol"])
        within = within_budget(ran, b)
        out.append(
            {
                "budget": b,
                "score": got["score"],
                "dev": got["dev"],
                "round": got["round"],
                "tokens": got["tokens"],
                "rounds": got["rounds"],
                "last_score": within[-1]["test"]["score"],
                # The run wrote rounds within budget, yet the seeds-only student (round 0) scored best on dev.
                "fallback": got["round"] == 0 and got["rounds"] > 0,
            }
        )
    return out


def area(points: Sequence[tuple[int, float]]) -> float:
    """Area under the score-token curve over log2(tokens), divided by its width: a mean score in which each
    doubling of the budget counts the same (one point: its score)."""
    if len(points) == 1:
        return points[0][1]
    xs = [math.log2(t) for t, _ in points]
    ys = [s for _, s in points]
    return sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(xs) - 1)) / (xs[-1] - xs[0])


def t_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and Student-t 95% interval of ``values`` (seeds, or paired same-seed differences).

    Fewer than two values give no interval: (mean, -inf, inf), which covers zero, so one seed never "beats".
    """
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, -math.inf, math.inf
    half = float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half
