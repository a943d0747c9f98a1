"""Self-training on the pool: the student's surest predictions as extra training labels, for no teacher tokens.

The selector scores the pool with the current student every round anyway (to pick what the teacher labels);
the texts that student is surest of become pseudo-labelled examples for the next round's training, beside
the teacher's labels (UST, FreeAL's self-training step). Guards against confirmation bias, the student
teaching itself its own mistakes:

- a threshold: only a prediction at least ``threshold`` sure counts;
- class balance: every label gets the same number of texts, as many as the least-filled label can give, so a
  student that leans to one label cannot flood its training with it;
- a cap: at most ``limit`` texts a round, the surest of each label first;
- no accumulation: each round's set replaces the last, so an early mistake is not replayed for ever.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from evokd.task import Example


def pseudo_labels(
    items: Sequence[Example],
    probs: Sequence[torch.Tensor],
    names: Sequence[str],
    limit: int,
    threshold: float,
    skip: Sequence[int] = (),
) -> list[Example]:
    """Pseudo-labelled examples (``text`` and ``label``, plus the pool ``id``) from ``items`` scored by a
    classification student (``probs``: one row over ``names`` per item), under the guards above; ``skip``
    lists indices never to take (the texts the teacher labels this round)."""
    if limit <= 0 or not names:
        return []
    skipped = set(skip)
    by_label: dict[int, list[tuple[float, int]]] = {k: [] for k in range(len(names))}
    for i, p in enumerate(probs):
        if i in skipped:
            continue
        sure, label = p.max(dim=-1)
        if float(sure) >= threshold:
            by_label[int(label)].append((float(sure), i))
    each = min(limit // len(names), *(len(found) for found in by_label.values()))
    chosen = [(k, i) for k, found in by_label.items() for _, i in sorted(found, key=lambda s: (-s[0], s[1]))[:each]]
    return [{"id": items[i]["id"], "text": items[i]["text"], "label": names[k]} for k, i in sorted(chosen)]
