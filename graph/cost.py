"""What a node spent: wall time, teacher calls and tokens, as the per-round stats record them."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from evokd.state import NodeStats
from evokd.teacher.client import Reply


def cost(replies: Sequence[Reply[Any]], seconds: float) -> NodeStats:
    """What a node spent: wall seconds, teacher calls and tokens."""
    return NodeStats(
        seconds=round(seconds, 3),
        calls=sum(r.attempts for r in replies),
        prompt_tokens=sum(r.prompt_tokens for r in replies),
        completion_tokens=sum(r.completion_tokens for r in replies),
        request_seconds=round(sum(r.seconds for r in replies), 3),
    )


def student_cost(seconds: float, train_seconds: float, eval_seconds: float) -> NodeStats:
    """What a student node spent: wall seconds, of them training and evaluating; no teacher call."""
    return NodeStats(
        seconds=round(seconds, 3),
        calls=0,
        prompt_tokens=0,
        completion_tokens=0,
        train_seconds=round(train_seconds, 3),
        eval_seconds=round(eval_seconds, 3),
    )


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Measure a block's wall time; the elapsed seconds land in the yielded list."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)
