"""The teacher against the user's own labels: before round 1 it labels the k shots with the run's labelling call.

Where a small teacher does no better than chance on a dataset, nothing the loop does can lift the student
above it, and more rounds only spend tokens. The shots are the only gold labels a few-shot run has, so the
teacher labels them as it would a pool text (charged to the budget, a few calls) and the run records how
often it agreed. With one shot per label this is a coarse signal: the warning says so, and the run's
`fresh_agreement` (the student against the teacher on each round's new texts) adds to it as rounds pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from evokd.settings import LabelStyle
from evokd.state import Sample, ShotCheck
from evokd.task import Example, Task
from evokd.tasks import TaskAdapter
from evokd.teacher.client import Reply, Teacher


def check_shots(
    adapter: TaskAdapter,
    teacher: Teacher,
    prompt: str,
    task: Task,
    description: str,
    shots: Sequence[Example],
    label_call: LabelStyle,
) -> tuple[ShotCheck, list[Reply[Any]]]:
    """Label ``shots`` with the teacher as pool texts are labelled; its agreement with their gold answers and
    the replies (for the cost record). An unusable reply counts as a disagreement."""
    todo = [Sample(id=f"shot-{i}", source="pool", text=ex["text"], verdict="pending") for i, ex in enumerate(shots)]
    replies = adapter.label(teacher, prompt, task, description, todo, label_call=label_call)
    gold = [adapter.gold(ex) for ex in shots]
    answers = [answer(adapter, s, g) for s, g in zip(todo, gold, strict=True)]
    return agreement(adapter, task, shots, answers), replies


def answer(adapter: TaskAdapter, sample: Sample, gold: str | list[str]) -> str | list[str]:
    """The teacher's answer in the student's form; an unusable one (or, per word, one of another length) is an
    answer that matches nothing: no class, or every word outside an entity."""
    got: str | list[str] | None = adapter.gold(adapter.to_example(sample)) if sample["verdict"] == "accepted" else None
    if isinstance(gold, str):
        return got if isinstance(got, str) else "(none)"
    return got if isinstance(got, list) and len(got) == len(gold) else ["O"] * len(gold)


def agreement(adapter: TaskAdapter, task: Task, shots: Sequence[Example], answers: list[str | list[str]]) -> ShotCheck:
    """How often the teacher's ``answers`` equal the shots' gold ones, the task's metric on them, and whether that
    is no better than chance (a class: at most one in as many labels; entities: no mention found)."""
    agreed = sum(adapter.gold(ex) == a for ex, a in zip(shots, answers, strict=True))
    score = float(adapter.evaluate(task, shots, answers)["score"])
    per_text = not adapter.head(task).per_token
    chance = 1 / len(task.labels) if per_text else 0.0
    return ShotCheck(
        shots=len(shots),
        agreed=agreed,
        agreement=round(agreed / len(shots), 4),
        score=round(score, 4),
        chance=round(chance, 4),
        no_better_than_chance=(agreed / len(shots) if per_text else score) <= chance,
        p_guess=round(guess_tail(len(shots), agreed, chance), 4) if per_text else None,
    )


def guess_tail(shots: int, agreed: int, chance: float) -> float:
    """The probability that a teacher guessing each label at ``chance`` agrees with ``agreed`` or more of ``shots``."""
    return sum(math.comb(shots, k) * chance**k * (1 - chance) ** (shots - k) for k in range(agreed, shots + 1))


def summary(check: ShotCheck) -> str:
    """The check in a few words, for the console and the report."""
    flag = ", no better than chance" if check["no_better_than_chance"] else ""
    odds = check.get("p_guess")
    weight = f"; a guessing teacher does as well {odds:.0%} of the time" if odds is not None and not flag else ""
    return f"agreed with {check['agreed']} of {check['shots']} shots (score {check['score']:.2f}{flag}{weight})"


def warning(check: ShotCheck) -> str | None:
    """One line for the user where the teacher did no better than chance on their shots, else None."""
    if not check["no_better_than_chance"]:
        return None
    return (
        f"the teacher agreed with {check['agreed']} of your {check['shots']} labelled shots (score "
        f"{check['score']:.2f}), no better than chance: if a larger labelled sample says the same, the teacher is "
        "the bottleneck (try a stronger one, or describe the labels: --task-description, the data card)"
    )
