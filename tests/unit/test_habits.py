"""The checks a commit runs are CI's: pre-commit's hooks and .ci/run call the same make targets, and the
README's test command sets up what its tests need."""

from __future__ import annotations

import re

import yaml

from tests.support import ROOT


def make_targets(text: str) -> list[str]:
    """The `make <target>` commands a script runs, in order (comments ignored)."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return [m.group(1) for line in lines for m in re.finditer(r"\bmake (\w[\w-]*)", line)]


def test_pre_commit_runs_offline_the_checks_ci_runs():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    [repo] = config["repos"]
    assert repo["repo"] == "local"  # nothing fetched from a hook repository
    hooks = [h["entry"] for h in repo["hooks"]]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert hooks == ["make lint", "make typecheck"]
    assert [t for t in make_targets(ci) if t in {"lint", "typecheck"}] == ["lint", "typecheck"]


def test_ci_runs_the_readme_commands_in_a_newcomers_order_and_make_test_sets_up_first():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert [t for t in make_targets(ci) if t in {"run", "test"}] == ["run", "test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test: setup\b", makefile, re.M) and re.search(r"^run: setup\b", makefile, re.M)
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "TEST_TEACHER=${EVOKD_TEACHER:-qwen2.5-0.5b}" in setup and '"$TEACHER" "$TEST_TEACHER"' in setup
