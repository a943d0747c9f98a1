"""Small pieces the three agents share: cost accounting and text normalisation."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from agents.teacher import Reply
from graph.state import NodeStats


def cost(replies: Sequence[Reply], seconds: float) -> NodeStats:
    """What a node spent: wall seconds, teacher calls and tokens."""
    return NodeStats(
        seconds=round(seconds, 3),
        calls=sum(r.attempts for r in replies),
        prompt_tokens=sum(r.prompt_tokens for r in replies),
        completion_tokens=sum(r.completion_tokens for r in replies),
        request_seconds=round(sum(r.seconds for r in replies), 3),
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


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-folded text, for duplicate and leak checks."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


CLIP_WORDS = 60  # enough of a text to see its pattern; real articles run to 400+ words and would flood a 4k context


def clip(text: str, words: int = CLIP_WORDS) -> str:
    """The first ``words`` words of a text (with an ellipsis if cut): long articles would flood a small teacher's prompt."""
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def bullet_list(lines: Sequence[str], empty: str = "(none)") -> str:
    """Lines as a Markdown bullet list for a prompt."""
    return "\n".join(f"- {line}" for line in lines) if lines else empty


def as_data(text: str) -> str:
    """Generated text for a prompt's ``<<<`` ... ``>>>`` data block, with those delimiters broken up
    inside it, so the text cannot close the block early and pass its rest off as instructions."""
    return text.replace("<<<", "< < <").replace(">>>", "> > >")
