"""Token curves: the stop rule and dev selection replayed on recorded rounds, the area, the paired interval."""

from __future__ import annotations

import math

import pytest

from evokd.bench.curves import LADDER, area, at_budgets, ladder, replay, t_interval
from evokd.bench.methods import methods
from evokd.bench.tables import compared, paired, summarise_method, twins
from evokd.settings import Context

STOP = {"max_rounds": 50, "patience": 0, "target": 0.0, "protocol": "oracle-dev"}  # these runs select on dev


def rounds(*points: tuple[int, float, float]) -> list[dict]:
    """Recorded rounds from (cumulative teacher tokens, dev score, test score), round 0 first."""
    return [
        {"round": i, "teacher_tokens": t, "dev": {"score": d}, "test": {"score": te}, "accepted": 4, "rejected": {}}
        for i, (t, d, te) in enumerate(points)
    ]


def test_the_ladder_is_fixed_and_a_smaller_top_keeps_its_lower_rungs():
    assert LADDER == (1_000, 2_000, 4_000, 8_000, 16_000)
    assert ladder(8_000) == [1_000, 2_000, 4_000, 8_000]  # an 8k-top run is scored as before the 16k rung
    assert ladder(16_000) == list(LADDER)
    assert ladder(3_000) == [1_000, 2_000, 3_000]


def test_replay_stops_where_the_loop_would_before_a_round_that_would_overrun():
    run = rounds((0, 0.5, 0.5), (600, 0.6, 0.6), (1_200, 0.7, 0.7), (1_800, 0.65, 0.8), (2_400, 0.9, 0.9))
    # 1,800 + another 600-token round = 2,400 > 2,000: the predictive branch stops after round 3.
    assert [r["round"] for r in replay(run, 2_000, STOP)] == [0, 1, 2, 3]
    # At 2,400 that round fits exactly; then the budget is spent.
    assert [r["round"] for r in replay(run, 2_400, STOP)] == [0, 1, 2, 3, 4]
    # The loop's other rules replay too: max_rounds.
    assert [r["round"] for r in replay(run, 8_000, {**STOP, "max_rounds": 2})] == [0, 1, 2]


def test_a_round_that_overran_a_rung_is_excluded_there_and_selection_uses_dev_only():
    run = rounds((0, 0.5, 0.5), (500, 0.8, 0.6), (1_000, 0.7, 0.9), (2_200, 0.95, 0.95))
    low, high = at_budgets(run, [2_000, 4_000], STOP)
    # At 2,000 round 3 ran (500 + 1,000 <= 2,000 predicted) but overran: excluded; dev picks round 1, not test.
    assert (low["round"], low["score"], low["tokens"], low["last_score"]) == (1, 0.6, 1_000, 0.9)
    assert (high["round"], high["score"], high["tokens"]) == (3, 0.95, 2_200)
    assert not low["fallback"] and not high["fallback"]


def test_selection_falling_back_to_round_0_is_marked():
    run = rounds((0, 0.9, 0.5), (700, 0.6, 0.7), (1_400, 0.7, 0.8))
    [got] = at_budgets(run, [2_000], STOP)
    assert got["fallback"] and got["score"] == 0.5 and got["last_score"] == 0.8
    [seed_only] = at_budgets(rounds((0, 0.9, 0.5)), [2_000], {**STOP, "max_rounds": 0})
    assert not seed_only["fallback"]  # nothing ran after round 0: nothing to fall back from


def test_area_is_a_mean_over_doublings():
    assert area([(1_000, 0.5), (2_000, 0.5), (4_000, 0.5)]) == pytest.approx(0.5)
    assert area([(1_000, 0.4), (2_000, 0.6), (4_000, 0.6)]) == pytest.approx((0.5 + 0.6) / 2)
    assert area([(1_000, 0.7)]) == 0.7


