"""Optional human review: pause after the Analyst and after the Critic, apply what the person answers.

Each review is its own node, so resuming (which re-runs the node from the top) never repeats a
teacher call or a training pass. A node pauses only when its review is enabled in
`Context.review`; otherwise it passes the state through. The answer (``Command(resume=...)`` from
the CLI, the SDK or Studio) is one of:

- analysis: ``"approve"`` (or ``true``/``null``/``{}``), or ``{"analysis": {"summary": ..., "weaknesses": [...]}}``;
- samples: ``"approve"``, or ``{"drop": ["r1-3", ...]}`` (ids of accepted samples to reject).

An answer that cannot be applied pauses again with the reason in ``error``.
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import ValidationError

from evokd.schemas import Analysis
from evokd.settings import Context
from evokd.state import Sample, State
from evokd.task import Task

DROPPED = "dropped_by_reviewer"
HOW = {
    "analysis": 'Resume with "approve", or '
    '{"analysis": {"summary": "...", "weaknesses": [{"label": "...", "pattern": "..."}]}}.',
    "samples": 'Resume with "approve", or {"drop": ["<sample id>", ...]} to reject samples.',
}


class ReviewError(ValueError):
    """An answer that cannot be applied; the message says what a valid one looks like."""


def approves(answer: object) -> bool:
    """True for the answers that mean "go on unchanged"."""
    return answer in (None, True, "", {}) or (
        isinstance(answer, str) and answer.strip().lower() in ("approve", "ok", "y", "yes")
    )


def reviewed_analysis(analysis: dict[str, object], answer: object, labels: tuple[str, ...]) -> dict[str, object]:
    """The analysis after review: approved as is, or replaced by the edited one (checked against the labels)."""
    if approves(answer):
        return {**analysis, "review": "approved"}
    if not isinstance(answer, dict) or "analysis" not in answer:
        raise ReviewError(f"cannot read {answer!r} as a review of the analysis. {HOW['analysis']}")
    try:
        edited = Analysis.model_validate(answer["analysis"])
    except ValidationError as e:
        raise ReviewError(
            f"edited analysis: {e.errors()[0]['loc']} {e.errors()[0]['msg']}. {HOW['analysis']}"
        ) from None
    if unknown := sorted({w.label for w in edited.weaknesses} - set(labels)):
        raise ReviewError(f"edited analysis: unknown label(s) {', '.join(unknown)}; use {', '.join(labels)}")
    return {**edited.model_dump(), "status": analysis.get("status", "ok"), "review": "edited"}


def reviewed_batch(batch: list[Sample], answer: object) -> list[Sample]:
    """The batch after review: accepted samples named in ``drop`` become rejected (``dropped_by_reviewer``)."""
    if approves(answer):
        return batch
    drop = answer.get("drop") if isinstance(answer, dict) else None
    if not isinstance(drop, list) or not all(isinstance(i, str) for i in drop):
        raise ReviewError(f"cannot read {answer!r} as a review of the samples. {HOW['samples']}")
    accepted = {s["id"] for s in batch if s.get("verdict") == "accepted"}
    if unknown := sorted(set(drop) - accepted):
        raise ReviewError(f"not an accepted sample of this round: {', '.join(unknown)}")
    return [Sample(**{**s, "verdict": "rejected", "reason": DROPPED}) if s["id"] in drop else s for s in batch]


def ask(question: dict[str, object], apply: Callable[[object], object]) -> object:
    """Pause with ``question`` until an answer can be applied; return what ``apply`` made of it."""
    pending = question
    while True:  # each retry is one more interrupt(); on resume they are answered in order
        try:
            return apply(interrupt(pending))
        except ReviewError as e:
            pending = {**question, "error": str(e)}


def review_analysis(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: let a person approve or edit the Analyst's analysis before any text is generated."""
    ctx = runtime.context or Context()
    if "analysis" not in ctx.review:
        return {}
    labels = Task.from_dict(state["task"]).labels
    question = {
        "review": "analysis",
        "round": state["round"],
        "labels": list(labels),
        "analysis": state.get("analysis", {}),
        "how": HOW["analysis"],
    }
    return {"analysis": ask(question, lambda a: reviewed_analysis(state.get("analysis", {}), a, labels))}


def review_samples(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: let a person drop accepted samples before the student trains on them."""
    ctx = runtime.context or Context()
    if "samples" not in ctx.review:
        return {}
    batch = state.get("batch", [])
    shown = [
        {k: s[k] for k in ("id", "stance", "weakness", "label", "entities", "text") if k in s}
        for s in batch
        if s.get("verdict") == "accepted"
    ]
    if not shown:  # nothing the student would train on: no reason to make anyone wait
        return {}
    question = {"review": "samples", "round": state["round"], "samples": shown, "how": HOW["samples"]}
    return {"batch": ask(question, lambda a: reviewed_batch(batch, a))}
