"""``evokd inspect RUN_DIR``: a run read back from its checkpoint database, finished or paused.

The SQLite checkpoints hold every state the graph passed through, so a run folder alone gives back
each round's metrics, the analysis in force (after any human edit), every sample with its lineage
(request, weakness, label, verdict and reason, the student's prediction before training on it) and
where a stopped run would continue. `load_run` gathers that once; `show` prints it as tables and
`to_json` returns it as plain data (the report builds on the same view).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evokd.task import Task
from evokd.tasks import TaskAdapter, adapter_for

if TYPE_CHECKING:  # only for annotations: langchain is imported when a checkpoint is read
    from langchain_core.runnables import RunnableConfig


class RunNotFound(ValueError):
    """The folder is not a run made by ``evokd run``."""


@dataclass
class RunView:
    """What a run folder holds, gathered from its checkpoints and run files."""

    run_dir: str
    thread_id: str
    task: dict[str, object]
    rounds: list[dict[str, Any]] = field(default_factory=list)  # one RoundRecord per finished round
    analyses: dict[int, dict[str, Any]] = field(default_factory=dict)  # round -> the analysis in force
    samples: list[dict[str, Any]] = field(default_factory=list)  # every generated sample, latest version
    summary: dict[str, Any] | None = None  # summary.json's content once the run finished
    next: list[str] = field(default_factory=list)  # nodes a resumed run would run next ([] = finished)
    waiting: list[dict[str, Any]] = field(default_factory=list)  # review questions waiting for a reply
    settings: dict[str, Any] = field(default_factory=dict)  # run.json
    prompts: dict[str, str] = field(default_factory=dict)  # agent -> prompt text used
    checkpoints: int = 0

    @property
    def adapter(self) -> TaskAdapter:
        """The run's task adapter: how its labels and predictions read."""
        return adapter_for(Task.from_dict(self.task))

    @property
    def metric(self) -> str:
        """The task's selection metric (macro_f1 or span_f1)."""
        return self.adapter.metric

    def status(self) -> str:
        """Finished (and why), paused at a review, or stopped before a node."""
        if self.waiting:
            q = self.waiting[0]
            return (
                f"paused: waiting for a review of the {q['review']} (round {q['round']}); "
                f"answer with 'evokd resume {self.run_dir}'"
            )
        if self.next:
            return f"stopped before {', '.join(self.next)}; continue with 'evokd resume {self.run_dir}'"
        return f"finished: {(self.summary or {}).get('stop_reason', '?')}"


