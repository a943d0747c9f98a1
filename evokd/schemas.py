"""Pydantic models of what each agent asks the teacher to reply with."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    """The Critic's label for one generated text."""

    label: str = Field(description="Exactly one of the allowed labels.")


class Entity(BaseModel):
    """An entity mention given as an exact substring of the sentence; offsets are computed in code."""

    text: str = Field(description="The exact substring of the sentence that names the entity.")
    type: str = Field(description="One of the allowed entity types.")


class Annotation(BaseModel):
    """The Critic's entity annotation of one generated sentence."""

    entities: list[Entity] = Field(default_factory=list, description="Every entity mention, in order.")
