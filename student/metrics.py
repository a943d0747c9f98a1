"""Score predictions against gold: macro-F1 over class names, strict IOB2 span F1 over tag sequences.

Both match the reference measurements (scikit-learn macro-F1; seqeval strict IOB2, micro), so numbers
are comparable across runs and with the benchmark. Which score a task is selected on, and how its
examples give gold labels, is the task adapter's business (`evokd.tasks`); these take plain lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from seqeval.metrics.v1 import precision_recall_fscore_support as span_prfs
from seqeval.metrics.v1 import unique_labels
from seqeval.scheme import IOB2
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def class_scores(labels: Sequence[str], y_true: list[str], pred: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over all task labels (absent ones count as 0), and per-label scores."""
    labels = list(labels)
    if not y_true:  # scikit-learn warns and returns nan on an empty set
        return {"accuracy": 0.0, "macro_f1": 0.0, "per_label": {lab: _scores(0.0, 0.0, 0.0, 0) for lab in labels}}
    p, r, f, s = precision_recall_fscore_support(y_true, pred, labels=labels, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(y_true, pred)), 4),
        "macro_f1": round(float(f1_score(y_true, pred, labels=labels, average="macro", zero_division=0)), 4),
        "per_label": {lab: _scores(p[i], r[i], f[i], s[i]) for i, lab in enumerate(labels)},
    }


def span_scores(types: Sequence[str], gold: list[Sequence[str]], pred: list[Sequence[str]]) -> dict[str, Any]:
    """Strict IOB2 micro span scores, and per-type scores for every task type (absent ones as zeros)."""
    y_true = [list(t) for t in gold]
    y_pred = [list(p) for p in pred]
    for i, (t, p) in enumerate(zip(y_true, y_pred, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} gold tags but {len(p)} predicted")
    found: dict[str, tuple[float, float, float, int]] = {}
    micro = (0.0, 0.0, 0.0)
    if y_true:  # seqeval rejects an empty corpus
        # Strict mode: a span counts only if it is well-formed IOB2 (B- first) and matches exactly
        # in type and boundaries; the lenient conlleval default would count an I- without B- as a span.
        kw = {"scheme": IOB2, "zero_division": 0}
        micro = span_prfs(y_true, y_pred, average="micro", **kw)[:3]
        per_type = zip(*span_prfs(y_true, y_pred, average=None, **kw), strict=True)  # one row per label, in label order
        found = dict(zip(unique_labels(y_true, y_pred, IOB2), per_type, strict=True))
    return {
        "span_f1": round(float(micro[2]), 4),
        "precision": round(float(micro[0]), 4),
        "recall": round(float(micro[1]), 4),
        "per_type": {t: _scores(*found.get(t, (0.0, 0.0, 0.0, 0))) for t in types},
    }


def f1_of_counts(counts: np.ndarray) -> np.ndarray:
    """F1 from (true positive, false positive, false negative) counts on the last axis, for whole arrays of
    them at once (bootstrap resamples); an undefined F1 (nothing gold, nothing predicted) is 0, as above."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    f1: np.ndarray = np.divide(
        2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp, dtype=float), where=(2 * tp + fp + fn) > 0
    )
    return f1


def _scores(precision: float, recall: float, f1: float, support: int) -> dict[str, float]:
    """One label's scores as plain, rounded Python numbers (JSON-ready)."""
    return {
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
        "f1": round(float(f1), 4),
        "support": int(support),
    }