def load_run(run_dir: str | Path) -> RunView:
    """Read a run folder's checkpoints (every state it passed through) and its run files."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from evokd.graph.build import build_graph

    run = Path(run_dir)
    db = run / "checkpoints.sqlite"
    if not db.is_file():
        raise RunNotFound(f"{run}: no checkpoints.sqlite here; give a folder made by 'evokd run'")
    with SqliteSaver.from_conn_string(str(db)) as saver:
        latest = next(iter(saver.list(None, limit=1)), None)
        if latest is None:
            raise RunNotFound(f"{run}: the checkpoint database is empty")
        thread = str(latest.config["configurable"]["thread_id"])  # whatever the folder is called now
        cfg: RunnableConfig = {"configurable": {"thread_id": thread}}
        app = build_graph().compile(checkpointer=saver)
        state = app.get_state(cfg)
        snapshots = list(app.get_state_history(cfg))[::-1]  # oldest first: later versions overwrite
    analyses: dict[int, dict[str, Any]] = {}
    samples: dict[str, dict[str, Any]] = {}
    for snap in snapshots:
        if snap.values.get("round") and snap.values.get("analysis"):
            analyses[int(snap.values["round"])] = snap.values["analysis"]
        for s in snap.values.get("batch", []):
            samples[s["id"]] = s
    settings_file = run / "run.json"
    return RunView(
        run_dir=str(run),
        thread_id=thread,
        task=state.values.get("task", {"kind": "classification", "labels": []}),
        rounds=list(state.values.get("history", [])),
        analyses=analyses,
        samples=sorted(samples.values(), key=lambda s: (s["round"], int(s["id"].rsplit("-", 1)[-1]))),
        summary=state.values.get("summary"),
        next=list(state.next),
        waiting=[i.value for i in state.interrupts],
        settings=json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.exists() else {},
        prompts={p.stem: p.read_text(encoding="utf-8") for p in sorted((run / "prompts").glob("*.md"))},
        checkpoints=len(snapshots),
    )


def to_json(view: RunView, only_round: int | None = None) -> dict[str, Any]:
    """The view as plain data, optionally limited to one round."""
    data = asdict(view)
    if only_round is not None:
        data["rounds"] = [r for r in view.rounds if r["round"] == only_round]
        data["analyses"] = {k: v for k, v in view.analyses.items() if k == only_round}
        data["samples"] = [s for s in view.samples if s["round"] == only_round]
    data["status"] = view.status()
    return data


def rejected_text(record: dict[str, Any]) -> str:
    """Rejections of a round as 'total (reason n, ...)'."""
    by_reason = record.get("rejected", {})
    total = sum(by_reason.values())
    return f"{total} ({', '.join(f'{k} {v}' for k, v in sorted(by_reason.items()))})" if total else "0"


def per_accepted_text(record: dict[str, Any]) -> str:
    """Teacher tokens per accepted sample, 'pool · generated' ('-' where none was accepted)."""

    def shown(value: object) -> str:
        return "-" if value is None else f"{float(value):.0f}"  # type: ignore[arg-type]

    return f"{shown(record.get('tokens_per_accepted_pool'))} · {shown(record.get('tokens_per_accepted_generated'))}"


def lineage(sample: dict[str, Any]) -> str:
    """Where a sample came from and what judged it: source, query score, teacher confidence, noise verdict."""
    parts = [str(sample.get("source", "generated"))]
    if sample.get("query_score") is not None:
        parts.append(f"query {sample['query_score']:.2f}")
    if sample.get("teacher_confidence") is not None:
        parts.append(f"teacher p {sample['teacher_confidence']:.2f}")
    if sample.get("noise"):
        parts.append(str(sample["noise"]))
    return ", ".join(parts)


def agreement_text(record: dict[str, Any]) -> str:
    """The share of the round's accepted samples the student, before training on them, labelled as the teacher
    did (`RoundRecord.fresh_agreement`, the few-shot protocol's decision score; '-' where none)."""
    agreement = record.get("fresh_agreement")
    return "-" if agreement is None else f"{float(agreement):.0%}"


def score_table(rounds: list[dict[str, Any]], title: str) -> Table:
    """Per round: dev/test score, samples accepted (from the pool) and rejected, the student's agreement with the
    teacher on them before training, teacher tokens (in all, and per accepted pool and generated sample),
    seconds (inspect and run's summary)."""
    table = Table(title=title)
    for col in (
        "round",
        "dev",
        "test",
        "accepted (hard/easy/pool)",
        "rejected",
        "agrees with teacher",
        "teacher tokens",
        "tokens/accepted (pool · gen)",
        "seconds",
    ):
        table.add_column(col, justify="right")
    for r in rounds:
        accepted = f"{r.get('hard_accepted', 0)}/{r.get('easy_accepted', 0)}/{r.get('pool_accepted', 0)}"
        table.add_row(
            str(r["round"]),
            f"{r['dev']['score']:.4f}",
            f"{r['test']['score']:.4f}",
            f"{r.get('accepted', 0)} ({accepted})",
            rejected_text(r),
            agreement_text(r),
            f"{r.get('teacher_tokens', 0):,}",
            per_accepted_text(r),
            f"{sum(n.get('seconds', 0) for n in r.get('nodes', {}).values()):.1f}",
        )
    return table


def per_label(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A round's dev scores per label (classification) or per entity type (NER)."""
    dev = record["dev"]
    return dev.get("per_label") or dev.get("per_type") or {}


def label_table(view: RunView) -> Table:
    """Dev F1 per label (per entity type for NER), one column per round."""
    table = Table(title=f"dev F1 per {view.adapter.label_noun}")
    table.add_column("label")
    for r in view.rounds:
        table.add_column(f"r{r['round']}", justify="right")
    for label in Task.from_dict(view.task).labels:
        table.add_row(label, *(f"{per_label(r).get(label, {}).get('f1', 0.0):.3f}" for r in view.rounds))
    return table


def sample_table(samples: list[dict[str, Any]], adapter: TaskAdapter) -> Table:
    """Every sample with its lineage: source (and query score, teacher confidence, noise verdict), request, target
    weakness, label, verdict, prediction, text."""
    table = Table(title=f"samples ({len(samples)})")
    for col in ("id", "source", "stance", "weakness", "requested", "label", "verdict", "student said", "text"):
        table.add_column(col, overflow="fold")
    for s in samples:
        verdict = s.get("verdict", "")
        cells = (
            s["id"],
            lineage(s),
            s.get("stance", ""),
            s.get("weakness", ""),
            str(s.get("requested", "")),
            adapter.show_label(s),
            f"{verdict} ({s['reason']})" if s.get("reason") else verdict,
            adapter.show_prediction(s),
            s.get("text", ""),
        )
        table.add_row(*map(Text, cells))  # Text: generated text is never read as rich markup
    return table


def show(view: RunView, only_round: int | None, console: Console) -> None:
    """Print the run: status, scores, per-label scores, analyses and samples (one round or all)."""
    labels = ", ".join(Task.from_dict(view.task).labels)
    console.print(
        f"[bold]{escape(view.run_dir)}[/] · {view.task.get('kind')} ({escape(labels)}) · {view.checkpoints} checkpoints"
    )
    console.print(view.status(), markup=False)
    if view.rounds:
        console.print(score_table(view.rounds, f"rounds ({view.metric})"))
        console.print(label_table(view))
    for rnd, analysis in sorted(view.analyses.items()):
        if only_round is not None and rnd != only_round:
            continue
        review = f", {analysis['review']} by a reviewer" if analysis.get("review") else ""
        console.print(f"[bold]round {rnd} analysis[/] ({analysis.get('status', 'ok')}{review})")
        console.print(f"  {analysis.get('summary', '')}", markup=False)
        for w in analysis.get("weaknesses", []):
            console.print(f"  - [{w['label']}] {w['pattern']}", markup=False)
    samples = [s for s in view.samples if only_round is None or s["round"] == only_round]
    if samples:
        console.print(sample_table(samples, view.adapter))
    for q in view.waiting:
        console.print(f"waiting for a reply: {q.get('how', '')}", markup=False)
