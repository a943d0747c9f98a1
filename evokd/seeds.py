"""The random seeds a run derives from its one ``--seed``: one named function per use, so the loop and the
benchmark draw the same numbers and a resumed round draws what the first attempt drew."""

from __future__ import annotations


def train_seed(seed: int, rnd: int) -> int:
    """The student's training seed in round ``rnd`` (batch order, dropout)."""
    return seed * 1_000 + rnd


def teacher_seed(seed: int, rnd: int) -> int:
    """The seed of a round's one-off teacher and selector calls (analysis, pool query)."""
    return seed * 100_003 + rnd


def writer_seed(seed: int, rnd: int, i: int = 0) -> int:
    """The seed of the ``i``-th text a round asks the teacher to write (the first seeds its whole batch)."""
    return seed * 100_003 + rnd * 1_009 + i


def replay_seed(seed: int, rnd: int) -> int:
    """Which earlier accepted examples a round replays against forgetting."""
    return seed * 7 + rnd


def dev_feedback_seed(seed: int, rnd: int) -> int:
    """Which dev texts the student gets wrong are shown to the Analyst (``dev_feedback``)."""
    return seed * 11 + rnd


def calibration_seed(seed: int, rnd: int) -> int:
    """Which of a round's accepted samples are held out as calibration rows (``calibration_share``)."""
    return seed * 13 + rnd


def rephrase_seed(seed: int, rnd: int) -> int:
    """The order in which the rephrase baseline rewrites the seeds."""
    return seed * 31 + rnd
