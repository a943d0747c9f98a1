"""The agents' plain functions against a fake chat model (no HTTP, no graph)."""

from __future__ import annotations

import json

import pytest

from evokd.agents.analyst import analyse
from evokd.agents.critic import LeakIndex, label_batch, screen
from evokd.agents.generator import generate, plan
from evokd.bench.bench_task import bench_task
from evokd.prompts import default, render
from evokd.state import Prediction, Sample
from evokd.task import Task
from evokd.tasks import adapter_for
from evokd.tasks.classification import LABEL_WORDS, match_label
from evokd.teacher.client import Reply
from tests.support.fake_chat import scripted_teacher as teacher

TASK = Task(kind="classification", labels=("negative", "positive"))


def test_analyst_shows_wrong_and_right_and_drops_unknown_labels():
    fb = [
        Prediction(text="meh", gold="negative", predicted="positive", correct=False),
        Prediction(text="great", gold="positive", predicted="positive", correct=True),
    ]
    wrong, right = adapter_for(TASK).format_feedback(fb, limit=5)
    assert "meh" in wrong and "predicted: positive" in wrong and "great" in right and "meh" not in right
    reply = json.dumps(
        {
            "summary": "s",
            "weaknesses": [{"label": "negative", "pattern": "irony"}, {"label": "neutral", "pattern": "x"}],
        }
    )
    analysis, _ = analyse(teacher(reply), default("classification", "analyst"), TASK, "sentiment", fb, 5, seed=0)
    assert [w["label"] for w in analysis["weaknesses"]] == ["negative"] and analysis["status"] == "ok"
    broken, _ = analyse(
        teacher("no json here, sorry\nreally"), default("classification", "analyst"), TASK, "d", fb, 5, 0
    )
    assert broken["weaknesses"] == [] and broken["status"] == "malformed"


def test_plan_aims_hard_samples_at_weaknesses_and_spreads_easy_ones():
    analysis = {"summary": "", "weaknesses": [{"label": "negative", "pattern": "irony"}]}
    samples = plan(TASK, analysis, n_hard=2, n_easy=2, rnd=3)
    assert [s["stance"] for s in samples] == ["hard", "hard", "easy", "easy"]
    assert [s["requested"] for s in samples[:2]] == ["negative", "negative"] and samples[0]["weakness"] == "irony"
    assert {s["requested"] for s in samples[2:]} == {"negative", "positive"}
    assert [s["id"] for s in samples] == ["r3-0", "r3-1", "r3-2", "r3-3"]


def test_generate_keeps_text_only_and_rejects_unparseable():
    requests = plan(TASK, {}, 1, 1, 1)
    batch, replies = generate(
        teacher('{"text": "a  dull\\nfilm indeed"}', "not json\nat all", parse_attempts=1),
        default("classification", "generator"),
        TASK,
        "d",
        {},
        [],
        [],
        requests,
        seed=0,
    )
    assert batch[0]["text"] == "a dull film indeed" and batch[0]["verdict"] == "pending"
    assert batch[1]["verdict"] == "rejected" and batch[1]["reason"] == "malformed"
    assert all(s["teacher_tokens"] == r.tokens for s, r in zip(batch, replies, strict=True))


def test_screen_rejects_short_refusals_duplicates_and_leaks():
    leak = LeakIndex(["the one test sentence that must never be copied into training data"])
    seen = {"a fine old film"}
    s = lambda text: Sample(text=text)  # noqa: E731
    assert screen(s("too short"), seen, leak) == "empty"
    assert screen(s("I'm sorry, I can't assist with that request."), seen, leak) == "refusal"
    assert screen(s("A fine, old film!"), seen, leak) == "duplicate"
    assert screen(s("so: one test sentence that must never be copied into it"), seen, leak) == "contaminated"
    assert screen(s("a brand new sentence"), seen, leak) == ""


def test_match_label_is_strict_about_the_label_set():
    labels = ("negative", "positive")
    assert match_label("Positive", labels) == "positive"
    assert match_label("The label is negative.", labels) == "negative"
    assert match_label("neutral", labels) is None
    assert match_label("positive or negative", labels) is None


