"""Self-training's choice of pool texts: threshold, class balance, cap and the texts the teacher labels."""

from __future__ import annotations

import torch

from evokd.agents.self_training import pseudo_labels

NAMES = ("negative", "positive")


def scored(*rows: tuple[float, float]) -> tuple[list[dict], list[torch.Tensor]]:
    items = [{"id": f"p{i}", "text": f"text {i}"} for i in range(len(rows))]
    return items, [torch.tensor(r) for r in rows]


def test_only_sure_predictions_count_and_every_label_gets_the_same_number():
    items, probs = scored((0.95, 0.05), (0.97, 0.03), (0.99, 0.01), (0.08, 0.92), (0.4, 0.6))
    got = pseudo_labels(items, probs, NAMES, limit=10, threshold=0.9)
    # one positive text is sure enough, so one negative (the surest) joins it; 0.6 is under the threshold
    assert got == [
        {"id": "p2", "text": "text 2", "label": "negative"},
        {"id": "p3", "text": "text 3", "label": "positive"},
    ]


def test_a_student_sure_of_one_label_only_teaches_itself_nothing():
    items, probs = scored((0.99, 0.01), (0.98, 0.02), (0.6, 0.4))
    assert pseudo_labels(items, probs, NAMES, limit=10, threshold=0.9) == []


def test_the_cap_is_shared_between_labels_and_skipped_texts_are_never_taken():
    items, probs = scored((0.99, 0.01), (0.98, 0.02), (0.97, 0.03), (0.01, 0.99), (0.02, 0.98), (0.03, 0.97))
    got = pseudo_labels(items, probs, NAMES, limit=4, threshold=0.9, skip=[0, 3])
    assert [(e["id"], e["label"]) for e in got] == [("p1", "negative"), ("p2", "negative"), ("p4", "positive"),
                                                    ("p5", "positive")]  # fmt: skip
    assert pseudo_labels(items, probs, NAMES, limit=0, threshold=0.9) == []
