"""Critic: labels each generated text in its own call and throws out what is wrong, duplicated or leaked.

Cheap checks run first so no tokens are spent labelling a text that will be thrown out anyway. The
labelling call itself, and what makes its answer acceptable, is the task adapter's (`evokd.tasks`).
Every rejection records its reason; nothing generated is ever executed or used as a path.
"""

from __future__ import annotations

import re
from typing import Any

from evokd.settings import LabelStyle
from evokd.state import Sample
from evokd.task import Task
from evokd.tasks import TaskAdapter, adapter_for
from evokd.teacher.client import Reply, Teacher
from evokd.text import LeakIndex, normalise

MIN_WORDS = 3
REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry,|i can(?:no|')t|i cannot|as an ai|i'?m unable|i am unable)", re.I
)


def screen(sample: Sample, seen: set[str], leak: LeakIndex) -> str:
    """The reason to reject a text before labelling it, or "" if it may go on."""
    text = sample.get("text", "")
    if len(text.split()) < MIN_WORDS:
        return "empty"
    if REFUSAL.search(text):
        return "refusal"
    if normalise(text) in seen:
        return "duplicate"
    if leak.leaks(text):
        return "contaminated"
    return ""


def label_batch(
    teacher: Teacher,
    prompt: str,
    task: Task,
    description: str,
    batch: list[Sample],
    seen: set[str],
    leak: LeakIndex,
    adapter: TaskAdapter | None = None,
    logprobs: bool = False,
    min_confidence: float = 0.0,
    per_call: int = 1,
    label_call: LabelStyle = "json",
    mask: bool = False,
) -> tuple[list[Sample], list[Reply[Any]]]:
    """Screen every pending sample, label the survivors in calls of ``per_call`` texts (as the task's adapter
    asks), and record each verdict.

    ``adapter`` is the run's (fitted to its data, e.g. NER's tokenizer); None means the kind's default one.
    ``logprobs`` records the teacher's confidence in its label; one below ``min_confidence`` (when that is
    not 0) rejects the sample as ``low_confidence``; a label without a confidence is kept. ``label_call``
    picks the labelling call where the kind has a choice, ``mask`` whether a partly wrong annotation is kept with
    its bad parts masked (`TaskAdapter.label`).
    """
    out = [Sample(**s) for s in batch]
    todo: list[Sample] = []
    for s in out:
        if s.get("verdict") != "pending":
            continue
        reason = screen(s, seen, leak)
        seen.add(normalise(s["text"]))  # later copies in this batch are duplicates of this one
        if reason:
            s.update({"verdict": "rejected", "reason": reason})
        else:
            todo.append(s)
    replies = (adapter or adapter_for(task)).label(
        teacher, prompt, task, description, todo, logprobs=logprobs, per_call=per_call, label_call=label_call, mask=mask
    )
    for s in todo:
        confidence = s.get("teacher_confidence")
        if min_confidence and s["verdict"] == "accepted" and confidence is not None and confidence < min_confidence:
            s.update({"verdict": "rejected", "reason": "low_confidence"})
    return out, replies
