"""Run settings: a typed `Context` handed to every node (LangGraph ``context_schema``), never globals.

Every field carries a description so the form in LangGraph Studio reads well. Prompt fields left
empty mean "the shipped prompt for this task"; Studio can edit them per node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from evokd.task import TaskKind


def _f(default: Any, description: str, **extra: Any) -> Any:
    """A dataclass field with a description (shown in Studio's context form)."""
    meta: dict[str, object] = {"description": description}
    if extra:
        meta["json_schema_extra"] = extra
    return field(default=default, metadata=meta)


def _prompt(agent: str) -> Any:
    return _f("", f"The {agent} prompt (Markdown with $placeholders); empty = the shipped prompt for the task.",
              langgraph_nodes=[agent], langgraph_type="prompt")


JsonMode = Literal["json_schema", "json_object", "none"]
Review = Literal["analysis", "samples"]  # where a person may pause the loop (see graph/review.py)
REVIEWS: tuple[Review, ...] = ("analysis", "samples")


@dataclass(kw_only=True, frozen=True)
class Context:
    """Everything a run is configured with; the CLI builds it from flags, Studio from its form."""

    task: TaskKind = _f("classification", "Task kind: 'classification' or 'ner'.")
    data: str = _f("rotten_tomatoes", "Data folder with train/dev/test files, or a bundled dataset name.")
    task_description: str = _f("", "One line telling the teacher what the labels mean; empty = from the data card.")
    shots: int = _f(1, "Seed examples per label (sentences per entity type for NER).")
    seed: int = _f(0, "Random seed for seed sampling, teacher sampling and training.")
    max_rounds: int = _f(5, "Stop after this many evolution rounds.")
    per_round: int = _f(8, "Hard texts and easy texts the Generator writes per round (each).")
    budget_tokens: int = _f(0, "Stop once the teacher has used this many tokens, or when another round like the last "
                                "would overrun it (0 = no limit).")
    patience: int = _f(3, "Stop after this many rounds without a better dev score.")
    target: float = _f(0.0, "Stop once the dev score reaches this value (0 = no target).")
    replay: int = _f(32, "Earlier generated samples replayed in each round's training (review history).")
    feedback_limit: int = _f(6, "Wrong and right predictions each shown to the Analyst.")
    dev_feedback: int = _f(3, "Dev-set texts the student gets wrong, shown to the Analyst first each round "
                              "(0 = the paper: feedback from generated samples only).")
    student: str = _f("", "Student encoder: local folder or model id; empty = bundled all-MiniLM-L6-v2.")
    epochs: int = _f(10, "Most training epochs over each round's data (the epoch kept is chosen on dev, see select_epoch).")
    min_steps: int = _f(40, "Minimum optimizer steps per training pass, so tiny data is not under-trained.")
    lr: float = _f(1e-4, "Student learning rate (AdamW).")
    balance: bool = _f(True, "Class-balanced training batches: every class drawn equally often each epoch, so a "
                             "skewed (teacher-labelled) set cannot teach a constant answer. NER trains on "
                             "sentences as they are.")
    select_epoch: bool = _f(True, "Score the student on dev after each epoch (once min_steps have run) and keep the "
                                  "best epoch's weights; off = keep the last epoch (one dev evaluation per round, "
                                  "faster on a CPU).")
    patience_epochs: int = _f(3, "With select_epoch: stop training after this many epochs without a better dev score "
                                 "(0 = run every epoch).")
    batch_size: int = _f(16, "Student batch size.")
    max_length: int = _f(128, "Student maximum sequence length in sub-tokens.")
    teacher_url: str = _f("", "OpenAI-compatible base URL; empty = $OPENAI_BASE_URL.")
    teacher_model: str = _f("", "Teacher model name; empty = $OPENAI_MODEL or 'teacher'.")
    temperature: float = _f(0.8, "Teacher sampling temperature for generation (labelling uses 0).")
    max_tokens: int = _f(320, "Longest teacher reply, in tokens.")
    json_mode: JsonMode = _f("json_schema", "How JSON is requested: json_schema, json_object (llama.cpp) or none.")
    concurrency: int = _f(4, "Teacher requests in flight at once.")
    timeout: float = _f(120.0, "Seconds before one teacher request times out.")
    max_retries: int = _f(4, "Retries of a failed HTTP request (backoff, honours Retry-After).")
    parse_attempts: int = _f(2, "Times a malformed teacher reply is re-asked before it counts as rejected.")
    cache: str = _f("", "Teacher reply cache (SQLite file); empty = no cache.")
    run_dir: str = _f("", "Run folder for results and the student; empty = runs/studio/<thread id>.")
    analyst_prompt: str = _prompt("analyst")
    generator_prompt: str = _prompt("generator")
    critic_prompt: str = _prompt("critic")
    review: tuple[Review, ...] = _f((), "Pause for a person: 'analysis' after the Analyst, 'samples' after the Critic "
                                    "(resume with \"approve\", an edited analysis, or sample ids to drop).")

    def __post_init__(self) -> None:
        """Reject a bad prompt or review setting (CLI, SDK or Studio assistant) before any teacher call."""
        from evokd import prompts

        for agent in prompts.AGENTS:
            if text := getattr(self, f"{agent}_prompt"):
                prompts.check(agent, text, f"context field {agent}_prompt")
        if unknown := sorted(set(self.review) - set(REVIEWS)):
            raise ValueError(f"context field review: unknown {', '.join(unknown)}; use {', '.join(REVIEWS)}")

    def prompt(self, agent: str) -> str:
        """The prompt text in force for an agent."""
        from evokd import prompts

        return getattr(self, f"{agent}_prompt") or prompts.default(self.task, agent)

    def run_path(self, config: RunnableConfig | None) -> Path:
        """The run folder: as configured, else one per thread under runs/studio/."""
        if self.run_dir:
            return Path(self.run_dir)
        thread = ((config or {}).get("configurable") or {}).get("thread_id", "default")
        return Path("runs") / "studio" / str(thread)

