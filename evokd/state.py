"""What a run produces, round by round: the LangGraph state and its record types.

Records are plain dicts (TypedDicts) so they checkpoint, stream to Studio and land in the JSONL
run files unchanged. Field docstrings become descriptions in the JSON schemas Studio shows
(pydantic reads them; it needs `typing_extensions.TypedDict` on Python 3.11).
"""

from __future__ import annotations

import operator
from typing import Annotated, Literal

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from evokd.task import Example

DOCUMENTED = ConfigDict(use_attribute_docstrings=True)


@with_config(DOCUMENTED)
class Sample(TypedDict, total=False):
    """One sample (generated, or picked from the pool) and its lineage, from its request or pick to the
    student's prediction."""

    id: str
    """'r<round>-<n>', unique within a run (pool picks are numbered after the round's generated samples)."""
    source: Literal["generated", "pool"]
    """Written by the Generator, or picked from the unlabelled pool by the selector."""
    pool_id: str
    """Pool samples: the item's id in the pool ('p<row>' of the pool file, 't<n>' of the train split)."""
    query_score: float
    """Pool samples: the student's uncertainty when it was picked (1 - margin of its top two classes)."""
    teacher_confidence: float | None
    """The probability of the Critic's label, from the endpoint's log-probabilities (None when it sent none)."""
    teacher_probs: dict[str, float]
    """Classification, label-only call: the teacher's probability for every label (what soft targets train on)."""
    noise: Literal["kept", "held_out"]
    """Pool samples, after the noise step: held out of later training when the student contradicts the label."""
    calibration: bool
    """Held out of all training as a calibration row for the kept student (``calibration_share``)."""
    round: int
    stance: Literal["hard", "easy"]
    weakness: str
    """The pattern it targeted ('' for easy samples)."""
    requested: str
    """The label (or entity types) the Generator was asked for."""
    text: str
    label: str
    """The Critic's label (classification)."""
    tokens: list[str]
    """NER: the sentence, tokenised like the real data."""
    tags: list[str]
    """NER: BIO tags from the Critic's entities."""
    entities: list[dict[str, str | int]]
    """NER: the Critic's mentions: text, type and start/end offsets in ``text`` (accepted), or each with its error (rejected)."""  # noqa: E501 - a pydantic field description (use_attribute_docstrings): wrapping would put a newline in the schema text
    masked: list[dict[str, str | int]]
    """NER, accepted with ``mask_mentions``: the Critic's mentions that failed a check, each with its error;
    their tokens are tagged as unknown (masked) in ``tags``."""
    verdict: Literal["pending", "accepted", "rejected"]
    reason: str
    """Why rejected ('' when accepted)."""
    predicted: str | list[str]
    """The student's prediction before training on it."""
    fooled: bool
    """The student got it wrong before training on it (``predicted`` disagrees with the Critic's label): for a
    hard text, whether it found a weakness."""
    teacher_tokens: int
    """Prompt + completion tokens spent on it (generation + labelling)."""


@with_config(DOCUMENTED)
class Prediction(TypedDict):
    """The student's prediction on a training example, the feedback the Analyst reads."""

    text: str
    gold: str | list[str]
    predicted: str | list[str]
    correct: bool


@with_config(DOCUMENTED)
class ShotCheck(TypedDict):
    """The teacher's labels on the user's k shots, before round 1 (`evokd.agents.shot_check`)."""

    shots: int
    """Shots the teacher labelled: all of them, or as many as `shot_check_share` of the budget holds."""
    given: int
    """Shots the user gave (a run before `shot_check_share` existed has no such field: it labelled them all)."""
    agreed: int
    """Shots whose teacher answer equals the gold one (a class; for NER the whole tag sequence)."""
    agreement: float
    score: float
    """The task's metric (macro-F1, span F1) of the teacher's answers on the shots."""
    chance: float
    """Agreement a guess gets (1 / labels); for NER 0, judged on the score."""
    no_better_than_chance: bool
    p_guess: float | None
    """How often a teacher guessing at random would agree with at least as many shots (a binomial tail; None for
    NER): the weight of the check's evidence. With 1 shot on 2 labels a perfect check still has 0.25."""


@with_config(DOCUMENTED)
class NodeStats(TypedDict, total=False):
    """Cost of one node in one round."""

    seconds: float
    calls: int
    prompt_tokens: int
    completion_tokens: int
    request_seconds: float
    """Teacher nodes: summed time waiting on the endpoint (overlaps when concurrent)."""
    train_seconds: float
    """Student node: fine-tuning."""
    eval_seconds: float
    """Student node: predicting the new batch, dev and test."""


