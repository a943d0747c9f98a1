"""The kept student's calibration, measured on labels the run paid for and fixed with one temperature.

The labelled rows come from `validation_examples`, the one place that says which data may be used:
never dev or test gold labels. They are the accepted samples `hold_out` kept out of all training
(``calibration_share``: a random share of each round's accepted samples, before any noise step, so no
row is chosen by whether the student agrees with it), and the samples the Critic accepted in rounds
after the kept one (the teacher labelled them, and the kept student never trained on them, since each
round trains the previous round's student). A few-shot run keeps its last round, so without a share it
has no rows, and the card says so.

ECE before is the kept student's own; ECE after is two-fold cross-fitted (each half scaled by the
temperature fitted on the other half), so it is not measured on the rows it was fitted to. The
temperature fitted on all rows is kept only when it lowers that ECE; otherwise the model keeps
T = 1. Rows are texts, or for NER words (each word's tag distribution). The labels are the
teacher's, on the teacher's texts: a calibration for text like the run's, not a guarantee on yours.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from evokd.records import read_jsonl, write_json
from evokd.state import Sample
from evokd.student import calibration as math
from evokd.student import model as student_model
from evokd.student.model import Student
from evokd.student.train import probabilities
from evokd.task import Example
from evokd.tasks import adapter_for, kind_of

CALIBRATION = "calibration.json"  # beside the weights in model/, copied into every export
MIN_ROWS = 20  # fewer labelled rows than this say nothing about a 10-bin ECE
SOURCE = (
    "accepted samples the kept student never trained on (held out for calibration, or accepted after the kept "
    "round), with the teacher's labels"
)
HINT = "give --calibration-share (for example 0.1) to hold rows out of training"


def hold_out(accepted: Sequence[Sample], share: float, seed: int) -> None:
    """Mark ``round(share * n)`` of a round's ``n`` accepted samples, drawn at random with ``seed``, as
    calibration rows (``calibration``): no training pass, replay or noise step sees them."""
    picked = set(random.Random(seed).sample(range(len(accepted)), round(share * len(accepted))))
    for i, s in enumerate(accepted):
        if i in picked:
            s["calibration"] = True


def validation_examples(run: Path) -> list[Example]:
    """Labelled examples the run paid for that the kept student did not train on (see the module docstring)."""
    summary, seeds = run / "summary.json", read_jsonl(run / "seeds.jsonl")
    if not summary.is_file() or not seeds:
        return []
    best = int(json.loads(summary.read_text(encoding="utf-8")).get("best_round", 0))
    adapter = adapter_for(kind_of(list(enumerate(seeds, 1)), run / "seeds.jsonl"))
    return [
        adapter.to_example(s)  # type: ignore[arg-type]  # a samples.jsonl row is a Sample
        for s in read_jsonl(run / "samples.jsonl")
        if s.get("verdict") == "accepted"
        and (s.get("calibration") or (int(s.get("round", 0)) > best and s.get("noise") != "held_out"))
    ]


def rows(student: Student, examples: list[Example], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The student's probability rows and the label ids: one per text, or per word for a per-token head."""
    index = {name: i for i, name in enumerate(student.head.names)}
    probs = probabilities(student, examples, max_length=max_length)
    if student.head.per_token:
        gold = [index[tag] for ex in examples for tag in ex["tags"]]
        return torch.cat(probs), torch.tensor(gold)
    return torch.stack(probs), torch.tensor([index[ex["label"]] for ex in examples])


def measure(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """ECE before, the cross-fitted ECE after, and the temperature to keep (1.0 when scaling does not help)."""
    half = len(labels) // 2
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    a, b = order[:half], order[half:]
    crossed = torch.cat(
        [
            math.scale(probs[a], math.fit_temperature(probs[b], labels[b])),
            math.scale(probs[b], math.fit_temperature(probs[a], labels[a])),
        ]
    )
    before = math.ece(probs, labels)
    after = math.ece(crossed, labels[torch.cat([a, b])])
    fitted = math.fit_temperature(probs, labels)
    return {
        "measured": True,
        "ece_before": round(before, 4),
        "ece_after": round(after, 4),
        "fitted_temperature": round(fitted, 4),
        "temperature": round(fitted, 4) if after < before else 1.0,
        "rows": len(labels),
        "bins": math.BINS,
    }


def calibrate(run: Path, max_length: int, test: Sequence[Example] = ()) -> dict[str, Any]:
    """Measure and fix the kept student's calibration; write and return ``model/calibration.json``. With
    ``test`` (gold-labelled, for reporting only), also the ECE there before and after the temperature that the
    paid-for rows chose: whether it transfers to real text. Test labels never change T."""
    examples = validation_examples(run)
    # rows: words for NER (each has a tag distribution), texts otherwise; no head is read without rows, so a
    # model without an evokd head (a SetFit body) gets "not measured" too
    labels = sum(len(ex["tags"]) if "tags" in ex else 1 for ex in examples)
    if labels < MIN_ROWS:
        found: dict[str, Any] = {
            "measured": False,
            "temperature": 1.0,
            "rows": labels,
            "reason": f"no held-out paid-for labels (found {labels}, need {MIN_ROWS}); {HINT}",
        }
    else:
        model = run / "model"
        student = student_model.load(model, student_model.saved_head(model))
        found = measure(*rows(student, examples, max_length))
        if test:
            probs, gold = rows(student, list(test), max_length)
            found["test_check"] = {
                "ece_before": round(math.ece(probs, gold), 4),
                "ece_after": round(math.ece(math.scale(probs, found["temperature"]), gold), 4),
                "rows": len(gold),
            }
    found.update(source=SOURCE, examples=len(examples))
    write_json(run / "model" / CALIBRATION, found)
    return found


def temperature(folder: Path) -> float:
    """The temperature a model or export folder carries (1.0 when it has no calibration)."""
    path = folder / CALIBRATION
    return float(json.loads(path.read_text(encoding="utf-8")).get("temperature", 1.0)) if path.is_file() else 1.0


def card_lines(found: dict[str, Any]) -> list[str]:
    """The model card's calibration section."""
    head = ["## Calibration", ""]
    if not found.get("measured"):
        return [*head, f"ECE not measured: {found.get('reason', 'no held-out paid-for labels')}.", ""]
    kept = (
        f"`evokd predict` divides the logits by T = {found['temperature']:.3f}"
        if found["temperature"] != 1.0
        else f"The fitted T = {found['fitted_temperature']:.3f} did not lower the cross-fitted ECE, so scores stay "
        "unscaled (T = 1)"
    )
    return [
        *head,
        f"Expected calibration error (top label, {found['bins']} equal-width bins) on {found['rows']:,} rows "
        f"from {found['examples']:,} {SOURCE}: **{found['ece_before']:.4f}** as trained, **{found['ece_after']:.4f}** "
        "after temperature scaling (two-fold cross-fitted). "
        f"{kept}; labels are unchanged. These are the teacher's labels on the teacher's texts: check the scores on "
        "your own labelled sample.",
        *test_line(found.get("test_check")),
        "",
    ]


def test_line(check: dict[str, Any] | None) -> list[str]:
    """The card's line on the test split's ECE with and without the kept T (reporting only), when measured."""
    if not check:
        return []
    return [
        "",
        f"On the run's test split ({check['rows']:,} gold-labelled rows, for reporting only: T was fixed before "
        f"they were read), ECE is {check['ece_before']:.4f} as trained and {check['ece_after']:.4f} with the kept T.",
    ]
