"""The selector's scores and query strategies, and the noise step's test, on hand-made probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evokd.agents.noise import contradicted, doubted
from evokd.agents.selector import choose, least_sure, picks, subset, uncertainty


def test_uncertainty_is_one_minus_the_top_two_margin_and_a_sentence_takes_its_least_sure_word():
    whole = [torch.tensor([0.9, 0.1]), torch.tensor([0.55, 0.45])]
    words = [torch.tensor([[0.98, 0.01, 0.01], [0.4, 0.35, 0.25]])]  # the second word is the unsure one
    assert uncertainty(whole) == pytest.approx([0.2, 0.9])
    assert uncertainty(words) == pytest.approx([0.95])


def test_uncertainty_picks_the_most_uncertain_and_random_is_seeded():
    scores = [0.1, 0.9, 0.5, 0.7]
    assert choose("uncertainty", scores, 2, seed=0) == [1, 3]
    assert choose("random", scores, 2, seed=3) == choose("random", scores, 2, seed=3)
    assert len(set(choose("random", scores, 4, seed=3))) == 4
    assert choose("uncertainty", scores, 10, seed=0) == [1, 3, 2, 0]  # never more than there are


def test_diverse_takes_the_most_uncertain_of_each_cluster():
    # Two tight clusters; the three most uncertain texts all sit in the first one.
    vectors = np.array([[0, 0], [0, 0.1], [0.1, 0], [10, 10], [10, 10.1], [9.9, 10]], dtype=float)
    scores = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1]
    assert choose("uncertainty", scores, 2, seed=0) == [0, 1]
    assert choose("diverse", scores, 2, seed=0, vectors=vectors) == [0, 3]


def test_subset_is_fixed_by_the_seed_and_keeps_pool_order():
    items = [{"id": f"p{i}", "text": str(i)} for i in range(10)]
    assert subset(items, 4, 1) == subset(items, 4, 1) and len(subset(items, 4, 1)) == 4
    kept = [int(it["id"][1:]) for it in subset(items, 4, 1)]
    assert kept == sorted(kept)
    assert subset(items, 0, 1) == items


def test_picks_carry_their_lineage_and_no_label():
    items = [{"id": "p3", "text": "good film"}]
    [s] = picks(items, [0], [0.4], rnd=2, first=4)
    assert s == {
        "id": "r2-4",
        "round": 2,
        "source": "pool",
        "pool_id": "p3",
        "text": "good film",
        "query_score": 0.4,
        "verdict": "pending",
        "reason": "",
        "teacher_tokens": 0,
    }
    assert least_sure([{"text": "a"}, {"text": "b"}], [0.1, 0.8], 1) == ["b"]


def test_the_noise_step_flags_labels_the_student_contradicts_with_high_confidence():
    probs = [torch.tensor([0.95, 0.05]), torch.tensor([0.6, 0.4]), torch.tensor([[0.9, 0.1], [0.02, 0.98]])]
    gold = ["neg", "neg", ["O", "O"]]
    assert contradicted(probs[:2], gold[:2], ["pos", "neg"]) == [True, False]
    assert contradicted(probs[2:], gold[2:], ["O", "B-x"]) == [True]  # its second word is contradicted


def test_a_label_is_doubted_only_when_the_teacher_was_unsure_and_the_student_disagrees():
    confidences = [0.5, 0.5, 0.9, None, 0.69]
    gold = ["pos", "pos", "pos", "pos", ["O", "B-x"]]
    predicted = ["neg", "pos", "neg", "neg", ["O", "O"]]
    assert doubted(confidences, gold, predicted) == [True, False, False, False, True]
    assert doubted(confidences, gold, predicted, gate=0.4) == [False] * 5
