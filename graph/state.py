"""What a run produces, round by round: the LangGraph state and its record types.

Records are plain dicts (TypedDicts) so they checkpoint, stream to Studio and land in the JSONL
run files unchanged.
"""

from __future__ import annotations

import operator
from typing import Annotated, Literal, TypedDict

from student.task import Example


class Sample(TypedDict, total=False):
    """One generated sample and its lineage, from the Generator's request to the student's prediction."""

    id: str  # "r<round>-<n>", unique within a run
    round: int
    stance: Literal["hard", "easy"]
    weakness: str  # the pattern it targeted ("" for easy samples)
    requested: str  # the label (or entity types) the Generator was asked for
    text: str
    label: str  # the Critic's label (classification)
    tokens: list[str]  # NER: the sentence, tokenised like the real data
    tags: list[str]  # NER: BIO tags from the Critic's entities
    entities: list[dict[str, str]]  # NER: the Critic's (text, type) mentions
    verdict: Literal["pending", "accepted", "rejected"]
    reason: str  # why rejected ("" when accepted)
    predicted: str | list[str]  # the student's prediction before training on it
    teacher_tokens: int  # prompt + completion tokens spent on it (generation + labelling)


class Prediction(TypedDict):
    """The student's prediction on a training example, the feedback the Analyst reads."""

    text: str
    gold: str | list[str]
    predicted: str | list[str]
    correct: bool


class NodeStats(TypedDict, total=False):
    """Cost of one node in one round."""

    seconds: float
    calls: int
    prompt_tokens: int
    completion_tokens: int
    request_seconds: float  # teacher nodes: summed time waiting on the endpoint (overlaps when concurrent)
    train_seconds: float  # student node: fine-tuning
    eval_seconds: float  # student node: predicting the new batch, dev and test


class RoundRecord(TypedDict, total=False):
    """One line of rounds.jsonl: what a round cost and what the student scored after it."""

    round: int
    dev: dict[str, object]
    test: dict[str, object]
    train: dict[str, object]  # training stats (steps, loss, seconds, samples/s)
    accepted: int
    rejected: dict[str, int]  # rejected count by reason
    hard_accepted: int
    easy_accepted: int
    nodes: dict[str, NodeStats]
    teacher_tokens: int  # cumulative, all agents, all rounds so far
    student_path: str


def merge_stats(old: dict[str, dict[str, NodeStats]], new: dict[str, dict[str, NodeStats]]) -> dict[str, dict[str, NodeStats]]:
    """Reducer for per-round, per-node stats: ``{round: {node: stats}}`` merged key by key."""
    merged = {r: dict(nodes) for r, nodes in (old or {}).items()}
    for r, nodes in (new or {}).items():
        merged.setdefault(r, {}).update(nodes)
    return merged


class State(TypedDict, total=False):
    """The EvoKD loop's state; each node returns an update to some of these keys."""

    task: dict[str, object]  # Task.to_dict(): kind and labels, fixed by the data
    round: int  # 0 during the seed pass, then 1, 2, ...
    seeds: list[Example]  # the k-shot human-labelled seed set
    analysis: dict[str, object]  # the Analyst's latest Analysis (summary, weaknesses)
    batch: list[Sample]  # this round's samples: written by the Generator, judged by the Critic
    feedback: list[Prediction]  # the student's predictions on its latest training batch, before training
    pool: Annotated[list[Example], operator.add]  # every accepted generated example so far (replay source)
    history: Annotated[list[RoundRecord], operator.add]  # one record per finished round
    stats: Annotated[dict[str, dict[str, NodeStats]], merge_stats]  # {round: {node: cost}}
    student_path: str  # folder of the latest student
    best: dict[str, object]  # {"round", "score", "path"} of the best dev score so far
    stop_reason: str  # why the loop ended (set by the final node)
    summary: dict[str, object]  # what summary.json holds


def teacher_tokens(stats: dict[str, dict[str, NodeStats]]) -> int:
    """Total teacher tokens over all rounds and agents."""
    return sum(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for nodes in stats.values() for s in nodes.values())
