"""A prompt set on a LangGraph assistant through the SDK reaches the teacher; a bad one fails before any call."""

from __future__ import annotations

import dataclasses
import json

from langgraph_sdk import get_sync_client

from evokd import prompts
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher, prompt_of, schema_name
from tests.support.runs import make_context


def test_sdk_assistant_prompt_reaches_the_teacher(studio_url, sentiment_dir, tiny_student, tmp_path):
    client = get_sync_client(url=studio_url)
    with FakeOpenAI(SentimentTeacher()) as teacher:
        ctx = dataclasses.asdict(make_context(sentiment_dir, tiny_student, teacher, tmp_path / "run", max_rounds=1))
        custom = prompts.default("classification", "generator") + "\nMARKER-OKAPI"
        variant = client.assistants.create("evokd", context={**ctx, "generator_prompt": custom}, name="okapi")
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, variant["assistant_id"], input={}, interrupt_after=["generator"])
        generated = [prompt_of(r) for r in teacher.requests if schema_name(r) == "GeneratedText"]
        assert generated and all("MARKER-OKAPI" in p for p in generated)

        broken = client.assistants.create(
            "evokd", context={**ctx, "critic_prompt": "Label $text as $sentiment."}, name="broken"
        )
        thread = client.threads.create()["thread_id"]
        before = len(teacher.requests)
        result = client.runs.wait(thread, broken["assistant_id"], input={}, raise_error=False)
        assert "unknown placeholder(s) $sentiment" in json.dumps(result)
        assert len(teacher.requests) == before  # failed before the first teacher call
