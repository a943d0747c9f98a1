"""The evolve-or-stop decision."""

from __future__ import annotations

from evokd.graph.routing import stop_reason
from evokd.settings import Context


def history(*dev_scores: float) -> list[dict]:
    """Round records with the given dev scores, round 0 first."""
    return [{"round": r, "dev": {"score": s}} for r, s in enumerate(dev_scores)]


def test_each_stop_reason():
    ctx = Context(max_rounds=5, patience=2, target=0.9, budget_tokens=1000, protocol="oracle-dev")
    assert stop_reason(history(0.5, 0.6), tokens=10, ctx=ctx) is None
    assert stop_reason(history(0.5, 0.95), tokens=10, ctx=ctx) == "target"
    assert stop_reason(history(0.5, 0.6, 0.6, 0.6, 0.6, 0.7), tokens=10, ctx=ctx) == "max_rounds"
    assert stop_reason(history(0.5, 0.6), tokens=1000, ctx=ctx) == "token_budget"
    assert stop_reason(history(0.5, 0.6, 0.55, 0.58), tokens=10, ctx=ctx) == "patience"


def test_zero_means_no_limit():
    ctx = Context(max_rounds=50, patience=0, target=0.0, budget_tokens=0)
    assert stop_reason(history(0.5, 0.4, 0.3, 0.2), tokens=10**9, ctx=ctx) is None


def agreements(*scores: float | None) -> list[dict]:
    """Round records whose dev scores rise while the fresh agreement with the teacher is as given."""
    return [{"round": r, "dev": {"score": r / 10}, "fresh_agreement": a} for r, a in enumerate(scores)]


def test_few_shot_stops_on_the_agreement_with_the_teacher_never_on_dev():
    ctx = Context(max_rounds=9, patience=2, target=0.9, protocol="few-shot")
    assert stop_reason(agreements(None, 0.5, 0.7), tokens=0, ctx=ctx) is None
    assert stop_reason(agreements(None, 0.5, 0.95), tokens=0, ctx=ctx) == "target"
    # dev rises every round, the agreement peaked in round 1: patience counts from there
    assert stop_reason(agreements(None, 0.7, 0.6, 0.65), tokens=0, ctx=ctx) == "patience"
    assert stop_reason(agreements(None, None, None), tokens=0, ctx=ctx) == "patience"  # nothing accepted since round 0
    oracle = Context(max_rounds=9, patience=2, target=0.9, protocol="oracle-dev")
    assert stop_reason(agreements(None, 0.7, 0.6, 0.65), tokens=0, ctx=oracle) is None  # dev still rising


def test_growing_pool_rounds_stop_before_the_bigger_next_round_would_overrun():
    spent = [
        {"round": 0, "teacher_tokens": 0},
        {"round": 1, "teacher_tokens": 700},
        {"round": 2, "teacher_tokens": 1400},
    ]
    same = Context(max_rounds=10, patience=0, budget_tokens=2_500)
    assert stop_reason(spent, tokens=1_400, ctx=same) is None  # 1,400 + 700 fits
    grown = Context(max_rounds=10, patience=0, budget_tokens=2_500, pool_growth=2)
    assert stop_reason(spent, tokens=1_400, ctx=grown) == "token_budget"  # 1,400 + 1,400 does not
    assert [grown.pool_round_size(r) for r in (1, 2, 3)] == [16, 32, 64]
    assert [Context(pool_per_round=10, pool_growth=1.5).pool_round_size(r) for r in (1, 2, 3)] == [10, 15, 22]
