"""Swappable prompts: files with named placeholders, checked before any teacher call, from the CLI, the SDK or Studio."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from evokd import prompts
from evokd.cli import main
from evokd.settings import Context
from evokd.prompts import PromptError
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher, prompt_of, schema_name
from tests.test_cli import run_args
from tests.test_graph import make_context

pytest_plugins = ["tests.langgraph_server"]

CRITIC = "Label this for $task, one of $labels:\n<<<\n$text\n>>>\nReply with JSON."  # <<< >>>: where the scripted teacher looks


def write(folder: Path, name: str, text: str) -> Path:
    """Write a prompt file and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_and_unknown_placeholders_are_named(tmp_path):
    with pytest.raises(PromptError, match=r"critic prompt must use \$text"):
        prompts.load("classification", {"critic": str(write(tmp_path, "c.md", "Label $task with $labels."))})
    with pytest.raises(PromptError, match=r"unknown placeholder\(s\) \$mood .*allowed: \$labels, \$task, \$text"):
        prompts.load("classification", {"critic": str(write(tmp_path, "c.md", CRITIC + " $mood"))})
    with pytest.raises(PromptError, match="unknown agent 'judge'"):
        prompts.load("classification", {"judge": str(write(tmp_path, "c.md", CRITIC))})


def test_literal_dollar_must_be_doubled(tmp_path):
    with pytest.raises(PromptError, match=r"write '\$\$' for a literal dollar sign"):
        prompts.load("classification", {"critic": str(write(tmp_path, "c.md", CRITIC + " Costs $5."))})
    text = prompts.load("classification", {"critic": str(write(tmp_path, "c.md", CRITIC + " Costs $$5."))})["critic"]
    assert prompts.render(text, task="t", labels="a, b", text="x $labels").endswith("x $labels\n>>>\nReply with JSON. Costs $5.")


def test_unreadable_files_and_folders_fail_clearly(tmp_path):
    with pytest.raises(PromptError, match="cannot read prompt"):
        prompts.load("classification", {"critic": str(tmp_path / "missing.md")})
    (tmp_path / "latin1.md").write_bytes("caf\xe9 $task $labels $text".encode("latin-1"))
    with pytest.raises(PromptError, match="UTF-8"):
        prompts.load("classification", {"critic": str(tmp_path / "latin1.md")})
    with pytest.raises(PromptError, match="not a folder"):
        prompts.load("classification", directory=str(tmp_path / "nowhere"))
    with pytest.raises(PromptError, match="no analyst.md"):
        prompts.load("classification", directory=str(tmp_path))


def test_override_precedence(tmp_path):
    write(tmp_path / "set", "analyst.md", prompts.default("classification", "analyst") + "\nFROM-DIR")
    write(tmp_path / "set", "critic.md", CRITIC)
    single = write(tmp_path, "mine.md", prompts.default("classification", "analyst") + "\nFROM-FLAG")
    texts = prompts.load("classification", {"analyst": str(single)}, str(tmp_path / "set"))
    assert texts["analyst"].endswith("FROM-FLAG")  # --prompt beats --prompts
    assert texts["critic"] == CRITIC  # --prompts beats the shipped prompt
    assert texts["generator"] == prompts.default("classification", "generator")
    # A copy of the shipped prompts/ folder (one subfolder per task) works too.
    shutil.copytree(prompts.default_path("classification", "critic").parents[1], tmp_path / "copy", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    write(tmp_path / "copy", "classification/critic.md", CRITIC)
    assert prompts.load("classification", directory=str(tmp_path / "copy"))["critic"] == CRITIC


def test_context_rejects_a_bad_prompt_or_review():
    with pytest.raises(PromptError, match="context field analyst_prompt"):
        Context(analyst_prompt="Find the mistakes.")
    with pytest.raises(ValueError, match="review: unknown later"):
        Context(review=("analysis", "later"))


def test_cli_uses_and_saves_the_swapped_prompt(sentiment_dir, tiny_student, teacher_server, tmp_path):
    analyst = write(tmp_path, "analyst.md", prompts.default("classification", "analyst") + "\nMARKER-ZEBRA")
    folder = write(tmp_path / "set", "critic.md", CRITIC).parent
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "1",
                         "--prompt", f"analyst={analyst}", "--prompts", str(folder))) == 0
    assert all("MARKER-ZEBRA" in prompt_of(r) for r in teacher_server.requests if schema_name(r) == "Analysis")
    assert (out / "prompts" / "analyst.md").read_text() == analyst.read_text()
    assert (out / "prompts" / "critic.md").read_text() == CRITIC
    saved = json.loads((out / "run.json").read_text())
    assert saved["analyst_prompt"] == analyst.read_text() and saved["generator_prompt"] == prompts.default("classification", "generator")


@pytest.mark.parametrize("flag", ["--prompt critic={bad}", "--prompt critic", "--prompts {missing}"])
def test_cli_bad_prompt_exits_2_before_any_call(flag, sentiment_dir, tiny_student, teacher_server, tmp_path, capsys):
    bad = write(tmp_path, "bad.md", "Label $text as $sentiment.")
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out,
                         *flag.format(bad=bad, missing=tmp_path / "missing").split())) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evokd: error:") and len(err.splitlines()) == 1
    assert not out.exists() and not teacher_server.requests


@pytest.mark.server
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

        broken = client.assistants.create("evokd", context={**ctx, "critic_prompt": "Label $text as $sentiment."}, name="broken")
        thread = client.threads.create()["thread_id"]
        before = len(teacher.requests)
        result = client.runs.wait(thread, broken["assistant_id"], input={}, raise_error=False)
        assert "unknown placeholder(s) $sentiment" in json.dumps(result)
        assert len(teacher.requests) == before  # failed before the first teacher call
