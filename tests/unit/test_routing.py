"""The evolve-or-stop decision."""

from __future__ import annotations

from evokd.graph.routing import stop_reason
from evokd.settings import Context


def history(*dev_scores: float) -> list[dict]:
    """Round records with the given dev scores, round 0 first."""
    return [{"round": r, "dev": {"score": s}} for r, s in enumerate(dev_scores)]


def test_each_stop_reason():
    ctx = Context(max_rounds=5, patience=2, target=0.9, budget_tokens=1000)
    assert stop_reason(history(0.5, 0.6), tokens=10, ctx=ctx) is None
    assert stop_reason(history(0.5, 0.95), tokens=10, ctx=ctx) == "target"
    assert stop_reason(history(0.5, 0.6, 0.6, 0.6, 0.6, 0.7), tokens=10, ctx=ctx) == "max_rounds"
    assert stop_reason(history(0.5, 0.6), tokens=1000, ctx=ctx) == "token_budget"
    assert stop_reason(history(0.5, 0.6, 0.55, 0.58), tokens=10, ctx=ctx) == "patience"


def test_zero_means_no_limit():
    ctx = Context(max_rounds=50, patience=0, target=0.0, budget_tokens=0)
    assert stop_reason(history(0.5, 0.4, 0.3, 0.2), tokens=10**9, ctx=ctx) is None
