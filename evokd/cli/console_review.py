"""Human review in the terminal: show what the graph paused on, read replies, return the resume value.

`ask` takes the interrupt's payload (see `graph.review`) and two callables, one that reads a line
(``input``) and one that shows a line, so it runs the same in a terminal and in tests. Replies:

- analysis: Enter approves; ``drop 2 3`` removes weaknesses; ``add LABEL: PATTERN`` adds one;
  ``summary TEXT`` replaces the summary; a JSON object replaces the whole analysis. Edits
  accumulate and are shown again until Enter.
- samples: Enter keeps them all; numbers or ids (``1 3`` or ``r1-0``) drop those samples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from evokd.graph.review import ReviewError, approves, reviewed_analysis, reviewed_batch

Read = Callable[[str], str]
Show = Callable[[str], None]


def ask(question: dict[str, Any], read: Read = input, show: Show = print) -> object:
    """Ask a person about one paused review and return the value to resume the graph with."""
    if question.get("error"):
        show(f"! {question['error']}")
    if question["review"] == "analysis":
        return _ask_analysis(question, read, show)
    return _ask_samples(question, read, show)


def _show_analysis(rnd: int, analysis: dict[str, Any], show: Show) -> None:
    """The analysis as numbered lines."""
    show(f"-- review, round {rnd}: the Analyst's analysis --")
    show(f"summary: {analysis.get('summary', '')}")
    for n, w in enumerate(analysis.get("weaknesses", []), 1):
        show(f"  {n}. [{w['label']}] {w['pattern']}")


def edit_analysis(analysis: dict[str, Any], reply: str) -> dict[str, Any]:
    """The analysis with one terminal edit applied (raises `ReviewError` on a reply it cannot read)."""
    weaknesses = list(analysis.get("weaknesses", []))
    if reply.startswith("{"):
        try:
            whole: dict[str, Any] = json.loads(reply)
            return whole
        except json.JSONDecodeError as e:
            raise ReviewError(f"not valid JSON: {e}") from None
    command, _, rest = reply.partition(" ")
    if command == "drop" and re.fullmatch(r"[\d ,]+", rest):
        gone = {int(n) for n in re.findall(r"\d+", rest)}
        if bad := sorted(gone - set(range(1, len(weaknesses) + 1))):
            raise ReviewError(f"no weakness number {', '.join(map(str, bad))}")
        return {**analysis, "weaknesses": [w for n, w in enumerate(weaknesses, 1) if n not in gone]}
    if command == "add" and ":" in rest:
        label, pattern = (part.strip() for part in rest.split(":", 1))
        return {**analysis, "weaknesses": [*weaknesses, {"label": label, "pattern": pattern}]}
    if command == "summary" and rest.strip():
        return {**analysis, "summary": rest.strip()}
    raise ReviewError(
        "reply with Enter (approve), 'drop N ...', 'add LABEL: PATTERN', 'summary TEXT' or a JSON analysis"
    )


def _ask_analysis(question: dict[str, Any], read: Read, show: Show) -> object:
    """Accumulate edits to the analysis until the person approves it."""
    original, labels = question["analysis"], tuple(question["labels"])
    current = {"summary": original.get("summary", ""), "weaknesses": list(original.get("weaknesses", []))}
    edited = False
    _show_analysis(question["round"], current, show)
    while True:
        reply = read("approve [Enter] · drop N · add LABEL: PATTERN · summary TEXT · {json} > ").strip()
        if approves(reply):
            return {"analysis": current} if edited else "approve"
        try:
            candidate = edit_analysis(current, reply)
            reviewed_analysis(original, {"analysis": candidate}, labels)  # the graph's own check
        except ReviewError as e:
            show(f"! {e}")
            continue
        current, edited = {"summary": candidate.get("summary", ""), "weaknesses": candidate.get("weaknesses", [])}, True
        _show_analysis(question["round"], current, show)


def _ask_samples(question: dict[str, Any], read: Read, show: Show) -> object:
    """Show the accepted samples and read which to drop."""
    samples = question["samples"]
    show(f"-- review, round {question['round']}: {len(samples)} accepted samples --")
    for n, s in enumerate(samples, 1):
        show(f"  {n}. {s['id']} {s.get('stance', '')} [{s.get('label') or s.get('entities', '')}] {s['text']}")
    ids = [s["id"] for s in samples]
    while True:
        reply = read("keep all [Enter] · numbers or ids to drop > ").strip()
        if approves(reply):
            return "approve"
        picked = [ids[int(t) - 1] if t.isdigit() and 0 < int(t) <= len(ids) else t for t in re.split(r"[\s,]+", reply)]
        try:
            reviewed_batch([{"id": i, "verdict": "accepted"} for i in ids], {"drop": picked})  # the graph's own check
        except ReviewError as e:
            show(f"! {e}")
            continue
        return {"drop": picked}
