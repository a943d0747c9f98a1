"""Calibration math on synthetic logits: ECE of calibrated and over-confident rows, and the fitted temperature."""

from __future__ import annotations

import pytest
import torch

from evokd.student.calibration import ece, fit_temperature, scale


def drawn(n: int, classes: int, true_temperature: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Probability rows softmax(z) with labels drawn from softmax(z / true_temperature): calibrated at 1,
    over-confident above 1."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=gen) * 3
    labels = torch.multinomial((logits / true_temperature).softmax(-1), 1, generator=gen).squeeze(1)
    return logits.softmax(-1), labels


def test_ece_of_calibrated_rows_is_near_zero_and_overconfidence_shows() -> None:
    calibrated, labels = drawn(20_000, 3, 1.0)
    assert ece(calibrated, labels) < 0.015
    overconfident, labels = drawn(20_000, 3, 3.0)
    assert ece(overconfident, labels) > 0.1


def test_ece_by_hand() -> None:
    # Two rows at confidence 0.9 (bin 9), one right and one wrong: gap 0.4; one row at 0.6 (bin 6), right: gap 0.4.
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6]])
    assert ece(probs, torch.tensor([0, 1, 1])) == pytest.approx((2 * 0.4 + 0.4) / 3)
    with pytest.raises(ValueError):
        ece(probs[:0], torch.tensor([], dtype=torch.long))


def test_temperature_above_one_fixes_overconfidence_and_keeps_the_labels() -> None:
    probs, labels = drawn(5_000, 3, 3.0)
    t = fit_temperature(probs, labels)
    assert 2.5 < t < 3.5
    after = scale(probs, t)
    assert ece(after, labels) < ece(probs, labels) / 3
    assert torch.equal(after.argmax(-1), probs.argmax(-1))
    assert torch.allclose(after.sum(-1), torch.ones(len(after)))


def test_calibrated_rows_fit_a_temperature_near_one_and_one_changes_nothing() -> None:
    probs, labels = drawn(5_000, 4, 1.0, seed=1)
    assert fit_temperature(probs, labels) == pytest.approx(1.0, abs=0.1)
    assert scale(probs, 1.0) is probs


def test_per_word_rows_scale_along_the_last_axis() -> None:
    rows = torch.tensor([[[0.7, 0.2, 0.1], [0.98, 0.01, 0.01]]])
    out = scale(rows, 2.0)
    assert out.shape == rows.shape and torch.allclose(out.sum(-1), torch.ones(1, 2))
    assert (out.max(-1).values < rows.max(-1).values).all()


def test_hold_out_marks_a_seeded_share_and_trains_on_skips_them() -> None:
    from evokd.handoff.calibration import hold_out
    from evokd.state import Sample, trains_on

    def batch() -> list[Sample]:
        return [Sample(id=f"r1-{i}", text=f"t{i}", verdict="accepted") for i in range(10)]

    first, again, other, none = batch(), batch(), batch(), batch()
    hold_out(first, 0.3, seed=5)
    hold_out(again, 0.3, seed=5)
    hold_out(other, 0.3, seed=6)
    hold_out(none, 0.0, seed=5)
    marked = [s["id"] for s in first if s.get("calibration")]
    assert len(marked) == 3 and marked == [s["id"] for s in again if s.get("calibration")]
    assert marked != [s["id"] for s in other if s.get("calibration")]  # another seed, another draw
    assert not any(s.get("calibration") for s in none)
    assert [trains_on(s) for s in first] == [not s.get("calibration") for s in first]
    assert not trains_on(Sample(noise="held_out")) and trains_on(Sample(noise="kept"))
