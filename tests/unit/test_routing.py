"""The evolve-or-stop decision."""

from __future__ import annotations

from evokd.graph.routing import FIT_MARGIN, next_pool_round, shot_cost, stop_reason
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


def picks(*sizes: int) -> list[dict]:
    """Round records of pool rounds that picked ``sizes`` texts, round 0 first."""
    return [{"round": 0}] + [{"round": i, "pool_picked": n} for i, n in enumerate(sizes, 1)]


def test_pool_rounds_grow_from_the_first_round_size():
    sizes = [next_pool_round(picks(*[12, 24, 48][:i]), 0, Context()) for i in range(3)]
    assert sizes == [12, 24, 48]  # the defaults: 12, doubling
    ctx = Context(pool_per_round=10, pool_growth=1.5)
    assert [next_pool_round(picks(*[10, 15][:i]), 0, ctx) for i in range(3)] == [10, 15, 22]


def test_dear_labels_shrink_the_first_pool_round_to_fit_its_tokens_and_the_rest_grow_from_it():
    ctx = Context()  # 12 a round, at most 1,000 tokens in the first
    assert next_pool_round(picks(), 0, ctx, per_label=47.0) == 12  # 12 short reviews fit: as before
    assert next_pool_round(picks(), 0, ctx, per_label=93.4) == int(1_000 // (93.4 * FIT_MARGIN)) == 9
    assert next_pool_round(picks(), 0, ctx, per_label=400.0) == 2 and next_pool_round(picks(2), 0, ctx) == 4
    assert next_pool_round(picks(), 0, ctx, per_label=5_000.0) == 1  # never none
    assert next_pool_round(picks(), 0, Context(pool_first_tokens=0), per_label=400.0) == 12  # the cap off
    assert next_pool_round(picks(), 0, ctx) == 12  # no shot check: nothing to cost it by
    # The shot check's own tokens count toward the rung: 5 articles at 93.4 leave room for 5, not 9.
    assert next_pool_round(picks(), 467, ctx, per_label=93.4) == int(533 // (93.4 * FIT_MARGIN)) == 5
    assert next_pool_round(picks(), 94, ctx, per_label=47.0) == 12  # 2 short reviews: room for 12 still
    # A shot check that overran the rung already: the rung is lost, the round sized on all of it.
    assert next_pool_round(picks(), 3_000, ctx, per_label=300.0) == int(1_000 // (300.0 * FIT_MARGIN)) == 3


def test_the_shot_checks_cost_per_shot_is_read_from_its_node_stats():
    check = {
        "shots": 5,
        "agreed": 4,
        "agreement": 0.8,
        "score": 0.8,
        "chance": 0.2,
        "no_better_than_chance": False,
        "p_guess": 0.0067,
    }
    stats = {"0": {"shot_check": {"prompt_tokens": 460, "completion_tokens": 6}}}
    assert shot_cost({"shot_check": check, "stats": stats}) == 93.2  # type: ignore[typeddict-item]
    assert shot_cost({"stats": stats}) is None and shot_cost({"shot_check": check}) is None  # type: ignore[typeddict-item]


def test_the_last_pool_round_fills_the_budget_and_never_leaves_a_sliver_behind():
    def pool(*rounds: tuple[int, int]) -> list[dict]:
        """Records of pool rounds of (picks, tokens), round 0 first."""
        out, total = [{"round": 0, "teacher_tokens": 0}], 0
        for i, (picked, tokens) in enumerate(rounds, 1):
            total += tokens
            out.append({"round": i, "teacher_tokens": total, "pool_picked": picked, "pool_tokens": tokens})
        return out

    ctx = Context(max_rounds=10, patience=0, budget_tokens=16_000, pool_per_round=12, pool_growth=2)
    history = pool((12, 552), (24, 1_104), (48, 2_208), (96, 4_416))  # 46 a pick; 8,280 spent, 384 would overrun
    per_pick = 46 * FIT_MARGIN
    assert next_pool_round(history, 8_280, ctx) == int(7_720 // per_pick) == 152  # not 192, not zero
    assert stop_reason(history, 8_280, ctx) is None  # 152 >= the last round's 96: the loop goes on
    # After it, 14 picks would fit: fewer than the round before (a sliver of a round), so the loop stops.
    filled = pool((12, 552), (24, 1_104), (48, 2_208), (96, 4_416), (152, 6_992))
    assert next_pool_round(filled, 15_272, ctx) == 14 and stop_reason(filled, 15_272, ctx) == "token_budget"
    # At 70 tokens a pick a round of 96 would leave 44 picks, a sliver the loop would refuse: so the round of
    # 96 grows to take the rest of the budget (131 picks), and the loop stops after it.
    dear = pool((12, 840), (24, 1_680), (48, 3_360))
    assert next_pool_round(dear, 5_880, ctx) == int(10_120 // (70 * FIT_MARGIN)) == 131
    grown = pool((12, 840), (24, 1_680), (48, 3_360), (131, 9_170))
    assert next_pool_round(grown, 15_050, ctx) < 131 and stop_reason(grown, 15_050, ctx) == "token_budget"
    # A round that also generates texts keeps its other cost (here 300 tokens of analysis and generation) aside.
    mixed = pool((12, 552))
    mixed[-1]["teacher_tokens"] += 300
    assert next_pool_round(mixed, 852, Context(budget_tokens=2_000, pool_per_round=12, pool_growth=2)) == int(
        (2_000 - 852 - 300) // per_pick
    )
    # Picks rejected before their labelling call cost nothing: a round is priced per labelled pick, so a round
    # that draws fewer of them than the last (16-30 % on bbc_news) cannot overrun. Here 40 picks, 12 free, at
    # 91 tokens a label: priced at 91, not at the 64 a pick that let a bbc_news run overrun 16k by 673 tokens.
    free = pool((40, 2_548))
    free[-1]["pool_labelled"] = 28
    assert next_pool_round(free, 5_579, ctx) == int((16_000 - 5_579) // (91 * FIT_MARGIN)) == 104
    # No budget, or before any pool round: the schedule's size.
    assert next_pool_round(history, 8_280, Context(pool_per_round=12, pool_growth=2)) == 192
    assert next_pool_round(pool(), 0, ctx) == 12
