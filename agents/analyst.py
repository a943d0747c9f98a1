"""Analyst: reads what the student got wrong and right and writes down its weaknesses."""

from __future__ import annotations

from collections.abc import Sequence

from evokd.prompts import default, render
from evokd.schemas import Analysis
from evokd.state import Prediction
from evokd.task import Task
from evokd.tasks import adapter_for
from evokd.teacher.client import Reply, Teacher
from evokd.text import as_data, bullet_list, clip


def analyse(
    teacher: Teacher,
    prompt: str,
    task: Task,
    description: str,
    feedback: list[Prediction],
    limit: int,
    seed: int,
    uncertain: Sequence[str] = (),
) -> tuple[dict[str, object], Reply[Analysis]]:
    """Ask the teacher for a weakness analysis; a reply that cannot be parsed gives an empty analysis.

    ``uncertain``: unlabelled pool texts the student is least sure of (``--pool``), shown in the prompt's
    ``$pool`` section; without them that placeholder is empty and the prompt reads as it always has.
    """
    wrong, right = adapter_for(task).format_feedback(feedback, limit)
    pool = (
        "\n\n"
        + render(
            default(task.kind, "pool").rstrip("\n"), texts=bullet_list([f'"{as_data(clip(t))}"' for t in uncertain])
        )
        if uncertain
        else ""
    )
    text = render(prompt, task=description, labels=", ".join(task.labels), wrong=wrong, correct=right, pool=pool)
    reply = teacher.ask(text, Analysis, seed=seed)
    analysis = reply.parsed or Analysis(summary="", weaknesses=[])
    # Weaknesses tied to a label the task does not have cannot steer generation; drop them.
    analysis.weaknesses = [w for w in analysis.weaknesses if w.label in task.labels][:4]
    return {**analysis.model_dump(), "status": reply.reason or "ok"}, reply
