"""A run checkpointed under the state's older key names (``pool``, ``picks``, ``picked``, as evokd wrote them up
to 05980ff) resumes with all its state and ends as an uninterrupted run does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from evokd.graph.build import build_graph
from evokd.settings import Context
from tests.support.data import NEG, POS, write_file
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher
from tests.support.runs import make_context

# What each key was called in checkpoints written before the rename: the fixture's old format.
OLD_NAMES = {"replay_set": "pool", "pool_picks": "picks", "picked_pool_ids": "picked"}
CFG = {"configurable": {"thread_id": "t"}}


def age(database: Path) -> None:
    """Rewrite every checkpoint and write of a run as the older evokd stored them: the same channels under
    their old names (values, versions, what each node has seen, and each node's writes)."""
    serde = JsonPlusSerializer()
    with sqlite3.connect(database) as db:
        for new, old in OLD_NAMES.items():
            db.execute("UPDATE writes SET channel = ? WHERE channel = ?", (old, new))
        for rowid, kind, blob in db.execute("SELECT rowid, type, checkpoint FROM checkpoints").fetchall():
            cp = serde.loads_typed((kind, blob))
            for names in (cp["channel_values"], cp["channel_versions"], *cp["versions_seen"].values()):
                for new, old in OLD_NAMES.items():
                    if new in names:
                        names[old] = names.pop(new)
            cp["updated_channels"] = [OLD_NAMES.get(c, c) for c in cp.get("updated_channels") or []]
            db.execute(
                "UPDATE checkpoints SET type = ?, checkpoint = ? WHERE rowid = ?", (*serde.dumps_typed(cp), rowid)
            )


def run(ctx: Context, database: Path) -> dict:
    with SqliteSaver.from_conn_string(str(database)) as saver:
        return build_graph().compile(checkpointer=saver).invoke({}, CFG, context=ctx)


def test_a_checkpoint_with_the_old_key_names_resumes_with_its_replay_set_and_picks(
    sentiment_dir, tiny_student, tmp_path
):
    pool = write_file(tmp_path, "pool.txt", "\n".join(POS + NEG) + "\n")
    settings = {"pool": str(pool), "pool_per_round": 2, "query": "random", "concurrency": 1}  # texts in order
    with FakeOpenAI(SentimentTeacher()) as teacher:  # a fresh scripted teacher per run: it numbers its texts
        whole = run(make_context(sentiment_dir, tiny_student, teacher, tmp_path / "a", **settings), tmp_path / "a.db")
    database = tmp_path / "b.db"
    with FakeOpenAI(SentimentTeacher()) as teacher:
        ctx = make_context(sentiment_dir, tiny_student, teacher, tmp_path / "b", **settings)
        with SqliteSaver.from_conn_string(str(database)) as saver:
            paused = build_graph().compile(checkpointer=saver, interrupt_after=["student"]).invoke({}, CFG, context=ctx)
        assert paused["replay_set"] and paused["picked_pool_ids"] and paused["pool_picks"]  # round 1 is done
        age(database)
        with SqliteSaver.from_conn_string(str(database)) as saver:
            app = build_graph().compile(checkpointer=saver)
            old = app.get_state(CFG).values
            assert not old.get("replay_set") and old["pool"] == paused["replay_set"]  # the fixture's old format
            resumed = app.invoke(None, CFG, context=ctx)
    assert resumed["pool"] + resumed["replay_set"] == whole["replay_set"]
    assert resumed["picked"] + resumed["picked_pool_ids"] == whole["picked_pool_ids"]
    assert [r["dev"] for r in resumed["history"]] == [r["dev"] for r in whole["history"]]
    assert resumed["stop_reason"] == whole["stop_reason"]
