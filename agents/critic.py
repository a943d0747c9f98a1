"""Critic: labels each generated text in its own call and throws out what is wrong, duplicated or leaked.

Cheap checks run first so no tokens are spent labelling a text that will be thrown out anyway.
Every rejection records its reason; nothing generated is ever executed or used as a path.
"""

from __future__ import annotations

import re

from evokd.text import LeakIndex, as_data, normalise
from evokd.schemas import LabelVerdict
from evokd.teacher.client import Reply, Teacher
from evokd.state import Sample
from evokd.prompts import render
from evokd.task import Task

MIN_WORDS = 3
REFUSAL = re.compile(r"^\W*(i'?m sorry|i am sorry|sorry,|i can(?:no|')t|i cannot|as an ai|i'?m unable|i am unable)", re.I)


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


def match_label(answer: str, labels: tuple[str, ...]) -> str | None:
    """The allowed label an answer names (case-insensitive, or the one label it mentions), else None."""
    folded = {lab.casefold(): lab for lab in labels}
    if answer.strip().casefold() in folded:
        return folded[answer.strip().casefold()]
    named = {lab for lab in labels if re.search(rf"(?<!\w){re.escape(lab)}(?!\w)", answer, re.I)}
    return named.pop() if len(named) == 1 else None


def label_batch(teacher: Teacher, prompt: str, task: Task, description: str, batch: list[Sample],
                seen: set[str], leak: LeakIndex, tokenizer: object = None) -> tuple[list[Sample], list[Reply]]:
    """Screen every pending sample, label the survivors in separate calls, and record each verdict.

    ``tokenizer`` (NER only) is an `evokd.tasks.ner.Tokenizer`; None means its default rules.
    """
    out = [Sample(**s) for s in batch]
    todo: list[Sample] = []
    for s in out:
        if s.get("verdict") != "pending":
            continue
        reason = screen(s, seen, leak)
        seen.add(normalise(s["text"]))  # later copies in this batch are duplicates of this one
        if reason:
            s.update(verdict="rejected", reason=reason)
        else:
            todo.append(s)
    if task.is_ner:
        from evokd.tasks import ner

        return out, ner.annotate(teacher, prompt, task, description, todo, tokenizer=tokenizer)  # type: ignore[arg-type]
    prompts = [render(prompt, task=description, labels=", ".join(task.labels), text=as_data(s["text"])) for s in todo]
    replies = teacher.ask_many(prompts, LabelVerdict)
    for s, reply in zip(todo, replies, strict=True):
        s["teacher_tokens"] = s.get("teacher_tokens", 0) + reply.tokens
        label = match_label(reply.parsed.label, task.labels) if reply.parsed else None
        if reply.parsed is None:
            s.update(verdict="rejected", reason=reply.reason or "malformed")
        elif label is None:
            s.update(verdict="rejected", reason="off_label", label=reply.parsed.label[:50])
        elif label != s["requested"]:
            # The Generator was asked for another label: the text is ambiguous, a likely source of label noise.
            s.update(verdict="rejected", reason="label_mismatch", label=label)
        else:
            s.update(verdict="accepted", label=label)
    return out, replies
