"""Noise step for teacher-labelled pool texts: FreeAL-style small-loss selection.

A small teacher is wrong on about one real text in five. After a round's training, the student's own
view is a cheap second opinion: a pool sample whose teacher label the freshly trained student still
gives a tiny probability (it backs another answer with at least ``threshold``) is likely mislabelled,
and is held out of the following rounds' training instead of being replayed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

THRESHOLD = 0.9  # the student's probability of another answer that overrides the teacher


def contradicted(
    probs: Sequence[torch.Tensor],
    gold: Sequence[str | Sequence[str]],
    names: Sequence[str],
    threshold: float = THRESHOLD,
) -> list[bool]:
    """For each text, whether the student gives its teacher label at most 1 - ``threshold`` (for a per-token
    head: on any word). ``gold`` is a class name, or one tag per word; ``names`` the head's classes."""
    index = {name: i for i, name in enumerate(names)}
    out = []
    for p, g in zip(probs, gold, strict=True):
        ids = [index[g]] if isinstance(g, str) else [index[t] for t in g]
        rows = p.reshape(len(ids), -1)
        given = rows[torch.arange(len(ids)), torch.tensor(ids, dtype=torch.long)]
        out.append(bool(len(ids)) and float(given.min()) <= 1.0 - threshold)
    return out
