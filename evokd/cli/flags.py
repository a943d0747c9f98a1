"""The ``evokd`` command line: the parser, and the run flags derived from `Context`.

A run setting is declared once, as a `Context` field (evokd/settings.py); its flag, type, default
and help come from there. The few flags that are not settings, or set one in a way of their own
(the run folder, the reply cache, prompt files, the API key), are declared here.
Subcommands come from the modules in `COMMANDS`, then from any installed module registered under the
``evokd.commands`` entry-point group (the benchmark registers itself there, so the product never
imports it): each has ``add_commands(sub)``, which adds its parsers and sets ``handler`` on them.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from evokd.settings import Context, add_flags, pool_defaults

# Modules that add subcommands, in the order ``evokd --help`` lists them.
COMMANDS = ("evokd.cli.run", "evokd.cli.tools", "evokd.cli.handoff")


class UsageError(ValueError):
    """A bad flag or argument; printed as one line, exit code 2."""


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    ap = argparse.ArgumentParser(
        prog="evokd", description="Evolving knowledge distillation from a teacher LLM into a small student."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    plugins = [ep.value for ep in entry_points(group="evokd.commands")]
    for module in (*COMMANDS, *plugins):
        importlib.import_module(module).add_commands(sub)
    return ap


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """``evokd run``'s flags: one per `Context` setting, then the run folder, cache and prompts."""
    add_flags(p.add_argument_group("run settings"), Context)
    add_endpoint_flags(p.add_argument_group("teacher endpoint"), settings=False)
    extra = p.add_argument_group("run folder and prompts")
    extra.add_argument("--out", default="", help="run folder (default runs/<timestamp>)")
    extra.add_argument("--no-cache", action="store_true", help="do not cache teacher replies in the run folder")
    extra.add_argument(
        "--prompt",
        action="append",
        default=[],
        metavar="AGENT=FILE",
        help="use this prompt file for one agent (analyst, generator or critic); repeatable",
    )
    extra.add_argument(
        "--prompts",
        default=None,
        metavar="DIR",
        help="folder of prompt files (analyst.md, generator.md, critic.md, or <task>/<agent>.md)",
    )


def add_endpoint_flags(p: argparse.ArgumentParser | argparse._ArgumentGroup, settings: bool = True) -> None:
    """Where the teacher is: the URL setting (if ``settings``), the API key, the local teacher used without a URL."""
    from evokd.teacher.local import DEFAULT_TEACHER

    if settings:
        add_flags(p, Context, only=("teacher_url",))
    p.add_argument("--api-key", default=None, help="API key (better: $OPENAI_API_KEY); never written to disk")
    p.add_argument(
        "--local-teacher", default=DEFAULT_TEACHER, help="local teacher when no URL is set (default %(default)s)"
    )


def context_from_args(args: argparse.Namespace, run_dir: Path) -> Context:
    """A `Context` from parsed run flags: the task kind from the data unless given, each prompt loaded and checked."""
    from evokd import prompts
    from evokd.data.registry import resolve_data, task_kind

    flagged = (f.name for f in dataclasses.fields(Context) if f.metadata.get("flag"))
    # argparse values are untyped; each flag's type and choices match its Context field.
    values: dict[str, Any] = {name: getattr(args, name) for name in flagged if getattr(args, name, None) is not None}
    if values.get("pool"):  # flags left out take the pool mode's defaults (pure random labelling)
        values = {**pool_defaults(), **values}
    # Paths are made absolute: run.json and the checkpointed state keep them, and `evokd resume` may run elsewhere.
    run_dir = run_dir.resolve()
    if Path(args.data).exists():  # else a bundled name
        values["data"] = str(Path(args.data).resolve())
    if values.get("pool") and values["pool"] != "train" and Path(values["pool"]).exists():
        values["pool"] = str(Path(values["pool"]).resolve())
    if values.get("student") and Path(values["student"]).exists():
        values["student"] = str(Path(values["student"]).resolve())
    values["task"] = args.task or task_kind(resolve_data(args.data))
    texts = prompts.load(values["task"], dict(_agent_file(p) for p in args.prompt), args.prompts)
    # Only the prompts the user swapped in become settings: a critic prompt of one's own switches the Critic to the
    # JSON call it is written for (`Context.critic_call`), so the shipped one must not look like one.
    prompt_fields: dict[str, Any] = {
        f"{agent}_prompt": text for agent, text in texts.items() if text != prompts.default(values["task"], agent)
    }
    return Context(
        **values,
        run_dir=str(run_dir),
        cache="" if args.no_cache else str(run_dir / "teacher_cache.sqlite"),
        **prompt_fields,
    )


def _agent_file(value: str) -> tuple[str, str]:
    """``--prompt analyst=path.md`` as (agent, path)."""
    agent, sep, path = value.partition("=")
    if not sep or not path:
        raise UsageError(f"--prompt {value}: expected AGENT=FILE, e.g. --prompt analyst=my_analyst.md")
    return agent.strip(), path
