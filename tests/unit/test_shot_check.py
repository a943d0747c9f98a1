"""The shot check (the teacher on the k shots): agreement, the task's score, the chance rule and the warning line."""

from __future__ import annotations

import io

import pytest

from evokd.agents.shot_check import agreement, answer, guess_tail, summary, warning
from evokd.state import Sample
from evokd.task import Example, Task
from evokd.tasks import adapter_for

SENTIMENT = Task("classification", ("negative", "positive"))
SHOTS = [Example(text="a dull film", label="negative"), Example(text="a lovely film", label="positive")]
PEOPLE = Task("ner", ("person",))
SENTENCES = [
    Example(text="alice met bob", tokens=["alice", "met", "bob"], tags=["B-person", "O", "B-person"]),
    Example(text="we left", tokens=["we", "left"], tags=["O", "O"]),
]


def test_a_teacher_that_gets_every_shot_right_raises_no_warning():
    check = agreement(adapter_for(SENTIMENT), SENTIMENT, SHOTS, ["negative", "positive"])
    assert (check["agreed"], check["agreement"], check["score"], check["chance"]) == (2, 1.0, 1.0, 0.5)
    assert not check["no_better_than_chance"] and warning(check) is None
    # ... yet 2 of 2 is weak evidence: a coin agrees with both 1 time in 4, and the summary says so
    assert check["p_guess"] == 0.25 and summary(check).endswith("a guessing teacher does as well 25% of the time)")


def test_the_chance_a_guess_does_as_well_is_the_binomial_tail():
    assert guess_tail(10, 8, 0.5) == pytest.approx((45 + 10 + 1) / 1024)  # 8, 9 or 10 heads of 10 fair coins
    assert guess_tail(5, 0, 0.2) == pytest.approx(1.0) and guess_tail(3, 3, 1 / 3) == pytest.approx(1 / 27)


def test_one_right_of_two_labels_is_chance_and_says_so():
    check = agreement(adapter_for(SENTIMENT), SENTIMENT, SHOTS, ["positive", "positive"])
    assert check["agreed"] == 1 and check["no_better_than_chance"]
    line = warning(check)
    assert line is not None and "1 of your 2 labelled shots" in line and "\n" not in line


def test_ner_is_judged_on_its_span_score():
    adapter = adapter_for(PEOPLE)
    found = agreement(adapter, PEOPLE, SENTENCES, [s["tags"] for s in SENTENCES])
    assert found["score"] == 1.0 and found["agreed"] == 2 and not found["no_better_than_chance"]
    assert found["p_guess"] is None  # no guessing model for spans
    missed = agreement(adapter, PEOPLE, SENTENCES, [["O"] * 3, ["O", "O"]])
    assert missed["score"] == 0.0 and missed["agreed"] == 1 and missed["no_better_than_chance"]


def test_an_unusable_reply_matches_nothing():
    adapter = adapter_for(SENTIMENT)
    refused = Sample(id="shot-0", text="a dull film", verdict="rejected", reason="unusable")
    assert answer(adapter, refused, "negative") == "(none)"
    labelled = Sample(id="shot-0", text="a dull film", verdict="accepted", label="negative")
    assert answer(adapter, labelled, "negative") == "negative"
    assert answer(adapter_for(PEOPLE), Sample(verdict="rejected"), ["B-person", "O"]) == ["O", "O"]


def test_the_console_prints_the_warning_as_one_plain_line(monkeypatch):
    from rich.console import Console

    from evokd.cli import console

    out = Console(record=True, width=400, file=io.StringIO())
    monkeypatch.setattr(console, "console", out)
    line = "the teacher agreed with 1 of your 2 labelled shots [score 0.33]"
    console.show_progress("custom", {"node": "shot_check", "round": 0, "warning": line})
    assert out.export_text().splitlines() == [
        f"  round 0 · shot_check · warning: {line}"
    ]  # brackets not read as markup
