"""Context: the task description the teacher sees, the run folder, and the run flags built from it."""

from __future__ import annotations

import json

import pytest

from evokd.cli.flags import context_from_args, parser
from evokd.services import resolved, services
from evokd.settings import Context, SettingError, setting


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


def test_a_pool_run_defaults_to_random_labelling_unless_flags_say_otherwise(sentiment_dir, tmp_path):
    def ctx(*flags: str) -> Context:
        return context_from_args(parser().parse_args(["run", "--data", str(sentiment_dir), *flags]), tmp_path / "r")

    assert (ctx().per_round, ctx().query) == (8, "uncertainty")  # no pool: the loop's own defaults
    assert (ctx("--pool", "train").per_round, ctx("--pool", "train").query) == (0, "random")
    chosen = ctx("--pool", "train", "--per-round", "2", "--query", "diverse")
    assert (chosen.per_round, chosen.query) == (2, "diverse")
    assert ctx("--pool", "train", "--query", "uncertainty").per_round == 0
    # ... and runs to its budget, as the benchmark's pool methods did: no patience on first rounds of a few texts
    assert (ctx().patience, ctx("--pool", "train").patience, ctx("--pool", "train", "--patience", "2").patience) == (
        3,
        0,
        2,
    )


def test_pool_defaults_are_run_flags_only(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["run", "--help"])
    assert "(default 8; 0 with --pool)" in " ".join(capsys.readouterr().out.split())
    assert "pool" not in setting("per_round").metadata  # the benchmark's own --per-round has no --pool beside it


def test_the_critic_asks_for_the_label_alone_unless_the_run_brings_its_own_critic_prompt():
    assert Context().critic_call() == "label-only"  # the default, by benchmarks/decisions/label-call.md
    assert Context(label_call="json").critic_call() == "json"
    own = "Label for $task, one of $labels: <<<\n$text\n>>>"
    assert Context(critic_prompt=own).critic_call() == "json"  # a prompt written for the JSON call


def test_a_label_batch_needs_the_json_call():
    with pytest.raises(SettingError, match="--label-call json"):
        Context(label_batch=4)
    assert Context(label_batch=4, label_call="json").label_batch == 4


def test_a_pass_runs_the_task_kinds_fewest_steps_unless_the_settings_name_them(sentiment_dir):
    assert Context(task="classification").pass_steps() == 40
    assert Context(task="ner").pass_steps() == 200  # one 40-step pass left wnut16's shots at zero span F1
    assert Context(task="ner", min_steps=12).pass_steps() == 12
    assert Context(task="ner", min_steps=0).pass_steps() == 0
    with pytest.raises(ValueError, match="resolve it first"):
        Context(data=str(sentiment_dir)).pass_steps()
    assert resolved(Context(data=str(sentiment_dir))).pass_steps() == 40
    with pytest.raises(SettingError, match="min-steps"):
        Context(task="ner", min_steps=-2)
