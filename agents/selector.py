"""Selector: the student picks the pool texts the teacher should label next (active learning).

The pool may hold thousands of texts, so a run scores a fixed, seeded subset of ``--pool-limit`` items
(batched prediction), and the diverse query clusters embeddings computed once per run by the seed
student. Strategies (``--query``):

- ``uncertainty``: the smallest margin between the student's two likeliest classes; for a per-token
  head, the sentence's least sure word (LLMaAA, FreeAL's active step);
- ``diverse``: k-means over the embeddings of the most uncertain candidates, then the most uncertain
  text of each cluster, so a round is not twenty near-duplicates;
- ``random``: a seeded draw, the baseline every active strategy must beat.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch

from evokd.state import Sample
from evokd.task import Example

CANDIDATES_PER_PICK = 4  # the diverse query clusters this many of the most uncertain texts per pick


def subset(items: Sequence[Example], limit: int, seed: int) -> list[Example]:
    """The pool items a run scores: all of them, or a seeded draw of ``limit`` in pool order (fixed for the run)."""
    if limit <= 0 or len(items) <= limit:
        return list(items)
    keep = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in keep]


def uncertainty(probs: Sequence[torch.Tensor]) -> list[float]:
    """1 - (top-1 - top-2 probability) per text; for a per-token head (one row per word) its least sure word's."""
    scores = []
    for p in probs:
        rows = p.reshape(-1, p.shape[-1])
        if rows.shape[0] == 0 or rows.shape[-1] < 2:
            scores.append(0.0)
            continue
        top = rows.topk(2, dim=-1).values
        scores.append(float(1.0 - (top[:, 0] - top[:, 1]).min()))
    return scores


def choose(query: str, scores: Sequence[float], n: int, seed: int, vectors: np.ndarray | None = None) -> list[int]:
    """The indices of ``n`` candidates to label, by ``query`` (see the module docstring); most uncertain first."""
    n = min(n, len(scores))
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    if n <= 0:
        return []
    if query == "random":
        return random.Random(seed).sample(range(len(scores)), n)
    if query == "uncertainty":
        return ranked[:n]
    if query == "diverse":
        if vectors is None:
            raise ValueError("the diverse query needs the candidates' embeddings")
        from sklearn.cluster import KMeans

        top = ranked[: min(len(ranked), CANDIDATES_PER_PICK * n)]
        clusters = KMeans(n_clusters=n, random_state=seed, n_init=3).fit_predict(vectors[top])
        firsts: dict[int, int] = {}
        for i, c in zip(top, clusters, strict=True):  # ``top`` is most uncertain first
            firsts.setdefault(int(c), i)
        chosen = list(firsts.values())
        # Identical embeddings can leave a cluster empty: fill up with the next most uncertain.
        chosen += [i for i in top if i not in chosen][: n - len(chosen)]
        return sorted(chosen, key=lambda i: (-scores[i], i))
    raise ValueError(f"unknown query strategy {query!r}; use uncertainty, diverse or random")


def picks(
    items: Sequence[Example],
    chosen: Sequence[int],
    scores: Sequence[float],
    rnd: int,
    first: int = 0,
) -> list[Sample]:
    """The chosen pool items as pending samples for the Critic, with their lineage (no label: the teacher gives it).

    They are numbered on from ``first`` (after the round's generated samples), so ids stay 'r<round>-<n>'.
    """
    out = []
    for n, i in enumerate(chosen, first):
        item = items[i]
        out.append(
            Sample(
                id=f"r{rnd}-{n}",
                round=rnd,
                source="pool",
                pool_id=item["id"],
                text=item["text"],
                query_score=round(scores[i], 6),
                verdict="pending",
                reason="",
                teacher_tokens=0,
            )
        )
    return out


def least_sure(items: Sequence[Example], scores: Sequence[float], limit: int) -> list[str]:
    """The texts of the ``limit`` most uncertain items, for the Analyst."""
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [items[i]["text"] for i in ranked[:limit]]
