"""Stepwise inspection through `langgraph dev` and the SDK, offline: what Studio does, done by a test.

The server runs the repo's langgraph.json as a subprocess; its nodes reach the scripted teacher
(in this process) and the tiny student through the run's context.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from langgraph_sdk import get_sync_client

from tests.support.fake_openai import FakeOpenAI, SentimentTeacher, is_label_only, prompt_of, schema_name, user_turn
from tests.support.runs import make_context

AGENTS = ["analyst", "generator", "critic"]


def studio_context(data: Path, student: Path, teacher: FakeOpenAI, run: Path, **overrides: object) -> dict:
    """A one-round run's context as JSON, the way Studio's form or an assistant sends it."""
    return dataclasses.asdict(make_context(data, student, teacher, run, max_rounds=1, **overrides))


def prompts_for(teacher: FakeOpenAI, kind: str) -> list[str]:
    """Every prompt the teacher got for one reply model."""
    return [prompt_of(r) for r in teacher.requests if schema_name(r) == kind]


def test_schemas_describe_nodes_state_and_context(studio_url):
    client = get_sync_client(url=studio_url)
    assistant = client.assistants.search(graph_id="evokd")[0]["assistant_id"]
    schemas = client.assistants.get_schemas(assistant)
    assert all(field.get("description") for field in schemas["input_schema"]["properties"].values())
    context = schemas["context_schema"]["properties"]
    assert all(field.get("description") for field in context.values())
    assert context["analyst_prompt"]["langgraph_type"] == "prompt" and context["analyst_prompt"]["langgraph_nodes"] == [
        "analyst"
    ]
    nodes = {n["id"]: n.get("metadata") or {} for n in client.assistants.get_graph(assistant)["nodes"]}
    assert {*AGENTS, "seed", "student", "review_analysis", "review_samples", "finalize"} <= set(nodes)
    assert all(nodes[n].get("description") for n in nodes if not n.startswith("__"))


def test_breakpoints_edit_resume_and_fork(studio_url, sentiment_dir, tiny_student, tmp_path):
    client = get_sync_client(url=studio_url)
    with FakeOpenAI(SentimentTeacher()) as teacher:
        ctx = studio_context(sentiment_dir, tiny_student, teacher, tmp_path / "run")
        tid = client.threads.create()["thread_id"]

        def step(**kwargs: object) -> dict:
            """Run until the next agent has finished; return the thread's state."""
            client.runs.wait(tid, "evokd", context=ctx, interrupt_after=AGENTS, **kwargs)
            return client.threads.get_state(tid)

        state = step(input={})  # seed training, then the Analyst
        assert state["next"] == ["review_analysis"]
        assert state["values"]["analysis"]["summary"] == "It misses mild wording."
        edited = {
            "summary": "Edited in Studio.",
            "weaknesses": [{"label": "positive", "pattern": "understated praise"}],
        }
        client.threads.update_state(tid, {"analysis": edited})
        assert client.threads.get_state(tid)["values"]["analysis"] == edited

        state = step(input=None)  # the Generator writes from the edited analysis
        assert state["next"] == ["critic"]
        batch = state["values"]["batch"]
        assert len(batch) == 4 and all(s["verdict"] == "pending" for s in batch)
        assert all("understated praise" in p for p in prompts_for(teacher, "GeneratedText"))
        batch[0]["text"] = "a good great lovely film edited by hand"
        client.threads.update_state(tid, {"batch": batch})

        state = step(input=None)  # the Critic labels the edited batch
        assert state["next"] == ["review_samples"]
        assert state["values"]["batch"][0]["verdict"] == "accepted"
        labelled = [user_turn(r) for r in teacher.requests if is_label_only(r)]  # the default, label-only call
        assert any("edited by hand" in t for t in labelled)

        parts = list(client.runs.stream(tid, "evokd", input=None, context=ctx, stream_mode=["updates", "custom"]))
        epochs = [p.data for p in parts if p.event == "custom" and "epoch" in p.data]
        assert epochs and all({"round", "epoch", "epochs", "loss"} <= set(e) for e in epochs)
        final = client.threads.get_state(tid)
        assert final["next"] == [] and final["values"]["stop_reason"] == "max_rounds"

        # Time travel: from the checkpoint before the Generator, fork with another analysis.
        history = client.threads.get_history(tid, limit=100)
        before_generator = next(h for h in history if h["next"] == ["generator"])
        forked = {
            "summary": "A forked branch.",
            "weaknesses": [{"label": "negative", "pattern": "polite disappointment"}],
        }
        fork = client.threads.update_state(
            tid,
            {"analysis": forked},
            as_node="review_analysis",
            checkpoint_id=before_generator["checkpoint"]["checkpoint_id"],
        )
        client.runs.wait(
            tid,
            "evokd",
            input=None,
            context=ctx,
            interrupt_after=["generator"],
            checkpoint_id=fork["checkpoint"]["checkpoint_id"],
        )
        branch = client.threads.get_state(tid)
        assert branch["next"] == ["critic"] and branch["values"]["analysis"]["summary"] == "A forked branch."
        assert any("polite disappointment" in p for p in prompts_for(teacher, "GeneratedText")[-4:])
        # The original branch is still in the history.
        assert any(h["values"].get("stop_reason") == "max_rounds" for h in client.threads.get_history(tid, limit=100))


def test_review_answered_through_the_api(studio_url, sentiment_dir, tiny_student, tmp_path):
    client = get_sync_client(url=studio_url)
    with FakeOpenAI(SentimentTeacher()) as teacher:
        ctx = studio_context(sentiment_dir, tiny_student, teacher, tmp_path / "run", review=["samples"])
        tid = client.threads.create()["thread_id"]
        client.runs.wait(tid, "evokd", input={}, context=ctx)
        state = client.threads.get_state(tid)
        question = state["interrupts"][0]["value"]
        assert state["next"] == ["review_samples"] and question["review"] == "samples"
        dropped = question["samples"][0]["id"]
        client.runs.wait(tid, "evokd", command={"resume": {"drop": [dropped]}}, context=ctx)
        final = client.threads.get_state(tid)["values"]
        assert final["stop_reason"] == "max_rounds"
        assert final["history"][-1]["rejected"].get("dropped_by_reviewer") == 1
