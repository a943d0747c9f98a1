"""Agent prompts: plain Markdown files with ``$name`` placeholders, one per task kind and agent.

Nothing else in the product holds prompt wording (the label-only candidates the benchmark measured are in
benchmarks/label_cost.py). A user swaps a prompt by pointing at another
file; `check` rejects a prompt with a missing or unknown placeholder before any teacher call.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

AGENTS = ("analyst", "generator", "critic")

# The placeholders each agent fills in. A prompt must use every required one and no others.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"task", "labels", "wrong", "correct", "pool"}),
    "generator": frozenset({"task", "labels", "analysis", "examples", "label", "stance", "weakness", "avoid", "words"}),
    "critic": frozenset({"task", "labels", "text"}),
    # Benchmark baselines (benchmarks/), not loop agents: label-conditioned writing and seed rewriting.
    "static": frozenset({"task", "labels", "examples", "label", "avoid", "words"}),
    "rephrase": frozenset({"task", "labels", "text", "label", "avoid"}),
    # The Analyst's optional section on the pool texts the student is least sure of ($pool, only with --pool).
    "pool": frozenset({"texts"}),
    # The Critic's label-only call (--label-call label-only): the lines before the one holding $text are the
    # system message, byte-identical across calls; the rest, with the text, is the user turn. $labels is the
    # inline list here, and $meanings the card's label meanings, one line each (empty where it has none).
    "label": frozenset({"task", "labels", "text", "meanings"}),
}
# Placeholders a custom prompt may leave out (the default prompts use them all but the label-only one's $task).
OPTIONAL: dict[str, frozenset[str]] = {
    "analyst": frozenset({"correct", "pool"}),
    "generator": frozenset({"analysis", "examples", "avoid", "weakness", "words"}),
    "critic": frozenset(),
    "static": frozenset({"examples", "avoid", "words"}),
    "rephrase": frozenset({"label", "avoid"}),
    "pool": frozenset(),
    # the shipped one leaves the task out (benchmarks/decisions/label-prompt.md)
    "label": frozenset({"task", "meanings"}),
}

_DIR = Path(__file__).parent


class PromptError(ValueError):
    """A prompt file that cannot be used; the message names the file and the fix."""


def default_path(kind: str, agent: str) -> Path:
    """Where the shipped prompt for a task kind and agent lives."""
    return _DIR / kind / f"{agent}.md"


def default(kind: str, agent: str) -> str:
    """The shipped prompt text for a task kind (``classification`` or ``ner``) and agent."""
    return default_path(kind, agent).read_text(encoding="utf-8")


def check(agent: str, text: str, source: str) -> None:
    """Raise `PromptError` if ``text`` lacks a required placeholder or uses an unknown one."""
    if agent not in PLACEHOLDERS:
        raise PromptError(f"{source}: unknown agent '{agent}'; use one of {', '.join(AGENTS)}")
    try:
        used = set(Template(text).get_identifiers())
    except ValueError as e:  # pragma: no cover - get_identifiers skips invalid ones
        raise PromptError(f"{source}: {e}") from None
    if not Template(text).is_valid():
        raise PromptError(
            f"{source}: a '$' is not followed by a placeholder name; write '$$' for a literal dollar sign"
        )
    unknown = used - PLACEHOLDERS[agent]
    missing = PLACEHOLDERS[agent] - OPTIONAL[agent] - used
    if unknown:
        raise PromptError(
            f"{source}: unknown placeholder(s) {', '.join('$' + u for u in sorted(unknown))} for the {agent}; "
            f"allowed: {', '.join('$' + p for p in sorted(PLACEHOLDERS[agent]))}"
        )
    if missing:
        raise PromptError(f"{source}: the {agent} prompt must use {', '.join('$' + m for m in sorted(missing))}")


def load(kind: str, overrides: dict[str, str] | None = None, directory: str | None = None) -> dict[str, str]:
    """Resolve the three prompt texts: ``overrides`` (agent -> file) win over ``directory``, then the defaults.

    Every prompt is checked, so a bad file fails here, before the first teacher call.
    """
    overrides = dict(overrides or {})
    for agent in overrides:
        if agent not in AGENTS:
            raise PromptError(f"--prompt {agent}=...: unknown agent '{agent}'; use one of {', '.join(AGENTS)}")
    found = _directory_prompts(kind, directory) if directory else {}
    texts: dict[str, str] = {}
    for agent in AGENTS:
        path = Path(overrides[agent]) if agent in overrides else found.get(agent)
        if path is None:
            texts[agent] = default(kind, agent)
            continue
        try:
            texts[agent] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise PromptError(f"{path}: cannot read prompt ({e.__class__.__name__}); give a UTF-8 text file") from None
        check(agent, texts[agent], str(path))
    return texts


def _directory_prompts(kind: str, directory: str) -> dict[str, Path]:
    """The prompt files a ``--prompts`` folder holds: ``<agent>.md``, or ``<kind>/<agent>.md`` as shipped."""
    folder = Path(directory)
    if not folder.is_dir():
        raise PromptError(f"--prompts {directory}: not a folder")
    # a flat <agent>.md wins over <kind>/<agent>.md (later keys overwrite earlier ones)
    found = {a: p for a in AGENTS for p in (folder / kind / f"{a}.md", folder / f"{a}.md") if p.is_file()}
    if not found:
        raise PromptError(f"--prompts {directory}: no {', '.join(a + '.md' for a in AGENTS)} in it (nor under {kind}/)")
    return found


def render(template: str, /, **values: str) -> str:
    """Fill a prompt's placeholders; generated text is substituted verbatim and never re-parsed."""
    return Template(template).safe_substitute(values)