@with_config(DOCUMENTED)
class RoundRecord(TypedDict, total=False):
    """One line of rounds.jsonl: what a round cost and what the student scored after it."""

    round: int
    dev: dict[str, object]
    test: dict[str, object]
    train: dict[str, object]
    """Training stats (steps, loss, seconds, samples/s)."""
    accepted: int
    rejected: dict[str, int]
    """Rejected count by reason."""
    hard_accepted: int
    easy_accepted: int
    hard_fooled: int
    """Accepted hard texts the student got wrong before training on them (`Sample.fooled`)."""
    easy_fooled: int
    """Accepted easy texts the student got wrong before training on them."""
    pool_accepted: int
    """Accepted samples picked from the pool."""
    held_out: int
    """Pool samples the noise step held out of later training."""
    calibration_rows: int
    """Accepted samples held out of training as calibration rows (``calibration_share``)."""
    pool_picked: int
    """Pool texts this round picked and sent to the teacher (accepted or not)."""
    pool_tokens: int
    """Teacher tokens spent labelling this round's pool picks."""
    pool_labelled: int
    """Pool picks the teacher was asked to label: a pick rejected before its call (contaminated, duplicate)
    costs nothing, so the cost of a label is ``pool_tokens / pool_labelled``."""
    tokens_per_accepted_pool: float | None
    """This round's teacher tokens on pool samples per accepted pool sample (None: none accepted)."""
    tokens_per_accepted_generated: float | None
    """This round's other teacher tokens (analysis, generation, labelling) per accepted generated sample."""
    nodes: dict[str, NodeStats]
    teacher_tokens: int
    """Cumulative, all agents, all rounds so far."""
    student_path: str
    fresh_agreement: float | None
    """The previous student's agreement with the teacher's labels on this round's accepted samples, before it
    trained on them: the score the few-shot protocol decides from (None in round 0 or with none accepted)."""


def merge_stats(
    old: dict[str, dict[str, NodeStats]], new: dict[str, dict[str, NodeStats]]
) -> dict[str, dict[str, NodeStats]]:
    """Reducer for per-round, per-node stats: ``{round: {node: stats}}`` merged key by key."""
    merged = {r: dict(nodes) for r, nodes in (old or {}).items()}
    for r, nodes in (new or {}).items():
        merged.setdefault(r, {}).update(nodes)
    return merged


@with_config(DOCUMENTED)
class State(TypedDict, total=False):
    """The EvoKD loop's state; each node returns an update to some of these keys."""

    task: dict[str, object]
    """Task.to_dict(): kind and labels, fixed by the data."""
    round: int
    """0 during the seed pass, then 1, 2, ..."""
    seeds: list[Example]
    """The k-shot human-labelled seed set."""
    shot_check: ShotCheck
    """The teacher's answers on the seeds against their gold labels, before round 1 (``shot_check``)."""
    analysis: dict[str, object]
    """The Analyst's latest Analysis (summary, weaknesses)."""
    batch: list[Sample]
    """This round's samples: written by the Generator, judged by the Critic."""
    pool_picks: list[Sample]
    """This round's picks from the unlabelled pool (pending), which the Critic labels with the batch (--pool)."""
    picked_pool_ids: Annotated[list[str], operator.add]
    """The pool ids picked so far: never picked twice in a run."""
    uncertain: list[str]
    """The pool texts the student is least sure of this round, unlabelled, for the Analyst (--pool)."""
    pseudo_labelled: list[Example]
    """Pool texts the student labelled itself this round (--self-train): trained on with the round's batch."""
    feedback: list[Prediction]
    """The student's predictions on its latest training batch, before training."""
    replay_set: Annotated[list[Example], operator.add]
    """Every accepted example so far, generated or from the pool, less what the noise step held out: what
    later rounds replay, and what the Generator and Critic check new texts against."""
    history: Annotated[list[RoundRecord], operator.add]
    """One record per finished round."""
    stats: Annotated[dict[str, dict[str, NodeStats]], merge_stats]
    """{round: {node: cost}}."""
    student_path: str
    """Folder of the latest student."""
    best: dict[str, object]
    """{'round', 'score' (dev), 'path'} of the round the run keeps so far (`evokd.accounting.best_round`)."""
    stop_reason: str
    """Why the loop ended (set by the final node)."""
    summary: dict[str, object]
    """What summary.json holds."""
    # Older names of three keys above: a run checkpointed before the rename still resumes, because LangGraph
    # restores channels by name. Today's nodes read them through `replay_set`, `picked_pool_ids` and
    # `pool_picks` below and never write them.
    pool: Annotated[list[Example], operator.add]
    """Older checkpoints' name for replay_set (read when one resumes, never written)."""
    picks: list[Sample]
    """Older checkpoints' name for pool_picks (read when one resumes, never written)."""
    picked: Annotated[list[str], operator.add]
    """Older checkpoints' name for picked_pool_ids (read when one resumes, never written)."""


def trains_on(sample: Sample) -> bool:
    """Whether the student may learn from an accepted sample: not held out by the noise step or for calibration."""
    return sample.get("noise") != "held_out" and not sample.get("calibration")


def replay_set(state: State) -> list[Example]:
    """Every accepted example so far, a checkpoint's from before the rename (``pool``) included."""
    return [*state.get("pool", []), *state.get("replay_set", [])]


def picked_pool_ids(state: State) -> list[str]:
    """The pool ids picked so far, a checkpoint's from before the rename (``picked``) included."""
    return [*state.get("picked", []), *state.get("picked_pool_ids", [])]


def pool_picks(state: State) -> list[Sample]:
    """This round's pool picks, or those a checkpoint from before the rename (``picks``) holds."""
    return state.get("pool_picks") or state.get("picks", [])


def teacher_tokens(stats: dict[str, dict[str, NodeStats]]) -> int:
    """Total teacher tokens over all rounds and agents."""
    return sum(
        s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for nodes in stats.values() for s in nodes.values()
    )
