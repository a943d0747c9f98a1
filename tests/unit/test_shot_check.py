"""The shot check (the teacher on the k shots): agreement, the task's score, the chance rule and the warning line."""

from __future__ import annotations

import io

import pytest

from evokd.agents.shot_check import agreement, answer, check_shots, guess_tail, spread, summary, warning
from evokd.state import Sample
from evokd.task import Example, Task
from evokd.tasks import adapter_for
from evokd.teacher.client import Reply

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


def test_a_capped_check_labels_as_many_shots_as_the_first_one_prices_into_the_cap(monkeypatch):
    adapter = adapter_for(SENTIMENT)
    shots = [Example(text=f"dull {i}", label="negative") for i in range(3)]
    shots += [Example(text=f"lovely {i}", label="positive") for i in range(3)]
    asked: list[list[str]] = []

    def label(teacher, prompt, task, description, todo, label_call="json"):
        asked.append([s["text"] for s in todo])
        for s in todo:  # a teacher that is right on every text, at 100 tokens a label
            s.update(verdict="accepted", label="negative" if "dull" in s["text"] else "positive")
        return [Reply(parsed=None, reason=None, prompt_tokens=95, completion_tokens=5) for _ in todo]

    monkeypatch.setattr(adapter, "label", label)
    check, replies = check_shots(adapter, None, "", SENTIMENT, "", shots, "label-only", cap_tokens=350)
    assert asked == [["dull 0"], ["lovely 0", "dull 1"]]  # 3 labels fit 350 tokens, a label at a time
    assert (check["shots"], check["given"], check["agreed"], len(replies)) == (3, 6, 3, 3)
    assert "agreed with 3 of 3 shots (of 6 given;" in summary(check)
    tight, _ = check_shots(adapter, None, "", SENTIMENT, "", shots, "label-only", cap_tokens=10)
    assert tight["shots"] == 1  # the first shot is labelled whatever the cap: it is what prices a label
    asked.clear()
    whole, _ = check_shots(adapter, None, "", SENTIMENT, "", shots, "label-only")
    assert (whole["shots"], whole["given"], len(asked)) == (6, 6, 1) and "given" not in summary(whole)


def test_spread_takes_the_shots_a_label_at_a_time():
    ner = adapter_for(Task("ner", ("loc", "person")))
    people = [Example(text=f"p{i}", tokens=[f"p{i}"], tags=["B-person"]) for i in range(2)]
    place = Example(text="rome", tokens=["rome"], tags=["B-loc"])
    none = Example(text="we", tokens=["we"], tags=["O"])
    assert [ex["text"] for ex in spread(ner, [*people, place, none])] == ["p0", "rome", "we", "p1"]
