"""The decision after each student pass: evolve another round, or stop, and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from langgraph.runtime import Runtime

from evokd.accounting import best_scored, decision_score
from evokd.settings import Context
from evokd.state import RoundRecord, State, teacher_tokens


def stop_reason(history: Sequence[RoundRecord], tokens: int, ctx: Context) -> str | None:
    """Why the loop should stop now (``target``, ``max_rounds``, ``token_budget``, ``patience``), or None."""
    last = history[-1]
    score = decision_score(last, ctx.protocol)
    if ctx.target and score is not None and score >= ctx.target:
        return "target"
    if last["round"] >= ctx.max_rounds:
        return "max_rounds"
    # Stop once the budget is spent, or when the next round (the last one's cost, grown as pool rounds grow)
    # would overrun it.
    last_cost = last.get("teacher_tokens", 0) - (history[-2].get("teacher_tokens", 0) if len(history) > 1 else 0)
    next_cost = last_cost * ctx.pool_growth
    if ctx.budget_tokens and (tokens >= ctx.budget_tokens or tokens + next_cost > ctx.budget_tokens):
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
