"""The teacher against the user's own labels: before round 1 it labels the k shots with the run's labelling call.

Where a small teacher does no better than chance on a dataset, nothing the loop does can lift the student
above it, and more rounds only spend tokens. The shots are the only gold labels a few-shot run has, so the
teacher labels them as it would a pool text (charged to the budget, a few calls) and the run records how
often it agreed. With one shot per label this is a coarse signal: the warning says so, and the run's
`fresh_agreement` (the student against the teacher on each round's new texts) adds to it as rounds pass.

A check is no reason to spend a tight budget: where a label is dear (a wnut16 sentence costs about 470 tokens,
so 10 shots took 29 % of 16,000), the run gives it a share of the budget (`shot_check_share`). The first shot
prices a label, and only as many more as that price fits in the share are labelled, taken a label at a time
(`spread`) so every label is checked before any is checked twice.
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
    cap_tokens: int = 0,
) -> tuple[ShotCheck, list[Reply[Any]]]:
    """Label ``shots`` with the teacher as pool texts are labelled; its agreement with their gold answers and
    the replies (for the cost record). An unusable reply counts as a disagreement. With ``cap_tokens``, the
    shots `spread` over the labels and only as many as the first one's cost fits under the cap (at least one)."""
    order = spread(adapter, shots) if cap_tokens else list(shots)
    todo = [Sample(id=f"shot-{i}", source="pool", text=ex["text"], verdict="pending") for i, ex in enumerate(order)]

    def ask(batch: list[Sample]) -> list[Reply[Any]]:
        return adapter.label(teacher, prompt, task, description, batch, label_call=label_call) if batch else []

    replies = ask(todo[:1] if cap_tokens else todo)
    if cap_tokens:
        price = max(1, sum(r.tokens for r in replies))
        todo = todo[: max(1, cap_tokens // price)]
        replies += ask(todo[1:])
    checked = order[: len(todo)]
    answers = [answer(adapter, s, adapter.gold(ex)) for s, ex in zip(todo, checked, strict=True)]
    return agreement(adapter, task, checked, answers, given=len(shots)), replies


def spread(adapter: TaskAdapter, shots: Sequence[Example]) -> list[Example]:
    """``shots`` reordered a label at a time: each label's first shot (by its first label, for a sentence with
    several entity types), then each one's second, so a prefix of any length covers as many labels as it can."""
    rank: dict[str, int] = {}
    keyed = []
    for i, ex in enumerate(shots):
        label = min(adapter.labels_in(ex), default="")
        keyed.append((rank.get(label, 0), i, ex))
        rank[label] = rank.get(label, 0) + 1
    return [ex for _, _, ex in sorted(keyed, key=lambda k: k[:2])]


def answer(adapter: TaskAdapter, sample: Sample, gold: str | list[str]) -> str | list[str]:
    """The teacher's answer in the student's form; an unusable one (or, per word, one of another length) is an
    answer that matches nothing: no class, or every word outside an entity."""
    got: str | list[str] | None = adapter.gold(adapter.to_example(sample)) if sample["verdict"] == "accepted" else None
    if isinstance(gold, str):
        return got if isinstance(got, str) else "(none)"
    return got if isinstance(got, list) and len(got) == len(gold) else ["O"] * len(gold)


def agreement(
    adapter: TaskAdapter, task: Task, shots: Sequence[Example], answers: list[str | list[str]], given: int = 0
) -> ShotCheck:
    """How often the teacher's ``answers`` equal the shots' gold ones, the task's metric on them, and whether that
    is no better than chance (a class: at most one in as many labels; entities: no mention found). ``given``:
    the shots the user gave, where the check labelled fewer (its share of the budget)."""
    agreed = sum(adapter.gold(ex) == a for ex, a in zip(shots, answers, strict=True))
    score = float(adapter.evaluate(task, shots, answers)["score"])
    per_text = not adapter.head(task).per_token
    chance = 1 / len(task.labels) if per_text else 0.0
    return ShotCheck(
        shots=len(shots),
        given=max(given, len(shots)),
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
    given = check.get("given", check["shots"])
    part = f" (of {given} given; the rest would pass the check's share of the budget)" if given > check["shots"] else ""
    return f"agreed with {check['agreed']} of {check['shots']} shots{part} (score {check['score']:.2f}{flag}{weight})"


def warning(check: ShotCheck) -> str | None:
    """One line for the user where the teacher did no better than chance on their shots, else None."""
    if not check["no_better_than_chance"]:
        return None
    return (
        f"the teacher agreed with {check['agreed']} of your {check['shots']} labelled shots (score "
        f"{check['score']:.2f}), no better than chance: if a larger labelled sample says the same, the teacher is "
        "the bottleneck (try a stronger one, or describe the labels: --task-description, the data card)"
    )
