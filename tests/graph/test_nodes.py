"""The node wrappers of graph/nodes.py, seen through the compiled graph: what each node passes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from evokd.graph.build import build_graph
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher, prompt_of, schema_name
from tests.support.runs import make_context


def analyst_prompts(data: Path, student: Path, run: Path, **over: Any) -> list[str]:
    """The Analyst's prompts in a one-round run with the settings ``over``."""
    with FakeOpenAI(SentimentTeacher()) as server:
        ctx = make_context(data, student, server, run, max_rounds=1, min_steps=1, **over)
        build_graph().compile(checkpointer=InMemorySaver()).invoke(
            {}, {"configurable": {"thread_id": "t"}}, context=ctx
        )
        return [prompt_of(b) for b in server.requests if schema_name(b) == "Analysis"]


def test_dev_feedback_shows_the_analyst_dev_errors(sentiment_dir, tiny_student, tmp_path):
    # The dev texts of sentiment_dir end in "indeed"; train and test texts never do.
    without = analyst_prompts(sentiment_dir, tiny_student, tmp_path / "off", dev_feedback=0)
    with_dev = analyst_prompts(sentiment_dir, tiny_student, tmp_path / "on", dev_feedback=3, protocol="oracle-dev")
    assert without and with_dev  # the Analyst was asked in both runs (not vacuous after a schema rename)
    assert all("indeed" not in p for p in without)
    assert all("indeed" in p.split("RIGHT")[0] for p in with_dev)
