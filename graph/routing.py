"""The decision after each student pass: evolve another round, or stop, and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from langgraph.runtime import Runtime

from evokd.accounting import best_scored, decision_score
from evokd.settings import Context
from evokd.state import RoundRecord, State, teacher_tokens

# A shrunk pool round is planned at this many times the pool's mean cost per label so far: texts vary in length,
# and a round that overran the budget by a few tokens would be lost at the budget's rung.
FIT_MARGIN = 1.1


def round_cost(history: Sequence[RoundRecord]) -> int:
    """Teacher tokens the last round cost (the history's records hold running totals)."""
    before = history[-2].get("teacher_tokens", 0) if len(history) > 1 else 0
    return history[-1].get("teacher_tokens", 0) - before


def shot_cost(state: State) -> float | None:
    """Teacher tokens the shot check paid per shot, what a label costs on texts like the user's; None where it
    did not run."""
    check, node = state.get("shot_check"), state.get("stats", {}).get("0", {}).get("shot_check")
    if not check or not node or not check["shots"]:
        return None
    return teacher_tokens({"0": {"shot_check": node}}) / check["shots"]


def first_pool_round(ctx: Context, per_label: float | None, spent: int = 0) -> int:
    """Pool texts the first pool round picks: ``pool_per_round``, fewer where ``per_label`` (the teacher tokens
    the shot check paid per shot) says they would cost more than what ``pool_first_tokens`` has left after the
    ``spent`` tokens before it (the shot check's), so the round lands inside the ladder's lowest rung. Where
    not one label fits there any more, that rung is lost anyway and the round is sized on the whole of it."""
    if not (per_label and ctx.pool_first_tokens):
        return ctx.pool_per_round
    room = ctx.pool_first_tokens - spent
    if room < FIT_MARGIN * per_label:
        room = ctx.pool_first_tokens
    return max(1, min(ctx.pool_per_round, int(room // (FIT_MARGIN * per_label))))


def next_pool_round(history: Sequence[RoundRecord], tokens: int, ctx: Context, per_label: float | None = None) -> int:
    """Pool texts the next round picks: the first round's (`first_pool_round`) grown by ``pool_growth`` each pool
    round since, cut to what the rest of the budget buys at the pool's mean cost per label so far, after the
    round's other teacher work (analysis and generation, costed as last round). So the last round fills the
    budget instead of leaving up to half of it; and a round after which the rest would buy fewer picks than it
    holds (a sliver, which `stop_reason` refuses) takes that rest too, so the budget is not left unspent."""
    rounds = [r for r in history if r.get("pool_picked")]
    if not rounds:
        return first_pool_round(ctx, per_label, tokens)
    size = round(rounds[0]["pool_picked"] * ctx.pool_growth ** len(rounds))
    if not ctx.budget_tokens or not history[-1].get("pool_picked"):  # no pool round last to cost it by
        return size
    # Priced per pick the teacher labelled, not per pick: picks rejected before their call (16-30 % contaminated
    # on bbc_news) cost nothing, and their share varies from round to round, so a mean over all picks made a
    # round that drew fewer of them overrun the budget; pricing every pick as a label never does.
    labelled = sum(r.get("pool_labelled", r["pool_picked"]) for r in rounds)
    per_pick = FIT_MARGIN * sum(r.get("pool_tokens", 0) for r in rounds) / labelled if labelled else 0.0
    other = round_cost(history) - rounds[-1].get("pool_tokens", 0)
    left = ctx.budget_tokens - tokens - other
    fits = max(0, int(left // per_pick)) if per_pick else size
    return fits if fits < 2 * size else size


def stop_reason(history: Sequence[RoundRecord], tokens: int, ctx: Context) -> str | None:
    """Why the loop should stop now (``target``, ``max_rounds``, ``token_budget``, ``patience``), or None."""
    last = history[-1]
    score = decision_score(last, ctx.protocol)
    if ctx.target and score is not None and score >= ctx.target:
        return "target"
    if last["round"] >= ctx.max_rounds:
        return "max_rounds"
    # Stop once the budget is spent, or when the next round would overrun it: a pool round shrinks to fit
    # (`next_pool_round`) but never below the last pool round's size: a sliver of a round
    # would still get a whole training pass of at least `min_steps`, many epochs over a few texts and the replay,
    # which moves the student more than those texts are worth. Another round is expected to cost what the last did.
    if ctx.budget_tokens:
        if last.get("pool_picked"):
            short = next_pool_round(history, tokens, ctx) < last["pool_picked"]
        else:
            short = tokens + round_cost(history) > ctx.budget_tokens
        if tokens >= ctx.budget_tokens or short:
            return "token_budget"
    if ctx.patience and last["round"] - best_scored(history, ctx.protocol)["round"] >= ctx.patience:
        return "patience"
    return None


def reason_for(state: State, ctx: Context) -> str | None:
    """`stop_reason` read off the state (the protocol's scores only: test labels never steer the loop)."""
    return stop_reason(state.get("history", []), teacher_tokens(state.get("stats", {})), ctx)


def route(state: State, runtime: Runtime[Context]) -> Literal["selector", "analyst", "finalize"]:
    """Conditional edge after ``student``: on to the final report, or into another round: through the
    selector when a pool is given, else straight to the Analyst."""
    ctx = runtime.context or Context()
    if reason_for(state, ctx):
        return "finalize"
    return "selector" if ctx.pool else "analyst"


def after_selector(state: State, runtime: Runtime[Context]) -> Literal["analyst", "critic"]:
    """Conditional edge after ``selector``: the Analyst and Generator when the round also writes texts;
    with ``--per-round 0`` (pure active labelling) straight to the Critic, since an analysis would
    steer no generation."""
    return "analyst" if (runtime.context or Context()).per_round > 0 else "critic"
