"""Analyst: reads what the student got wrong and right and writes down its weaknesses."""

from __future__ import annotations

from evokd.schemas import Analysis
from evokd.teacher.client import Teacher
from evokd.state import Prediction
from evokd.prompts import render
from evokd.task import Task
from evokd.tasks import adapter_for


def analyse(teacher: Teacher, prompt: str, task: Task, description: str, feedback: list[Prediction],
            limit: int, seed: int) -> tuple[dict[str, object], object]:
    """Ask the teacher for a weakness analysis; a reply that cannot be parsed gives an empty analysis."""
    wrong, right = adapter_for(task).format_feedback(feedback, limit)
    text = render(prompt, task=description, labels=", ".join(task.labels), wrong=wrong, correct=right)
    reply = teacher.ask(text, Analysis, seed=seed)
    analysis = reply.parsed or Analysis(summary="", weaknesses=[])
    # Weaknesses tied to a label the task does not have cannot steer generation; drop them.
    analysis.weaknesses = [w for w in analysis.weaknesses if w.label in task.labels][:4]
    return {**analysis.model_dump(), "status": reply.reason or "ok"}, reply
