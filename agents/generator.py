"""Generator: writes new hard and easy inputs aimed at the weaknesses the Analyst found.

Small teachers follow a one-example, label-fixed request far better than "write several mixed
examples", so each sample is its own request (run concurrently) with its label and stance fixed.
Only the text is kept: the Critic labels it in a separate call.
"""

from __future__ import annotations

from typing import cast

from evokd.prompts import render
from evokd.schemas import GeneratedText
from evokd.state import Sample
from evokd.task import Example, Task
from evokd.tasks import TaskAdapter, adapter_for
from evokd.teacher.client import Reply, Teacher
from evokd.text import bullet_list, clip


def plan(task: Task, analysis: dict[str, object], n_hard: int, n_easy: int, rnd: int) -> list[Sample]:
    """The round's requests: hard ones cycle through the weaknesses, easy ones through the labels."""
    weaknesses = list(analysis.get("weaknesses") or [])  # type: ignore[call-overload]
    samples: list[Sample] = []
    for i in range(n_hard):
        if weaknesses:
            w = weaknesses[i % len(weaknesses)]
            label, pattern = w["label"], w["pattern"]
        else:  # no usable analysis: still aim at confusable texts, spread over the labels
            label = task.labels[i % len(task.labels)]
            pattern = str(analysis.get("summary") or "texts that are easy to confuse with another label")
        samples.append(Sample(stance="hard", requested=label, weakness=pattern))
    for i in range(n_easy):
        samples.append(Sample(stance="easy", requested=task.labels[(i + rnd) % len(task.labels)], weakness=""))
    for n, s in enumerate(samples):
        s.update(
            {
                "id": f"r{rnd}-{n}",
                "round": rnd,
                "source": "generated",
                "verdict": "pending",
                "reason": "",
                "text": "",
                "teacher_tokens": 0,
            }
        )
    return samples


def generate(
    teacher: Teacher,
    prompt: str,
    task: Task,
    description: str,
    analysis: dict[str, object],
    seeds: list[Example],
    pool: list[Example],
    requests: list[Sample],
    seed: int,
    words: int = 0,
    adapter: TaskAdapter | None = None,
    max_tokens: int | None = None,
) -> tuple[list[Sample], list[Reply[GeneratedText]]]:
    """Fill each planned request with a text from the teacher; unparseable replies are rejected.

    ``words`` is the typical length of a real text of the data (``$words`` in the prompt). ``adapter`` is the
    run's (fitted to its data and card: NER's types come with the card's meanings); None means the kind's default.
    ``max_tokens`` caps each reply instead of the client's cap (`Context.written_cap`: room for a long text)."""
    summary = str(analysis.get("summary") or "")
    # The Analyst's reply stores weaknesses as {label, pattern} dicts (schemas.Analysis).
    weaknesses = cast("list[dict[str, str]]", analysis.get("weaknesses") or [])
    lines = [summary] + [f"{w['label']}: {w['pattern']}" for w in weaknesses]
    analysis_text = bullet_list([line for line in lines if line], empty="(no analysis yet)")
    adapter = adapter or adapter_for(task)
    labels = adapter.label_text(task)
    texts = []
    for r in requests:
        same = [clip(e["text"]) for e in adapter.written_for(pool, r["requested"])][-5:]
        examples = adapter.format_examples(seeds, r["requested"], adapter.examples_shown)
        texts.append(
            render(
                prompt,
                task=description,
                labels=labels,
                analysis=analysis_text,
                examples=examples,
                label=r["requested"],
                stance=r["stance"],
                weakness=r["weakness"] or "(none: write a typical example)",
                avoid=bullet_list(same),
                words=str(words),
            )
        )
    reply_seeds = [seed + i for i in range(len(requests))]
    replies = teacher.ask_many(texts, GeneratedText, seeds=reply_seeds, max_tokens=max_tokens)
    return fill(requests, replies), replies


def fill(requests: list[Sample], replies: list[Reply[GeneratedText]]) -> list[Sample]:
    """The planned requests with the texts the teacher wrote; an unparseable reply rejects its sample."""
    out: list[Sample] = []
    for r, reply in zip(requests, replies, strict=True):
        s = Sample(**{**r, "teacher_tokens": reply.tokens})
        if reply.parsed is None:
            s.update({"verdict": "rejected", "reason": reply.reason or "malformed", "text": reply.raw[:500]})
        else:
            s["text"] = " ".join(reply.parsed.text.split())  # one line, single spaces
        out.append(s)
    return out
