"""A Teacher over langchain's fake chat model: scripted replies in-process, for the agents' plain functions."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from evokd.teacher.client import Teacher


def scripted_teacher(*replies: str, **settings: Any) -> Teacher:
    """A Teacher whose chat model answers with ``replies`` in turn (no HTTP); ``settings`` go to `Teacher`."""
    return Teacher(FakeListChatModel(responses=list(replies)), concurrency=1, **settings)
