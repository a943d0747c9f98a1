"""What the CLI prints while and after a run: one line per node update, then the learning curve.

Progress goes to stderr (``console``), so stdout carries only results: the summary table, and the
JSON of ``evokd inspect --json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

console = Console(stderr=True, highlight=False, soft_wrap=True)
_EPOCH_LINE_EVERY = 5.0  # seconds: tiny data runs many one-step epochs, and a line per epoch would flood the terminal
_last_epoch_line = [0.0]


def say(line: str) -> None:
    """A progress line as plain text (names and paths are never read as rich markup)."""
    console.print(line, markup=False)


def show_progress(mode: str, chunk: dict[str, Any]) -> None:
    """One terminal line per node update, and a training line every few seconds and at the end."""
    if mode == "custom":
        if "epoch" in chunk:
            if chunk["epoch"] < chunk["epochs"] and time.monotonic() - _last_epoch_line[0] < _EPOCH_LINE_EVERY:
                return
            _last_epoch_line[0] = time.monotonic()
            console.print(
                f"  round {chunk['round']} · student · epoch {chunk['epoch']}/{chunk['epochs']} "
                f"step {chunk['step']}/{chunk['steps']} loss {chunk['loss']:.4f}"
            )
        elif "warning" in chunk:
            console.print(
                f"  round {chunk['round']} · {chunk['node']} · warning: {chunk['warning']}",
                style="bold yellow",
                markup=False,
            )
        elif "status" in chunk:
            console.print(f"  round {chunk['round']} · {chunk['node']} · {chunk['status']}", style="dim")
        return
    for node, update in chunk.items():
        if not isinstance(update, dict):
            continue
        if node in ("seed", "student") and update.get("history"):
            rec = update["history"][-1]
            console.print(
                f"[bold]round {rec['round']}[/] · student · dev {rec['dev']['score']:.4f} · "
                f"test {rec['test']['score']:.4f} · accepted {rec.get('accepted', 0)} · "
                f"teacher tokens {rec['teacher_tokens']:,}"
            )
        elif node == "critic":
            batch = update.get("batch", [])
            ok = sum(s["verdict"] == "accepted" for s in batch)
            console.print(f"round {batch[0]['round'] if batch else '?'} · critic · {ok}/{len(batch)} accepted")
        elif node == "analyst":
            a = update.get("analysis", {})
            console.print(
                f"round {update.get('round')} · analyst · {len(a.get('weaknesses', []))} weaknesses ({a.get('status')})"
            )
        elif node == "generator":
            console.print(
                f"round {update['batch'][0]['round'] if update.get('batch') else '?'} · generator · "
                f"{sum(s['verdict'] == 'pending' for s in update.get('batch', []))} texts written"
            )
        elif node == "finalize":
            console.print(f"stopped: {update.get('stop_reason')}")


def show_summary(run_dir: Path) -> None:
    """The learning curve and where the run lives."""
    from evokd.agents import shot_check
    from evokd.cli.inspection import score_table
    from evokd.records import read_jsonl
    from evokd.teacher.local import teacher_name

    out = Console(highlight=False)
    out.print(score_table(read_jsonl(run_dir / "rounds.jsonl"), f"learning curve ({run_dir})"))
    settings = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    if name := teacher_name(settings.get("teacher_id", ""), settings.get("teacher_model", "")):
        out.print(f"teacher: {name}")
    summary = run_dir / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        if check := s.get("shot_check"):
            out.print(f"teacher on your shots: {shot_check.summary(check)}")
        out.print(spending(s, settings.get("budget_tokens") or 0))
        if line := fooled_line(s):
            out.print(line)
        out.print(
            f"kept round {s['best_round']} · dev {s['dev']['score']:.4f} · test {s['test']['score']:.4f} "
            f"(seed-only test {s['seed_only']['test']['score']:.4f}) · stop: {s['stop_reason']} · model: {s['model']}"
        )


def fooled_line(summary: dict[str, Any]) -> str | None:
    """How often the accepted generated texts fooled the student before it trained on them, hard and easy apart
    (hard texts are aimed at its weaknesses); None for a run that generated none."""
    if not (summary.get("hard_accepted") or summary.get("easy_accepted")):
        return None
    parts = [
        f"{stance} {summary[f'{stance}_fooled']} of {summary[f'{stance}_accepted']}"
        for stance in ("hard", "easy")
        if summary.get(f"{stance}_accepted")
    ]
    return "generated texts the student got wrong before training on them: " + ", ".join(parts)


def spending(summary: dict[str, Any], budget: int) -> str:
    """What the teacher cost: tokens against the budget, and per accepted pool label and generated text."""
    line = f"teacher tokens: {summary['teacher_tokens']:,}" + (f" of {budget:,}" if budget else "")
    for key, what in (("tokens_per_accepted_pool", "pool label"), ("tokens_per_accepted_generated", "generated text")):
        if summary.get(key) is not None:
            line += f" · {summary[key]:,.0f} per accepted {what}"
    return line