def test_t_interval_is_the_student_t_interval_over_seeds():
    # Three seeds, mean 0.05, sample sd 0.02: half-width t(0.975, 2) * 0.02 / sqrt(3) = 4.303 * 0.011547.
    mean, low, high = t_interval([0.03, 0.05, 0.07])
    assert mean == pytest.approx(0.05) and (low, high) == pytest.approx((0.05 - 0.049683, 0.05 + 0.049683), abs=1e-5)
    # A percentile bootstrap over the same three values would stay within [0.03, 0.07]; the t interval does not.
    assert low < 0.03 and high > 0.07
    _, low, high = t_interval([0.1, -0.1, 0.05, -0.05, 0.0])
    assert low < 0 < high
    assert t_interval([0.2]) == (0.2, -math.inf, math.inf)  # one seed: no interval, so it never "beats"


def test_every_method_sees_the_same_labelled_texts_but_the_dev_feedback_variant():
    assert Context().dev_feedback == 0  # the paper's loop: the k-shot seeds only
    ms = methods(per_round=3)
    shown = {name: m.overrides.get("dev_feedback", 0) for name, m in ms.items()}
    assert {n for n, k in shown.items() if k} == {"evokd-devfb"}
    # evokd-devfb is evokd plus dev feedback, and the protocol that allows it (gold dev labels), and nothing else.
    gold = ("dev_feedback", "protocol")
    assert {k: v for k, v in ms["evokd-devfb"].overrides.items() if k not in gold} == {
        k: v for k, v in ms["evokd"].overrides.items() if k not in gold
    }
    assert ms["evokd-devfb"].overrides["protocol"] == "oracle-dev" and "protocol" not in ms["evokd"].overrides
    # The feedback-free baselines write per_round of each text; the loops keep the paper's 2 + 2.
    assert [ms[n].overrides["per_round"] for n in ("static", "rephrase", "evokd-paper", "evokd")] == [3, 3, 2, 2]
    assert not ms["seed-only"].uses_teacher and ms["seed-only"].overrides["max_rounds"] == 0


def test_ours_are_paired_with_the_best_baseline_and_with_the_annotator_baseline():
    def runs(*scores: float) -> list[dict]:
        return [{"seed": i, "score": s} for i, s in enumerate(scores, 1)]

    table = {
        "pool-random": runs(0.60, 0.62, 0.58),
        "pool-active": runs(0.65, 0.66, 0.64),
        "evokd-pool": runs(0.66, 0.65, 0.65),
    }
    out = paired(table)
    assert set(out) == {"evokd-pool", "evokd-pool vs pool-random"}  # baselines are never paired with each other
    assert out["evokd-pool"]["against"] == "pool-active" and out["evokd-pool"]["wins"] == 2
    # Differences 0.06, 0.03, 0.07: the paired t interval [+0.002, +0.105] excludes zero, so evokd-pool beats it.
    vs_random = out["evokd-pool vs pool-random"]
    assert vs_random["delta_mean"] == pytest.approx(0.0533, abs=1e-4) and not vs_random["covers_zero"]
    assert vs_random["interval"] == pytest.approx([0.0016, 0.105], abs=2e-4)
    assert compared("evokd-pool vs pool-random", vs_random).startswith(
        "evokd-pool vs pool-random: Δ +0.053 [+0.002, +0.105], beats,"
    )
    # Differences 0.06, 0.03, 0.09 win on every seed, but the t interval covers zero: no difference shown.
    wide = paired({**table, "evokd-pool": runs(0.66, 0.65, 0.67)})["evokd-pool vs pool-random"]
    assert wide["covers_zero"] and wide["wins"] == 3 and "no difference shown" in compared("x", wide)
    one = paired({"static": runs(0.5), "evokd": runs(0.6)})["evokd"]
    assert one["interval"] is None and one["covers_zero"] and "one seed: no interval" in compared("evokd", one)
    # Without pool-random, only the best baseline.
    assert set(paired({"static": runs(0.5, 0.5), "evokd": runs(0.6, 0.4)})) == {"evokd"}
    # A noise variant is paired with the run it varies, whichever baseline is best.
    varied = paired({**table, "pool-random-confnoise": runs(0.62, 0.62, 0.62)})
    assert varied["pool-random-confnoise vs pool-random"]["delta_mean"] == pytest.approx(0.02)
    assert "pool-random-confnoise" not in varied  # a baseline itself: never paired with the best one


