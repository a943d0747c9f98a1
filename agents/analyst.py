"""Analyst: reads what the student got wrong and right and writes down its weaknesses."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.common import bullet_list, clip, cost, stopwatch
from agents.schemas import Analysis
from agents.teacher import Teacher
from graph.context import Context
from graph.state import Prediction, State
from prompts import render
from student.task import Task


def format_feedback(task: Task, feedback: list[Prediction], limit: int) -> tuple[str, str]:
    """The wrong and right predictions as prompt text, at most ``limit`` of each."""
    if task.is_ner:
        from agents import ner

        return ner.format_feedback(feedback, limit)
    wrong = [f'"{clip(p["text"])}" (true: {p["gold"]} -> predicted: {p["predicted"]})'
             for p in feedback if not p["correct"]]
    right = [f'"{clip(p["text"])}" ({p["gold"]})' for p in feedback if p["correct"]]
    return bullet_list(wrong[:limit]), bullet_list(right[:limit])


def analyse(teacher: Teacher, prompt: str, task: Task, description: str, feedback: list[Prediction],
            limit: int, seed: int) -> tuple[dict[str, object], object]:
    """Ask the teacher for a weakness analysis; a reply that cannot be parsed gives an empty analysis."""
    wrong, right = format_feedback(task, feedback, limit)
    text = render(prompt, task=description, labels=", ".join(task.labels), wrong=wrong, correct=right)
    reply = teacher.ask(text, Analysis, seed=seed)
    analysis = reply.parsed or Analysis(summary="", weaknesses=[])
    # Weaknesses tied to a label the task does not have cannot steer generation; drop them.
    analysis.weaknesses = [w for w in analysis.weaknesses if w.label in task.labels][:4]
    return {**analysis.model_dump(), "status": reply.reason or "ok"}, reply


def analyst(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Node: start a new round with an analysis of the student's latest feedback."""
    ctx = runtime.context or Context()
    task, rnd = Task.from_dict(state["task"]), state.get("round", 0) + 1
    runtime.stream_writer({"node": "analyst", "round": rnd, "status": "analysing"})
    with stopwatch() as elapsed:
        analysis, reply = analyse(ctx.teacher(), ctx.prompt("analyst"), task, ctx.describe(), state.get("feedback", []),
                                  ctx.feedback_limit, seed=ctx.seed * 100_003 + rnd)
    return {"round": rnd, "analysis": analysis, "batch": [], "stats": {str(rnd): {"analyst": cost([reply], elapsed[0])}}}
