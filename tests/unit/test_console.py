"""evokd/cli/console.py: the lines a finished run prints."""

from __future__ import annotations

from evokd.cli.console import fooled_line


def test_the_run_summary_says_how_often_generated_texts_fooled_the_student():
    summary = {"hard_accepted": 17, "hard_fooled": 0, "easy_accepted": 18, "easy_fooled": 3}
    assert fooled_line(summary) == (
        "generated texts the student got wrong before training on them: hard 0 of 17, easy 3 of 18"
    )
    assert fooled_line({"hard_accepted": 5, "hard_fooled": 2, "easy_accepted": 0, "easy_fooled": 0}).endswith(
        ": hard 2 of 5"
    )
    assert fooled_line({"hard_accepted": 0, "easy_accepted": 0, "pool_accepted": 90}) is None  # pool labels only