def test_pool_methods_differ_only_in_how_texts_are_picked_and_the_noise_step():
    ms = methods(per_round=3)
    pool = {n: ms[n].overrides for n in ("pool-random", "pool-active", "pool-active-nonoise", "pool-random-confnoise")}
    assert {o["pool"] for o in pool.values()} == {"train"} and {o["per_round"] for o in pool.values()} == {0}
    assert {o["query"] for o in pool.values()} == {"random", "uncertainty"}
    assert {k: v for k, v in pool["pool-active-nonoise"].items() if k != "noise"} == pool["pool-active"]
    assert pool["pool-active-nonoise"]["noise"] == "none" and Context().noise == "small-loss"
    assert {k: v for k, v in pool["pool-random-confnoise"].items() if k != "noise"} == pool["pool-random"]
    assert pool["pool-random-confnoise"]["noise"] == "confidence"
    st = ms["pool-random-st"].overrides  # self-training is the one difference, and classification only
    assert {k: v for k, v in st.items() if k != "self_train"} == pool["pool-random"] and st["self_train"] > 0
    assert ms["pool-random-st"].kinds == ("classification",) and Context().self_train == 0
    # full replay (off by default) and hard targets (soft ones are the default): each one setting away from pool-random
    full, hard = ms["pool-random-all"].overrides, ms["pool-random-hard"].overrides
    assert {k: v for k, v in full.items() if k != "replay"} == pool["pool-random"] and full["replay"] > Context().replay
    assert {k: v for k, v in hard.items() if k != "soft_targets"} == pool["pool-random"] and not hard["soft_targets"]
    assert Context().soft_targets and ms["pool-random-hard"].kinds == ("classification",)
    mask = ms["pool-random-mask"].overrides  # mention masking: NER only, off by default
    assert {k: v for k, v in mask.items() if k != "mask_mentions"} == pool["pool-random"] and mask["mask_mentions"]
    assert not Context().mask_mentions and ms["pool-random-mask"].kinds == ("ner",)
    oracle = ms["pool-random-oracle"].overrides  # the oracle-dev ablation: only the protocol differs
    assert {k: v for k, v in oracle.items() if k != "protocol"} == pool["pool-random"]
    assert oracle["protocol"] == "oracle-dev" and Context().protocol == "few-shot"
    # No pool method sets its own round size: the benchmark runs what `evokd run --pool` runs.
    assert not any({"pool_per_round", "pool_growth"} & set(m.overrides) for m in ms.values())
    shared = {k: pool["pool-active"][k] for k in ("pool", "label_batch")}
    assert {k: ms["evokd-pool"].overrides[k] for k in shared} == shared


def test_methods_whose_runs_match_round_for_round_are_named_as_one_measurement():
    def run(seed: int, *rounds: tuple[float, int]) -> dict:
        return {"seed": seed, "curve": [{"dev": d, "test": d, "tokens": t} for d, t in rounds]}

    loop = [run(1, (0.5, 0), (0.6, 2000)), run(2, (0.4, 0), (0.55, 2100))]
    runs = {
        "seed-only": [run(1, (0.5, 0)), run(2, (0.4, 0))],
        "setfit": [run(1, (0.5, 0)), run(2, (0.4, 0))],  # round 0 only: the same seeds, not the same loop
        "evokd-paper": loop,
        "evokd": [dict(r) for r in loop],
        "static": [run(1, (0.5, 0), (0.6, 2000)), run(2, (0.4, 0), (0.56, 2100))],  # one round differs
    }
    assert twins(runs) == [("evokd-paper", "evokd")]
    assert twins({**runs, "evokd": loop[:1]}) == []  # a seed missing from one side is not a match


def test_an_oracle_dev_run_counts_the_gold_dev_labels_it_read_as_labelled_texts():
    def run(seed: int, protocol: str, gold: int) -> dict:
        return {"seed": seed, "score": 0.6, "tokens": 900, "seconds": 1.0, "labelled": 2, "protocol": protocol} | {
            "gold_dev_labels": gold
        }

    oracle = summarise_method([run(1, "oracle-dev", 300), run(2, "oracle-dev", 300)], full=None)
    few = summarise_method([run(1, "few-shot", 0), run(2, "few-shot", 0)], full=None)
    assert (oracle["gold_labels"], oracle["labelled_max"]) == (300, 302)
    assert (few["gold_labels"], few["labelled_max"]) == (0, 2)
