"""Critic: labels each generated text in its own call and throws out what is wrong, duplicated or leaked.

Cheap checks run first so no tokens are spent labelling a text that will be thrown out anyway.
Every rejection records its reason; nothing generated is ever executed or used as a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from langgraph.runtime import Runtime

from agents.common import as_data, cost, normalise, stopwatch
from agents.schemas import LabelVerdict
from agents.teacher import Reply, Teacher
from graph.context import Context, run_dataset
from graph.state import Sample, State
from prompts import render
from student.task import Task

MIN_WORDS = 3
NGRAM = 8  # a shared run of 8 words with a seed/dev/test text counts as a leak
REFUSAL = re.compile(r"^\W*(i'?m sorry|i am sorry|sorry,|i can(?:no|')t|i cannot|as an ai|i'?m unable|i am unable)", re.I)


def _ngrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


class LeakIndex:
    """Normalised seed/dev/test texts and their word 8-grams, to reject generated text that copies them."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.grams: set[tuple[str, ...]] = set()
        for t in texts:
            norm = normalise(t)
            self.exact.add(norm)
            self.grams |= _ngrams(norm.split())

    def leaks(self, text: str) -> bool:
        """True if ``text`` equals a protected text or shares an 8-word run with one."""
        norm = normalise(text)
        return norm in self.exact or not self.grams.isdisjoint(_ngrams(norm.split()))


@lru_cache(maxsize=4)
def _leak_index(data: str, kind: str, seeds: tuple[str, ...]) -> LeakIndex:
    ds = run_dataset(data, kind)  # type: ignore[arg-type]
    return LeakIndex([*seeds, *(e["text"] for e in ds.dev), *(e["text"] for e in ds.test)])


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


@lru_cache(maxsize=4)
def _tokenizer(data: str, kind: str) -> object:
    """NER: the tokeniser that splits generated sentences the way the run's training data is split."""
    from agents import ner

    return ner.tokenizer_for(run_dataset(data, kind).train)  # type: ignore[arg-type]


def label_batch(teacher: Teacher, prompt: str, task: Task, description: str, batch: list[Sample],
                seen: set[str], leak: LeakIndex, tokenizer: object = None) -> tuple[list[Sample], list[Reply]]:
    """Screen every pending sample, label the survivors in separate calls, and record each verdict.

    ``tokenizer`` (NER only) is an `agents.ner.Tokenizer`; None means its default rules.
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
        from agents import ner

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


def critic(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: label and filter this round's batch."""
    ctx = runtime.context or Context()
    task, rnd = Task.from_dict(state["task"]), state["round"]
    runtime.stream_writer({"node": "critic", "round": rnd, "status": f"labelling {len(state.get('batch', []))} samples"})
    with stopwatch() as elapsed:
        seeds = tuple(e["text"] for e in state.get("seeds", []))
        seen = {normalise(e["text"]) for e in state.get("pool", [])}
        batch, replies = label_batch(ctx.teacher(labelling=True), ctx.prompt("critic"), task, ctx.describe(),
                                     state.get("batch", []), seen, _leak_index(ctx.data, ctx.task, seeds),
                                     tokenizer=_tokenizer(ctx.data, ctx.task) if task.is_ner else None)
    return {"batch": batch, "stats": {str(rnd): {"critic": cost(replies, elapsed[0])}}}
