"""Context: the task description the teacher sees, and the run folder."""

from __future__ import annotations

import json

from evokd.cli.flags import context_from_args, parser
from evokd.services import resolved, services
from evokd.settings import Context


def test_describe_prefers_the_flag_then_the_data_card(sentiment_dir):
    assert "Classify" in services(Context(data=str(sentiment_dir))).description
    (sentiment_dir / "card.json").write_text(json.dumps({"task_description": "Is the review positive?"}))
    assert services(Context(data=str(sentiment_dir))).description == "Is the review positive?"
    assert services(Context(data=str(sentiment_dir), task_description="mine")).description == "mine"


def test_run_path_defaults_to_one_folder_per_thread(tmp_path):
    assert str(Context(run_dir=str(tmp_path)).run_path(None)) == str(tmp_path)
    assert Context().run_path({"configurable": {"thread_id": "abc"}}).parts[-2:] == ("studio", "abc")


def test_task_kind_comes_from_the_data_unless_given(sentiment_dir, tmp_path):
    conll = tmp_path / "conll"
    conll.mkdir()
    for split in ("train", "dev", "test"):
        (conll / f"{split}.conll").write_text("Alice\tB-person\nsmiles\tO\n\n")
    assert resolved(Context(data=str(conll))).task == "ner"
    assert resolved(Context(data=str(sentiment_dir))).task == "classification"
    assert resolved(Context(data=str(conll), task="classification")).task == "classification"
    args = parser().parse_args(["run", "--data", str(conll)])
    assert context_from_args(args, tmp_path / "run").task == "ner"  # evokd run needs no --task for NER data
