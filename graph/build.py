"""Wiring: the EvoKD state machine, built once and compiled by whoever runs it.

``graph`` (compiled without a checkpointer) is what ``langgraph.json`` exposes to ``langgraph dev``
and Studio; the CLI compiles the same builder with a SQLite checkpointer in the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from langgraph.graph import END, START, StateGraph

from evokd.graph.nodes import analyst, critic, generator, selector
from evokd.graph.review import review_analysis, review_samples
from evokd.graph.routing import after_selector, route
from evokd.graph.student_nodes import finalize, seed, shot_check, student
from evokd.settings import Context
from evokd.state import State

# The builder's type with its state and context schemas (a bare `StateGraph` means no context schema to mypy).
GraphBuilder: TypeAlias = StateGraph[State, Context, State, State]


@dataclass(frozen=True)
class RoundWriter:
    """A node that stands in for part of the loop: a round's writer (in place of the Analyst, its review and
    the Generator) or the first round (in place of the seed pass)."""

    name: str
    node: Callable[..., dict[str, object]]
    """Takes the state and ``runtime`` (and ``config`` where it needs the run folder), as langgraph passes them."""
    description: str


def build_graph(writer: RoundWriter | None = None, first: RoundWriter | None = None) -> GraphBuilder:
    """seed -> shot_check -> ([selector ->] analyst -> review_analysis -> generator -> critic -> review_samples
    -> student)* -> finalize.

    The selector runs only with a pool (`Context.pool`); with ``per_round`` 0 it goes straight to the Critic
    (pure active labelling). The review nodes pause only when `Context.review` asks for it. A ``writer``
    (the benchmark's feedback-free baselines) replaces the Analyst, its review and the Generator; a ``first``
    node (the benchmark's SetFit) replaces the seed pass.
    """
    builder: GraphBuilder = StateGraph(State, context_schema=Context)
    # The seed, student, selector and finalize nodes take both `runtime` and `config`, which langgraph passes at run
    # time but its add_node overloads do not describe: hence their arg-type ignores.
    first = first or RoundWriter(
        "seed", seed, "Sample the k-shot seeds, train the student on them alone, evaluate: round 0."
    )
    builder.add_node(first.name, first.node, metadata={"description": first.description})
    builder.add_node(
        "shot_check",
        shot_check,
        metadata={"description": "Teacher labels the shots: how often it agrees with your labels (budget-charged)."},
    )
    builder.add_node(
        "student",
        student,  # type: ignore[arg-type]
        metadata={"description": "Predict the new batch, train on it with replay, score dev and test."},
    )
    builder.add_node(
        "selector",
        selector,  # type: ignore[arg-type]
        metadata={
            "description": "With a pool: the student scores unlabelled texts "
            "and picks the ones the teacher labels (uncertainty, diverse or random)."
        },
    )
    if writer is None:
        builder.add_node(
            "analyst", analyst, metadata={"description": "Teacher reads the student's wrong and right predictions."}
        )
        builder.add_node(
            "review_analysis",
            review_analysis,
            metadata={"description": "Optional: a person approves or edits the analysis."},
        )
        builder.add_node(
            "generator",
            generator,
            metadata={"description": "Teacher writes hard and easy texts aimed at the weaknesses."},
        )
        builder.add_edge("analyst", "review_analysis")
        builder.add_edge("review_analysis", "generator")
        builder.add_edge("generator", "critic")
        opens = "analyst"
    else:
        builder.add_node(writer.name, writer.node, metadata={"description": writer.description})
        builder.add_edge(writer.name, "critic")
        opens = writer.name
    builder.add_node(
        "critic", critic, metadata={"description": "Teacher labels each text separately; bad ones are rejected."}
    )
    builder.add_node(
        "review_samples", review_samples, metadata={"description": "Optional: a person drops accepted samples."}
    )
    builder.add_node(
        "finalize",
        finalize,  # type: ignore[arg-type]
        metadata={"description": "Keep the kept round's student (few-shot: the last) and write summary.json."},
    )
    builder.add_edge(START, first.name)
    builder.add_edge(first.name, "shot_check")
    builder.add_edge("critic", "review_samples")
    builder.add_edge("review_samples", "student")
    for after in ("shot_check", "student"):
        builder.add_conditional_edges(after, route, {"selector": "selector", "analyst": opens, "finalize": "finalize"})
    builder.add_conditional_edges("selector", after_selector, {"analyst": opens, "critic": "critic"})
    builder.add_edge("finalize", END)
    return builder


graph = build_graph().compile(name="evokd")


def mermaid_page() -> str:
    """docs/graph.md: the compiled graph as Mermaid, drawn from the code so the picture cannot drift."""
    drawing = graph.get_graph().draw_mermaid()
    return (
        "# The graph, as compiled\n\n"
        "Drawn by `python -m evokd.graph.build` from the compiled graph (`graph.get_graph().draw_mermaid()`);\n"
        "a test redraws it and fails when this page differs. Dotted edges are the routing decisions.\n\n"
        f"```mermaid\n{drawing.strip()}\n```\n"
    )


if __name__ == "__main__":
    Path(__file__).resolve().parents[1].joinpath("docs", "graph.md").write_text(mermaid_page(), encoding="utf-8")
