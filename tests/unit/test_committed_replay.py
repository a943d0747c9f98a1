"""Behaviour kept: the benchmark's replay of every committed run picks the rounds and scores its file holds.

The committed runs were made under the ``oracle-dev`` protocol (gold dev labels decided) before results
recorded their protocol. Each keeps the rounds its run recorded (``rounds_run``), its stop settings, the
round it reported and its result at every budget rung. Replaying those rounds through today's selection and stop rules
(`evokd.accounting.best_round` by way of `runner.select` and `curves.at_budgets`) must give the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evokd.bench.curves import at_budgets
from evokd.bench.methods import methods
from evokd.bench.runner import select

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
FILES = sorted(p for p in RESULTS.rglob("*.json") if '"rounds_run"' in p.read_text(encoding="utf-8"))
SELECTED = ("round", "dev", "score", "tokens", "rounds", "overrun_rounds", "accepted", "rejected", "curve")


def committed_runs(path: Path) -> list[dict]:
    return [run for runs in json.loads(path.read_text(encoding="utf-8"))["runs"].values() for run in runs]


def test_there_are_committed_runs_with_several_rounds_to_replay():
    assert any(len(run["rounds_run"]) > 2 for path in FILES for run in committed_runs(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_replaying_a_committed_run_gives_its_committed_scores(path: Path):
    for run in committed_runs(path):
        rounds, rungs = run["rounds_run"], run["budgets"]
        method = methods(2).get(run["method"])  # None: a method since retired (pool-random-soft), no budget of its own
        top = (method.overrides if method else {}).get("budget_tokens", rungs[-1]["budget"])
        protocol = run.get("protocol", "oracle-dev")
        got = select(rounds, top, protocol)
        assert {k: v for k, v in got.items() if k in SELECTED} == {k: run[k] for k in SELECTED}
        assert at_budgets(rounds, [b["budget"] for b in rungs], {"protocol": protocol, **run["stop"]}) == rungs
