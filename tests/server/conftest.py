"""The `langgraph dev` server the SDK tests talk to: one for the session (starting it imports torch: seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.langgraph_server import langgraph_dev


@pytest.fixture(scope="session")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a `langgraph dev` server running the repo's langgraph.json in a scratch folder."""
    with langgraph_dev(tmp_path_factory.mktemp("studio")) as url:
        yield url
