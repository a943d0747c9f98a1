"""Round accounting: what a round and a run cost and scored, and which round a run keeps.

The loop, the report and the benchmark all build their records and pick their round here, so a rule
changes in one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, TypeVar, cast

from evokd.state import NodeStats, RoundRecord, Sample, teacher_tokens

R = TypeVar("R", bound=Mapping[str, Any])


def decision_score(record: Mapping[str, Any], protocol: str) -> float | None:
    """The score a round is judged by: its dev score under ``oracle-dev``; under ``few-shot`` what the run paid
    for, the previous student's agreement with the teacher on this round's new batch (None: none to judge)."""
    if protocol == "oracle-dev":
        return float(record["dev"]["score"])
    agreement = record.get("fresh_agreement")
    return None if agreement is None else float(agreement)


def best_scored(history: Sequence[R], protocol: str) -> R:
    """The round with the best decision score, the earliest of equals; round 0 when no round has one."""
    scored = [r for r in history if decision_score(r, protocol) is not None]
    if not scored:
        return history[0]
    return max(scored, key=lambda r: (decision_score(r, protocol), -int(r["round"])))


def best_round(history: Sequence[R], protocol: str) -> R:
    """The round a run keeps: under ``oracle-dev`` the best dev score (the earliest of equals); under ``few-shot``
    the last round, whose student trained on the most paid-for data. Test labels never decide."""
    return best_scored(history, protocol) if protocol == "oracle-dev" else history[-1]


# Accepted generated texts by stance, and those the student got wrong before training on them: whether the
# hard stance finds the student's weaknesses more often than the easy one (summed over a run's rounds).
STANCE_COUNTS = ("hard_accepted", "hard_fooled", "easy_accepted", "easy_fooled")


class PerAccepted(TypedDict):
    """Teacher tokens per accepted sample, the `RoundRecord` and summary fields of that name."""

    tokens_per_accepted_pool: float | None
    tokens_per_accepted_generated: float | None


def per_accepted(pool_tokens: int, pool_accepted: int, generated_tokens: int, generated_accepted: int) -> PerAccepted:
    """Teacher tokens per accepted sample, pool and generated apart (None where none was accepted).

    A pool sample costs its labelling call; a generated one everything else the round spent on the
    teacher (analysis, generation, labelling), the price of choosing what to write."""

    def per(tokens: int, accepted: int) -> float | None:
        return round(tokens / accepted, 1) if accepted else None

    return {
        "tokens_per_accepted_pool": per(pool_tokens, pool_accepted),
        "tokens_per_accepted_generated": per(generated_tokens, generated_accepted),
    }


def round_record(
    rnd: int,
    scores: Mapping[str, dict[str, object]],
    train: dict[str, object],
    batch: Sequence[Sample],
    nodes: dict[str, NodeStats],
    stats: dict[str, dict[str, NodeStats]],
    student_path: str,
    fresh_agreement: float | None = None,
) -> RoundRecord:
    """One line of rounds.jsonl: the round's ``dev``/``test`` ``scores``, its training, what its ``batch``
    accepted and rejected, and its teacher cost (``nodes``: this round's, ``stats``: the earlier rounds')."""
    accepted = [s for s in batch if s["verdict"] == "accepted"]
    from_pool = [s for s in batch if s.get("source") == "pool"]
    pool_accepted = sum(s["verdict"] == "accepted" for s in from_pool)
    pool_tokens = sum(s.get("teacher_tokens", 0) for s in from_pool)
    round_tokens = sum(n.get("prompt_tokens", 0) + n.get("completion_tokens", 0) for n in nodes.values())
    per = per_accepted(pool_tokens, pool_accepted, round_tokens - pool_tokens, len(accepted) - pool_accepted)
    return RoundRecord(
        round=rnd,
        dev=scores["dev"],
        test=scores["test"],
        train=train,
        accepted=len(accepted),
        rejected=dict(Counter(s["reason"] for s in batch if s["verdict"] == "rejected")),
        hard_accepted=sum(s.get("stance") == "hard" for s in accepted),
        easy_accepted=sum(s.get("stance") == "easy" for s in accepted),
        hard_fooled=sum(s.get("stance") == "hard" and s.get("fooled", False) for s in accepted),
        easy_fooled=sum(s.get("stance") == "easy" and s.get("fooled", False) for s in accepted),
        pool_accepted=pool_accepted,
        held_out=sum(s.get("noise") == "held_out" for s in from_pool),
        calibration_rows=sum(bool(s.get("calibration")) for s in accepted),
        pool_picked=len(from_pool),
        pool_tokens=pool_tokens,
        pool_labelled=sum(s.get("teacher_tokens", 0) > 0 for s in from_pool),
        tokens_per_accepted_pool=per["tokens_per_accepted_pool"],
        tokens_per_accepted_generated=per["tokens_per_accepted_generated"],
        nodes=nodes,
        teacher_tokens=teacher_tokens({**stats, str(rnd): nodes}),
        student_path=student_path,
        fresh_agreement=fresh_agreement,
    )


def run_summary(
    history: Sequence[RoundRecord],
    stats: dict[str, dict[str, NodeStats]],
    metric: str,
    stop_reason: str,
    protocol: str,
) -> dict[str, object]:
    """What summary.json holds about the run's rounds: the kept round's scores, the seed-only scores, and
    the run's teacher tokens, samples and seconds."""
    best = best_round(history, protocol)
    spent = teacher_tokens(stats)
    pool_tokens = sum(r.get("pool_tokens", 0) for r in history)
    pool_accepted = sum(r.get("pool_accepted", 0) for r in history)
    accepted = sum(r.get("accepted", 0) for r in history)
    return {
        "stop_reason": stop_reason,
        "protocol": protocol,
        "rounds": history[-1]["round"],
        "best_round": best["round"],
        "metric": metric,
        "dev": best["dev"],
        "test": best["test"],
        "seed_only": {"dev": history[0]["dev"], "test": history[0]["test"]},
        "teacher_tokens": spent,
        "accepted": accepted,
        "rejected": sum(sum(r.get("rejected", {}).values()) for r in history),
        "pool_accepted": pool_accepted,
        "held_out": sum(r.get("held_out", 0) for r in history),
        "calibration_rows": sum(r.get("calibration_rows", 0) for r in history),
        **{key: sum(cast(int, r.get(key, 0)) for r in history) for key in STANCE_COUNTS},
        **per_accepted(pool_tokens, pool_accepted, spent - pool_tokens, accepted - pool_accepted),
        "seconds": round(sum(n.get("seconds", 0.0) for nodes in stats.values() for n in nodes.values()), 1),
    }
