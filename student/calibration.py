"""How far the student's confidence can be trusted, and one number that fixes most of the gap.

Expected calibration error (ECE) sorts predictions by their top probability into equal-width bins and
averages, weighted by bin size, the gap between each bin's accuracy and its mean confidence.
Temperature scaling (Guo et al., 2017) divides the logits by one scalar T fitted by minimising the
negative log-likelihood on labelled held-out rows: T > 1 softens an over-confident model, and the
argmax, so every predicted label, is unchanged. Both work on probability rows (what
`student.train.probabilities` returns): log-probabilities are logits up to a per-row constant,
which softmax ignores.
"""

from __future__ import annotations

import torch

BINS = 10
FLOOR = 1e-12  # log(0) guard: a probability rounded to zero still has a finite log
T_RANGE = (0.05, 20.0)  # a fitted temperature outside this is a degenerate fit (e.g. all rows right), clamped


def ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> float:
    """Top-label expected calibration error of probability rows (n, classes) against label ids (n,)."""
    if len(labels) == 0:
        raise ValueError("ECE needs at least one labelled row")
    confidence, predicted = probs.float().max(-1)
    correct = (predicted == labels).float()
    # Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of exactly 0 joins the first bin.
    which = (confidence * bins).ceil().long().clamp(1, bins) - 1
    gap = torch.zeros(bins).index_add_(0, which, confidence - correct)
    return float(gap.abs().sum() / len(labels))


def scale(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probability rows as the temperature-scaled model gives them: softmax(log p / T) along the last axis."""
    if temperature == 1.0:
        return probs
    return (probs.float().clamp_min(FLOOR).log() / temperature).softmax(-1)


def fit_temperature(probs: torch.Tensor, labels: torch.Tensor, steps: int = 50) -> float:
    """The T minimising the mean negative log-likelihood of ``labels`` under `scale`\\ d ``probs``.

    L-BFGS over log T (so T stays positive), starting from T = 1; the result is clamped to `T_RANGE`."""
    logits = probs.float().clamp_min(FLOOR).log()
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def nll() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        return loss

    optimizer.step(nll)  # type: ignore[no-untyped-call]  # LBFGS.step is unannotated
    return float(min(max(log_t.exp().item(), T_RANGE[0]), T_RANGE[1]))
