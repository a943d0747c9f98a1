"""BIO (IOB2) tag sequences, the one place that reads and writes them.

NER examples carry one tag per token: ``O``, ``B-<type>`` starting a span, ``I-<type>`` continuing
it. The data readers repair IOB1 files with `to_iob2`, the data registry counts spans for its cards,
and the NER adapter (`evokd.tasks.ner`) builds and compares spans; all of them use these functions.
They live on the data floor because the readers and the registry, below the adapters, need them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from evokd.task import MASKED

Span = tuple[int, int, str]  # (first token, last token + 1, type)


def bio_spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans of an IOB2 tag sequence, read strictly (as seqeval's IOB2 scheme does): a span
    starts at B-X and runs over the I-X that follow; an I- that continues nothing is no entity."""
    out: list[Span] = []
    start, etype = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        if start >= 0 and tag != f"I-{etype}":
            out.append((start, i, etype))
            start = -1
        if tag.startswith("B-"):
            start, etype = i, tag[2:]
    return out


def to_bio(n_tokens: int, spans: Iterable[Span]) -> list[str]:
    """IOB2 tags for ``n_tokens`` tokens with the given non-overlapping spans."""
    tags = ["O"] * n_tokens
    for first, last, etype in spans:
        tags[first] = f"B-{etype}"
        for i in range(first + 1, last):
            tags[i] = f"I-{etype}"
    return tags


def to_iob2(tags: Sequence[str]) -> list[str]:
    """Rewrite IOB1 / bare ``I-`` starts as IOB2: an I-X that does not continue an X span becomes B-X."""
    out: list[str] = []
    for tag in tags:
        prev = out[-1] if out else "O"
        # "O"[2:] is "", never a type, so an I- after O always starts a span.
        out.append("B-" + tag[2:] if tag.startswith("I-") and prev[2:] != tag[2:] else tag)
    return out


def span_types(tags: Sequence[str]) -> list[str]:
    """The type of each entity span, in order, in IOB2 or IOB1 tags (an I- that continues nothing starts a span)."""
    return [etype for _, _, etype in bio_spans(to_iob2(tags))]


def entity_types(tags: Sequence[str]) -> set[str]:
    """The entity types that occur in one sentence's tags."""
    return {tag[2:] for tag in tags if tag not in ("O", MASKED)}
