"""The task specification, defined once and shared by readers, agents, student and metrics.

An `Example` is a plain dict so it travels through LangGraph checkpoints and JSONL files unchanged.
Which keys it holds is its task kind's business (`evokd.tasks`, one adapter per kind): classification
uses ``text`` and ``label``; NER uses ``tokens`` and ``tags`` (BIO/IOB2), with ``text`` holding the
tokens joined by single spaces. Every example has a ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it on Python 3.11

TaskKind = str
"""A registered task kind's name (`evokd.tasks.kinds()`: "classification", "ner")."""

MASKED = "?"
"""NER tag of a token whose tag is unknown (the teacher named a mention there that failed a check): training
skips it, neither entity nor outside; span reading sees no entity there; agreement ignores it."""


class Example(TypedDict, total=False):
    """One labelled example; which keys are set depends on the task kind."""

    text: str
    label: str
    tokens: list[str]
    tags: list[str]
    """NER: one IOB2 tag per token, or `MASKED` where a teacher-labelled sentence's tag is unknown."""
    teacher_probs: dict[str, float]
    """Teacher-labelled classification examples: the teacher's probability per label, where it was read (the
    label-only call); the student trains on it with soft targets."""
    id: str
    """Pool items only: where the unlabelled text came from ('p<row>' of a pool file, 't<n>' of a train split)."""


@dataclass(frozen=True)
class Task:
    """What the student learns: the task kind and its label set.

    For classification ``labels`` are the class names; for NER they are the entity types
    (``person``, ``geo-loc``, ...) without B-/I- prefixes. What follows from the kind (the student's
    output classes, the metric, ...) is the kind's adapter's to say: `evokd.tasks.adapter_for(task)`.
    """

    kind: TaskKind
    labels: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form for state and run files."""
        return {"kind": self.kind, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Task:
        """Inverse of `to_dict`."""
        return cls(kind=d["kind"], labels=tuple(d["labels"]))  # type: ignore[arg-type]
