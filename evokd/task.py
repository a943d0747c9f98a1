"""The task specification, defined once and shared by readers, agents, student and metrics.

An `Example` is a plain dict so it travels through LangGraph checkpoints and JSONL files unchanged:
classification uses ``text`` and ``label``; NER uses ``tokens`` and ``tags`` (BIO/IOB2), with
``text`` holding the tokens joined by single spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it on Python 3.11

TaskKind = Literal["classification", "ner"]


class Example(TypedDict, total=False):
    """One labelled example; which keys are set depends on the task kind."""

    text: str
    label: str
    tokens: list[str]
    tags: list[str]


@dataclass(frozen=True)
class Task:
    """What the student learns: the task kind and its label set.

    For classification ``labels`` are the class names; for NER they are the entity types
    (``person``, ``geo-loc``, ...) without B-/I- prefixes.
    """

    kind: TaskKind
    labels: tuple[str, ...]

    @property
    def is_ner(self) -> bool:
        """True for token classification."""
        return self.kind == "ner"

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The student's output classes: class names, or ``O`` plus B-/I- tags for NER."""
        if not self.is_ner:
            return self.labels
        return ("O", *(f"{p}-{t}" for t in self.labels for p in ("B", "I")))

    @property
    def metric(self) -> str:
        """Name of the selection metric: macro-F1 for classification, span F1 for NER."""
        return "span_f1" if self.is_ner else "macro_f1"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form for state and run files."""
        return {"kind": self.kind, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Task:
        """Inverse of `to_dict`."""
        return cls(kind=d["kind"], labels=tuple(d["labels"]))  # type: ignore[arg-type]

