"""Pydantic models of what each agent asks the teacher to reply with."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field, create_model


class Weakness(BaseModel):
    """One pattern that fools the student, tied to the true label it fails on."""

    label: str = Field(description="The true label (or entity type) of the texts the student gets wrong.")
    pattern: str = Field(description="One sentence describing what these texts have in common.")


class Analysis(BaseModel):
    """The Analyst's reading of the student's wrong and right predictions."""

    summary: str = Field(description="Two sentences on where the student fails.")
    weaknesses: list[Weakness] = Field(default_factory=list, description="Up to four weaknesses.")


class GeneratedText(BaseModel):
    """One new input written by the Generator (text only: labelling is the Critic's job)."""

    text: str = Field(description="The new text.")


class LabelVerdict(BaseModel):
    """The Critic's labels for the numbered texts of one labelling call, in order."""

    labels: list[str] = Field(description="One allowed label per text, in the texts' order.")


@cache
def label_verdict(n: int) -> type[LabelVerdict]:
    """`LabelVerdict` for a call with ``n`` texts: exactly ``n`` labels, so a JSON-schema endpoint cannot skip
    or add one (a reply of the wrong length fails validation and is retried). Same schema name, any ``n``."""
    field = (list[str], Field(min_length=n, max_length=n, description=f"Exactly {n} allowed labels, in order."))
    return create_model("LabelVerdict", __base__=LabelVerdict, labels=field)


class Entity(BaseModel):
    """An entity mention given as an exact substring of the sentence; offsets are computed in code."""

    text: str = Field(description="The exact substring of the sentence that names the entity.")
    type: str = Field(description="One of the allowed entity types.")


class Annotation(BaseModel):
    """The Critic's entity annotation of one generated sentence."""

    entities: list[Entity] = Field(default_factory=list, description="Every entity mention, in order.")
