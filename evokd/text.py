"""Text helpers the agents, the task adapters and the services share: folding for duplicate and leak
checks, clipping long texts for a small teacher's prompt, and data blocks a text cannot escape."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

NGRAM = 8  # a shared run of 8 words with a seed/dev/test text counts as a leak


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-folded text, for duplicate and leak checks."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


CLIP_WORDS = 60  # enough of a text to see its pattern; real articles run to 400+ words and would flood a 4k context


def clip(text: str, words: int = CLIP_WORDS) -> str:
    """The first ``words`` words of a text (with an ellipsis if cut): long articles would flood a small teacher's
    prompt."""
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def bullet_list(lines: Sequence[str], empty: str = "(none)") -> str:
    """Lines as a Markdown bullet list for a prompt."""
    return "\n".join(f"- {line}" for line in lines) if lines else empty


def described(labels: Sequence[str], meanings: Mapping[str, str]) -> str:
    """The labels as a bullet list, each with its meaning where ``meanings`` (label -> one line) has one."""
    return bullet_list([f"{x}: {meanings[x]}" if meanings.get(x) else x for x in labels])


def as_data(text: str) -> str:
    """Generated text for a prompt's ``<<<`` ... ``>>>`` data block, with those delimiters broken up
    inside it, so the text cannot close the block early and pass its rest off as instructions."""
    return text.replace("<<<", "< < <").replace(">>>", "> > >")


def _ngrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


class LeakIndex:
    """Normalised seed/dev/test texts and their word 8-grams, to reject generated text that copies them."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.grams: set[tuple[str, ...]] = set()
        for t in texts:
            norm = normalise(t)
            self.exact.add(norm)
            self.grams |= _ngrams(norm.split())

    def leaks(self, text: str) -> bool:
        """True if ``text`` equals a protected text or shares an 8-word run with one."""
        norm = normalise(text)
        return norm in self.exact or not self.grams.isdisjoint(_ngrams(norm.split()))
