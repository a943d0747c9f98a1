"""Swapped prompts through the CLI: the teacher receives them over HTTP and the run folder keeps them;
a bad prompt stops the run before any teacher call."""

from __future__ import annotations

import json

import pytest

from evokd import prompts
from evokd.cli import main
from tests.support.data import CRITIC_PROMPT as CRITIC
from tests.support.data import write_file as write
from tests.support.fake_openai import prompt_of, schema_name
from tests.support.runs import run_args


def test_cli_uses_and_saves_the_swapped_prompt(sentiment_dir, tiny_student, teacher_server, tmp_path):
    analyst = write(tmp_path, "analyst.md", prompts.default("classification", "analyst") + "\nMARKER-ZEBRA")
    folder = write(tmp_path / "set", "critic.md", CRITIC).parent
    out = tmp_path / "run"
    flags = ("--rounds", "1", "--prompt", f"analyst={analyst}", "--prompts", str(folder))
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, *flags)) == 0
    analyst_prompts = [prompt_of(r) for r in teacher_server.requests if schema_name(r) == "Analysis"]
    assert analyst_prompts and all("MARKER-ZEBRA" in p for p in analyst_prompts)
    assert (out / "prompts" / "analyst.md").read_text() == analyst.read_text()
    assert (out / "prompts" / "critic.md").read_text() == CRITIC
    saved = json.loads((out / "run.json").read_text())
    assert saved["analyst_prompt"] == analyst.read_text()
    # A shipped prompt is not a setting (run.json leaves it empty), but the run folder keeps the text it used.
    assert saved["generator_prompt"] == ""
    assert (out / "prompts" / "generator.md").read_text() == prompts.default("classification", "generator")
    # The swapped-in critic prompt is written for the JSON call, so the Critic uses that call.
    assert any(schema_name(r) == "LabelVerdict" for r in teacher_server.requests)


def test_a_cli_run_with_the_shipped_prompts_labels_with_the_label_only_call(
    sentiment_dir, tiny_student, teacher_server, tmp_path
):
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "1")) == 0
    plain = [r for r in teacher_server.requests if "response_format" not in r]
    assert plain and not any(schema_name(r) == "LabelVerdict" for r in teacher_server.requests)
    assert all(r["messages"][0]["content"] == "Answer with one of: negative, positive" for r in plain)
    assert json.loads((out / "run.json").read_text())["critic_prompt"] == ""


@pytest.mark.parametrize("flag", ["--prompt critic={bad}", "--prompt critic", "--prompts {missing}"])
def test_cli_bad_prompt_exits_2_before_any_call(flag, sentiment_dir, tiny_student, teacher_server, tmp_path, capsys):
    bad = write(tmp_path, "bad.md", "Label $text as $sentiment.")
    out = tmp_path / "run"
    flags = flag.format(bad=bad, missing=tmp_path / "missing").split()
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, *flags)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evokd: error:") and len(err.splitlines()) == 1
    assert not out.exists() and not teacher_server.requests
