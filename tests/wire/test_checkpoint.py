"""Checkpointers: SQLite in the run folder by default, and a run that resumes from a real PostgreSQL server."""

from __future__ import annotations

import pytest
from langgraph.types import Command

from evokd.checkpoint import CheckpointError, open_checkpointer
from evokd.graph.build import build_graph
from evokd.records import read_jsonl
from evokd.teacher.local import free_port
from tests.support.postgres import postgres_server
from tests.support.runs import make_context


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server(free_port()) as url:
        yield url


def test_a_run_paused_on_one_connection_resumes_from_postgres_on_another(
    postgres_url, sentiment_dir, tiny_student, teacher_server, tmp_path
):
    run = tmp_path / "run"
    ctx = make_context(sentiment_dir, tiny_student, teacher_server, run, max_rounds=1, review=("analysis",))
    cfg = {"configurable": {"thread_id": "cell-1"}}
    with open_checkpointer(postgres_url, run) as saver:  # "node A": seed pass and analyst, then the review pause
        app = build_graph().compile(checkpointer=saver)
        app.invoke({}, cfg, context=ctx)
        assert app.get_state(cfg).interrupts
    assert not (run / "checkpoints.sqlite").exists()
    with open_checkpointer(postgres_url, run) as saver:  # "node B": a fresh connection continues the same thread
        app = build_graph().compile(checkpointer=saver)
        assert app.get_state(cfg).values["round"] == 1
        out = app.invoke(Command(resume="approve"), cfg, context=ctx)
    assert out["stop_reason"] == "max_rounds"
    assert [r["round"] for r in read_jsonl(run / "rounds.jsonl")] == [0, 1]


def test_default_is_sqlite_in_the_run_folder(tmp_path):
    with open_checkpointer("", tmp_path) as saver:
        assert type(saver).__name__ == "SqliteSaver"
    assert (tmp_path / "checkpoints.sqlite").exists()


def test_bad_checkpointer_settings_are_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="give postgresql://"), open_checkpointer("mysql://x", tmp_path):
        pass
    with (
        pytest.raises(CheckpointError, match="cannot use the PostgreSQL server"),
        open_checkpointer(f"postgresql://evokd@127.0.0.1:{free_port()}/postgres?connect_timeout=2", tmp_path),
    ):
        pass


def test_the_cli_runs_and_resumes_on_postgres_without_writing_its_url(
    postgres_url, sentiment_dir, tiny_student, teacher_server, tmp_path
):
    from evokd.cli import main
    from tests.support.runs import run_args

    out = tmp_path / "run"
    args = run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "1")
    assert main([*args, "--checkpointer", postgres_url]) == 0
    assert not (out / "checkpoints.sqlite").exists()
    assert all(postgres_url not in f.read_text(errors="ignore") for f in out.rglob("*.json"))
    assert main(["resume", str(out), "--teacher-url", teacher_server.url]) == 2  # it needs its server again
    before = (out / "rounds.jsonl").read_text()
    assert main(["resume", str(out), "--teacher-url", teacher_server.url, "--checkpointer", postgres_url]) == 0
    assert (out / "rounds.jsonl").read_text() == before  # finished: found on the server, nothing redone
