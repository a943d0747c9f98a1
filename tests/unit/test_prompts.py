"""Swappable prompts: files with named placeholders, checked when loaded and when a Context is made.

The CLI's use of them is in tests/wire/test_prompts_over_http.py, the SDK's in tests/server/test_assistant_prompts.py.
"""

from __future__ import annotations

import re
import shutil

import pytest

from evokd import prompts
from evokd.data.registry import DATASETS
from evokd.prompts import PromptError
from evokd.settings import Context
from tests.support.data import CRITIC_PROMPT as CRITIC
from tests.support.data import write_file as write


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
    assert prompts.render(text, task="t", labels="a, b", text="x $labels").endswith(
        "x $labels\n>>>\nReply with JSON. Costs $5."
    )


def test_unreadable_files_and_folders_fail_clearly(tmp_path):
    with pytest.raises(PromptError, match="cannot read prompt"):
        prompts.load("classification", {"critic": str(tmp_path / "missing.md")})
    (tmp_path / "latin1.md").write_bytes("caf\xe9 $task $labels $text".encode("latin-1"))
    with pytest.raises(PromptError, match="UTF-8"):
        prompts.load("classification", {"critic": str(tmp_path / "latin1.md")})
    with pytest.raises(PromptError, match="not a folder"):
        prompts.load("classification", directory=str(tmp_path / "nowhere"))
    with pytest.raises(PromptError, match=r"no analyst\.md"):
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
    shutil.copytree(
        prompts.default_path("classification", "critic").parents[1],
        tmp_path / "copy",
        ignore=shutil.ignore_patterns("*.py", "__pycache__"),
    )
    write(tmp_path / "copy", "classification/critic.md", CRITIC)
    assert prompts.load("classification", directory=str(tmp_path / "copy"))["critic"] == CRITIC


def test_context_rejects_a_bad_prompt_or_review():
    with pytest.raises(PromptError, match="context field analyst_prompt"):
        Context(analyst_prompt="Find the mistakes.")
    with pytest.raises(ValueError, match=r"--review \(review\): unknown later"):
        Context(review=("analysis", "later"))


def test_no_prompt_holds_a_bundled_datasets_types_or_their_meanings():
    """What a type means comes from the run's data card (``label_descriptions``), never from a prompt file: no
    prompt names WNUT-16 or CoNLL-2003, explains one of their types, keeps a table of types (types.md), or shows
    an answer with a concrete type (a worked example's types would be one dataset's, copied into every run's)."""
    root = prompts.default_path("ner", "critic").parents[1]
    files = sorted(root.rglob("*.md"))
    assert files and not (root / "ner" / "types.md").exists()
    wnut = DATASETS["wnut16"].label_descriptions
    types = [*wnut, "PER", "LOC", "ORG", "MISC"]
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"wnut|conll", text, re.IGNORECASE), file
        assert not [t for t in types if re.search(rf"^\W*{re.escape(t)}\W*:", text, re.MULTILINE)], file
        assert not [m for m in wnut.values() if m.split(" (")[0] in text], file
        assert not re.search(r'"type":\s*"[^<]', text), file  # only placeholders: "type": "<one of the types>"
