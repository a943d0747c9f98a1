"""Soft targets: the student trains on the teacher's distribution over the labels where it has one."""

from pathlib import Path

import pytest
import torch

from evokd.student.model import load
from evokd.student.train import TrainConfig, probabilities, soft_cross_entropy, soft_targets, train
from evokd.task import Example, Task
from evokd.tasks import head_for
from tests.support.data import NEG, POS

HEAD = head_for(Task("classification", ("negative", "positive")))
QUICK = TrainConfig(lr=1e-2, batch_size=4, epochs=10, min_steps=30, soft_targets=True)


def test_targets_are_the_teachers_probabilities_or_the_hard_label() -> None:
    examples: list[Example] = [
        {"text": "a", "label": "positive", "teacher_probs": {"negative": 0.2, "positive": 0.6}},  # renormalised
        {"text": "b", "label": "negative"},  # a seed: no teacher, all mass on its label
    ]
    assert torch.allclose(soft_targets(HEAD, examples), torch.tensor([[0.25, 0.75], [1.0, 0.0]]))


def test_the_loss_is_cross_entropy_against_the_distribution() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    one_hot = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert soft_cross_entropy(logits, one_hot).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, torch.tensor([1, 0])).item()
    )
    uniform = torch.full((2, 2), 0.5)
    expected = -(0.5 * logits.log_softmax(-1)).sum(-1).mean().item()
    assert soft_cross_entropy(logits, uniform).item() == pytest.approx(expected)


def test_a_doubtful_teacher_leaves_the_student_doubtful_where_a_hard_label_makes_it_sure(tiny_student: Path) -> None:
    texts = [*POS[:4], *NEG[:4]]
    hard: list[Example] = [{"text": t, "label": "positive" if t in POS else "negative"} for t in texts]
    doubtful: list[Example] = [{**ex, "teacher_probs": {"negative": 0.5, "positive": 0.5}} for ex in hard]

    def confidence(examples: list[Example], soft: bool) -> float:
        student = load(tiny_student, HEAD, device="cpu")
        train(student, examples, TrainConfig(**{**QUICK.__dict__, "soft_targets": soft}))
        return float(torch.stack(probabilities(student, hard)).max(-1).values.mean())

    assert confidence(doubtful, soft=True) < 0.6  # trained towards 50/50 on every text
    assert confidence(doubtful, soft=False) > 0.9  # the same examples' hard labels: confident
    assert confidence(hard, soft=True) > 0.9  # no teacher_probs: soft targets fall back to the label
