"""The benchmark's methods are the product's graph: one builder, with a writer or a first round swapped in."""

from __future__ import annotations

import json

from langgraph.checkpoint.memory import InMemorySaver

from evokd.bench.methods import methods
from evokd.graph.build import build_graph
from evokd.records import read_jsonl
from tests.support.runs import make_context


def nodes_of(builder) -> set[str]:
    return set(builder.compile().get_graph().nodes) - {"__start__", "__end__"}


def test_every_method_runs_the_products_graph_with_at_most_two_nodes_swapped():
    product = nodes_of(build_graph())
    for name, method in methods(per_round=2).items():
        swapped = nodes_of(method.graph()) ^ product
        if name == "setfit":
            assert swapped == {"seed", "setfit"}, name
        elif name in ("static", "rephrase"):
            assert swapped == {"analyst", "review_analysis", "generator", name}, name
        else:
            assert not swapped, name


def test_setfit_runs_as_the_first_round_and_the_loops_final_node_keeps_it(
    sentiment_dir, tiny_student, teacher_server, tmp_path
):
    run = tmp_path / "run"
    ctx = make_context(sentiment_dir, tiny_student, teacher_server, run, max_rounds=0, budget_tokens=0)
    app = methods(per_round=2)["setfit"].graph().compile(checkpointer=InMemorySaver())
    out = app.invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)
    (record,) = read_jsonl(run / "rounds.jsonl")
    # The round is the accounting module's: every field a loop round has, no teacher tokens.
    assert record["round"] == 0 and record["teacher_tokens"] == 0 and record["pool_accepted"] == 0
    assert record["tokens_per_accepted_generated"] is None and set(record["nodes"]) == {"setfit"}
    summary = json.loads((run / "summary.json").read_text())
    assert out["stop_reason"] == "max_rounds" and summary["best_round"] == 0
    assert summary["test"] == record["test"] and (run / "model" / "README.md").exists()
    assert not teacher_server.requests