def test_critic_labels_separately_and_records_every_verdict():
    batch = [
        Sample(
            id=f"r1-{i}",
            round=1,
            stance="easy",
            requested=req,
            text=text,
            verdict="pending",
            reason="",
            teacher_tokens=5,
        )
        for i, (req, text) in enumerate(
            [
                ("positive", "a good great film"),
                ("positive", "a bad awful film"),
                ("negative", "a mixed bag of a film"),
                ("negative", "a good great film"),
            ]
        )
    ]
    replies = ['{"labels": ["positive"]}', '{"labels": ["negative"]}', '{"labels": ["neutral"]}']
    out, _ = label_batch(
        teacher(*replies), default("classification", "critic"), TASK, "sentiment", batch, set(), LeakIndex([])
    )
    assert [(s["verdict"], s["reason"]) for s in out] == [
        ("accepted", ""),
        ("rejected", "label_mismatch"),
        ("rejected", "off_label"),
        ("rejected", "duplicate"),
    ]
    assert out[0]["label"] == "positive" and out[1]["label"] == "negative"


def test_the_teacher_reference_reads_answers_as_the_critic_does():
    # Same call and checks as `label`: an off-label answer and a malformed reply both predict "(none)".
    replies = ['{"labels": ["Positive"]}', '{"labels": ["neutral"]}', "not json at all", '{"labels": ["negative"]}']
    examples = [{"text": t, "label": "positive"} for t in ("fine", "meh", "odd", "bad")]
    predicted, answered, unusable = bench_task(adapter_for("classification")).reference_labels(
        teacher(*replies, parse_attempts=1), default("classification", "critic"), TASK, "sentiment", examples
    )
    assert predicted == ["positive", "(none)", "(none)", "negative"] and unusable == 2 and len(answered) == 4


class RecordingTeacher:
    """Records each prompt and answers nothing usable."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def ask(self, prompt: str, schema: object, seed: int | None = None, logprobs: bool = False) -> Reply:
        self.prompts.append(prompt)
        return Reply(parsed=None, reason="malformed", raw="")


@pytest.mark.parametrize(("kind", "labels"), [("classification", ("negative", "positive")), ("ner", ("person",))])
def test_the_analyst_prompt_gains_a_pool_section_only_with_pool_texts(kind, labels):
    task, template, teacher_ = Task(kind=kind, labels=labels), default(kind, "analyst"), RecordingTeacher()
    analyse(teacher_, template, task, "d", [], 5, 0)  # type: ignore[arg-type]
    analyse(teacher_, template, task, "d", [], 5, 0, uncertain=["an odd <<<text>>>"])  # type: ignore[arg-type]
    without, with_pool = teacher_.prompts
    # Without pool texts the prompt is the one written before pool mode existed, byte for byte.
    assert without == render(
        template.replace("$pool", ""), task="d", labels=", ".join(labels), wrong="(none)", correct="(none)"
    )
    section = with_pool.removeprefix(without.split("\n\nSummarise")[0]).split("\n\nSummarise")[0]
    assert "least sure of" in section and '- "an odd < < <text> > >"' in section
    assert with_pool.replace(section, "") == without


def test_the_labelling_call_shows_a_long_texts_lead_and_a_short_one_whole():
    long_text = " ".join(f"w{i}" for i in range(400))
    batch = [
        Sample(id=f"p-{i}", round=1, text=t, verdict="pending", reason="", teacher_tokens=0)
        for i, t in enumerate([long_text, "a good film to see"])
    ]
    recorder = RecordingTeacher()
    recorder.ask_many = lambda prompts, schema, logprobs=False: [recorder.ask(p, schema) for p in prompts]  # type: ignore[attr-defined]
    label_batch(recorder, default("classification", "critic"), TASK, "d", batch, set(), LeakIndex([]))  # type: ignore[arg-type]
    lead, short = recorder.prompts
    assert f"w{LABEL_WORDS - 1} ..." in lead and f"w{LABEL_WORDS} " not in lead
    assert "[1] a good film to see\n" in short


def test_the_labelling_call_shows_the_cards_label_meanings_and_without_them_the_labels_inline():
    recorder = RecordingTeacher()
    recorder.ask_many = lambda prompts, schema, logprobs=False: [recorder.ask(p, schema) for p in prompts]  # type: ignore[attr-defined]
    batch = [Sample(id="p-0", round=1, text="a good film to see", verdict="pending", reason="", teacher_tokens=0)]
    meanings = {"positive": "the reviewer liked the film", "unused": "not a label of the task"}
    for adapter in (adapter_for(TASK), adapter_for(TASK).fitted([], meanings), adapter_for(TASK).fitted([], {})):
        label_batch(recorder, default("classification", "critic"), TASK, "d", batch, set(), LeakIndex([]), adapter)  # type: ignore[arg-type]
    plain, described, empty = recorder.prompts
    assert "Allowed labels: negative, positive\n" in plain and empty == plain  # as before meanings existed
    assert "Allowed labels: \n- negative\n- positive: the reviewer liked the film\n" in described
    assert described.replace("\n- negative\n- positive: the reviewer liked the film", "negative, positive") == plain
