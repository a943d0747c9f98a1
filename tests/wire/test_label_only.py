"""The label-only labelling call over the wire: a fixed system message, the text last, a reply of a few tokens,
every label's probability read from the endpoint's log-probabilities, and the reply's text as the fallback."""

from __future__ import annotations

import json
import math

import pytest

from evokd.agents.critic import label_batch
from evokd.bench.bench_task import bench_task
from evokd.bench.label_cost import LABEL_PROMPTS, choose_lead, choose_prompt, compare_calls, compare_prompts
from evokd.prompts import default
from evokd.state import Sample
from evokd.task import Task
from evokd.tasks import adapter_for
from evokd.tasks.classification import (
    LABEL_ONLY_MAX_TOKENS,
    LABEL_ONLY_TOP,
    LABEL_WORDS,
    Classification,
    label_only_messages,
)
from evokd.teacher.client import Reply, ReplyCache, Teacher, chat_model, value_probabilities
from evokd.text import LeakIndex
from tests.support.fake_openai import FakeOpenAI, NerTeacher, Scripted, SentimentTeacher, schema_name, user_turn

TASK = Task("classification", ("negative", "positive"))
TEXTS = ["a good film with a great cast", "a slow story about nothing much", "the good parts are lovely enough"]


def teacher(url: str, cache: ReplyCache | None = None) -> Teacher:
    chat = chat_model(url, "teacher", temperature=0.0, max_tokens=320, timeout=10, max_retries=0)
    return Teacher(chat, model_id="t", json_mode="json_object", concurrency=2, cache=cache)


def pending(texts: list[str], requested: str = "") -> list[Sample]:
    extra = {"requested": requested} if requested else {}
    return [Sample(id=str(i), source="pool", text=t, verdict="pending", **extra) for i, t in enumerate(texts)]


def label_only(t: Teacher, samples: list[Sample], min_confidence: float = 0.0) -> tuple[list[Sample], list[Reply]]:
    return label_batch(
        t,
        "unused by the label-only call",
        TASK,
        "Decide whether a text is positive or negative.",
        samples,
        set(),
        LeakIndex([]),
        adapter=Classification(),
        min_confidence=min_confidence,
        label_call="label-only",
    )


def test_the_label_and_every_labels_probability_come_from_the_top_tokens(tmp_path):
    with FakeOpenAI(SentimentTeacher()) as server:
        out, replies = label_only(teacher(server.url, ReplyCache(tmp_path / "c.sqlite")), pending(TEXTS))
        bodies = list(server.requests)
    assert [s["label"] for s in out] == ["positive", "negative", "positive"]
    # "positive" 0.9 and " Negative" 0.1: case and leading space do not hide a label.
    assert out[0]["teacher_probs"] == pytest.approx({"negative": 0.1, "positive": 0.9})
    assert out[1]["teacher_probs"] == pytest.approx({"negative": 0.7, "positive": 0.3})
    assert out[1]["teacher_confidence"] == pytest.approx(0.7)
    assert all(s["teacher_tokens"] == r.tokens > 0 for s, r in zip(out, replies, strict=True))
    # The request: no JSON asked for, a reply of a few tokens with alternatives, the fixed part first and the
    # same in every call (a prefix cache reuses it), the text last.
    assert all("response_format" not in b for b in bodies)
    # The cap under both names: llama-cpp-python's server reads only max_tokens, langchain-openai sends the other.
    assert {(b["max_tokens"], b["max_completion_tokens"]) for b in bodies} == {(LABEL_ONLY_MAX_TOKENS,) * 2}
    assert {b["top_logprobs"] for b in bodies} == {LABEL_ONLY_TOP} and all(b["logprobs"] for b in bodies)
    systems = {b["messages"][0]["content"] for b in bodies}
    assert len(systems) == 1 and all(b["messages"][0]["role"] == "system" for b in bodies)
    (system,) = systems
    assert system == "Answer with one of: negative, positive"  # the shipped prompt: no text in the fixed part
    assert sorted(user_turn(b) for b in bodies) == sorted(TEXTS)


def test_a_confidence_floor_applies_to_label_only_labels():
    with FakeOpenAI(SentimentTeacher()) as server:
        out, _ = label_only(teacher(server.url), pending(TEXTS), min_confidence=0.8)
    assert [s["verdict"] for s in out] == ["accepted", "rejected", "accepted"]
    assert out[1]["reason"] == "low_confidence"


@pytest.mark.parametrize(
    ("reply", "verdict", "label"),
    [
        ("Positive.", "accepted", "positive"),  # matched like the JSON call's answer
        ("the text is negative", "accepted", "negative"),  # the one label it mentions
        ("nega", "accepted", "negative"),  # cut short by the small max_tokens: the label it begins
        ("I'm sorry, I cannot", "rejected", None),  # a refusal names no label
        ("neutral", "rejected", None),
    ],
)
def test_without_log_probabilities_the_reply_text_is_matched(reply: str, verdict: str, label: str | None):
    with FakeOpenAI(lambda body: reply) as server:
        (s,), _ = label_only(teacher(server.url), pending(TEXTS[:1]))
    assert s["verdict"] == verdict and "teacher_probs" not in s and s["teacher_confidence"] is None
    assert s["label"] == label if label else s["reason"] == "off_label"


def test_a_refusal_is_off_label_whatever_the_alternatives_say():
    scripted = Scripted(content="I", logprobs=[("I", -0.1)], top=[[("I", -0.1), ("positive", -3.0)]])
    with FakeOpenAI(lambda body: scripted) as server:
        (s,), _ = label_only(teacher(server.url), pending(TEXTS[:1]))
    assert (s["verdict"], s["reason"]) == ("rejected", "off_label") and "teacher_probs" not in s


def test_a_generated_text_must_get_the_requested_label():
    with FakeOpenAI(SentimentTeacher()) as server:
        (s,), _ = label_only(teacher(server.url), pending(TEXTS[1:2], requested="positive"))
    assert (s["verdict"], s["reason"], s["label"]) == ("rejected", "label_mismatch", "negative")


def test_soft_targets_travel_from_the_critic_to_the_training_example():
    with FakeOpenAI(SentimentTeacher()) as server:
        out, _ = label_only(teacher(server.url), pending(TEXTS[1:2]))
    example = Classification().to_example(out[0])
    assert example["label"] == "negative" and example["teacher_probs"] == pytest.approx(
        {"negative": 0.7, "positive": 0.3}
    )
    assert "teacher_probs" not in Classification().to_example(Sample(text="x", label="negative"))


def test_alternatives_survive_the_cache(tmp_path):
    cache = ReplyCache(tmp_path / "c.sqlite")
    with FakeOpenAI(SentimentTeacher()) as server:
        first = teacher(server.url, cache).ask_plain("sys", ["Text: good\nLabel:"], 3, 10)[0]
        again = teacher(server.url, cache).ask_plain("sys", ["Text: good\nLabel:"], 3, 10)[0]
        assert len(server.requests) == 1
    assert again.cached and again.top_logprobs == first.top_logprobs and first.top_logprobs


def reply(tokens: list[tuple[str, float]], top: list[list[tuple[str, float]]]) -> Reply:
    return Reply(parsed=None, reason=None, raw="".join(t for t, _ in tokens), token_logprobs=tokens, top_logprobs=top)


def test_probabilities_follow_the_replys_path_through_labels_that_share_a_start():
    labels = ("sci/tech", "sport", "business")
    lp = math.log
    # "sport" splits into "sp" + "ort" here; "sci" leaves the path at the second token; "business" at the first.
    r = reply(
        [("sp", lp(0.6)), ("ort", lp(0.9))],
        [[("sp", lp(0.6)), ("Business", lp(0.2)), ("s", lp(0.1)), ("hello", lp(0.1))], [("ort", lp(0.9))]],
    )
    probs = value_probabilities(r, labels)
    assert probs is not None
    # "s" begins both sci/tech and sport: shared; "hello" begins no label: dropped before renormalising.
    raw = {"sport": 0.6 * 0.9 + 0.05, "sci/tech": 0.05, "business": 0.2}
    total = sum(raw.values())
    assert probs == pytest.approx({k: v / total for k, v in raw.items()})
    assert value_probabilities(reply([("hi", lp(0.9))], [[("hi", lp(0.9)), ("yo", lp(0.1))]]), labels) is None
    assert value_probabilities(reply([("sport", 0.0)], []), labels) is None  # no alternatives sent


def test_both_calls_are_compared_on_the_same_dev_texts(sentiment_dir):
    with FakeOpenAI(SentimentTeacher()) as server:
        endpoint = {"teacher_url": server.url, "teacher_model": "teacher", "json_mode": "json_schema"}
        result = compare_calls(str(sentiment_dir), 6, endpoint, lambda line: None)
        texts = [user_turn(b) for b in server.requests if "response_format" not in b]
    assert all(t.endswith("indeed") for t in texts) and len(texts) == 6  # dev texts, never test
    json_row, label_row = result["rows"]
    assert (json_row["label_call"], label_row["label_call"]) == ("json", "label-only")
    assert label_row["predicted"] == json_row["predicted"] and result["gap"] == [0.0, 0.0, 0.0]
    assert label_row["tokens_per_text"] < json_row["tokens_per_text"]
    assert result["adopt_label_only"] is True


def test_each_label_prompt_labels_the_same_dev_texts_with_its_own_fixed_part(sentiment_dir):
    with FakeOpenAI(SentimentTeacher()) as server:
        endpoint = {"teacher_url": server.url, "teacher_model": "teacher", "json_mode": "json_schema"}
        result = compare_prompts(str(sentiment_dir), 6, endpoint, lambda line: None)
        systems = [b["messages"][0]["content"] for b in server.requests]
        texts = [user_turn(b) for b in server.requests]
    assert [r["variant"] for r in result["rows"]] == list(LABEL_PROMPTS) and len(texts) == 18
    assert all(t.removesuffix("\nLabel:").endswith("indeed") for t in texts)  # dev texts, never test
    assert len(set(systems)) == 3  # one fixed part per prompt, the same for each of its calls
    assert systems[-1] == "Answer with one of: negative, positive" and texts[-1].endswith("indeed")
    shipped, _, shortest = result["rows"]
    assert shortest["tokens_per_text"] < shipped["tokens_per_text"] and shortest["gap"] == [0.0, 0.0, 0.0]


def test_the_cheapest_label_prompt_within_two_points_on_every_dataset_is_chosen():
    def rows(*cells: tuple[str, float, float]) -> dict:
        return {"rows": [{"variant": v, "accuracy": a, "tokens_per_text": n} for v, a, n in cells]}

    reviews = rows(("shipped", 0.86, 71.0), ("no-scaffold", 0.85, 62.0), ("labels-only", 0.85, 47.0))
    assert choose_prompt([reviews]) == "labels-only"
    # labels-only loses 3 points on the second dataset: the next cheapest that holds on both.
    topics = rows(("shipped", 0.90, 300.0), ("no-scaffold", 0.89, 290.0), ("labels-only", 0.87, 270.0))
    assert choose_prompt([reviews, topics]) == "no-scaffold"
    worse = rows(("shipped", 0.90, 300.0), ("no-scaffold", 0.80, 290.0), ("labels-only", 0.87, 270.0))
    assert choose_prompt([reviews, worse]) == "shipped"  # none holds: today's prompt stays


def test_the_shipped_label_prompt_is_the_rule_applied_to_the_committed_dev_measurements():
    from evokd.bench.label_cost import RESULTS

    measured = [
        json.loads((RESULTS / f"label-prompt-{name}-dev.json").read_text(encoding="utf-8"))
        for name in ("rotten_tomatoes", "bbc_news")  # rotten_tomatoes first: its tokens rank the prompts
    ]
    assert all(r["rows"][0]["variant"] == "shipped" and r["texts"] >= 100 for r in measured)
    # Without label meanings the shipped prompt sends byte for byte the messages of the prompt the rule chose.
    shipped, chosen = (
        label_only_messages(template, "a task", "negative, positive", TEXTS)
        for template in (default("classification", "label"), LABEL_PROMPTS[choose_prompt(measured)])
    )
    assert shipped == chosen


def test_meanings_come_before_the_answer_line_which_keeps_the_labels_inline():
    card = Classification({"positive": "the reviewer liked it", "negative": "the reviewer did not"})
    with FakeOpenAI(SentimentTeacher()) as server:
        card.label_alone(teacher(server.url), TASK, "a task", pending(TEXTS[:1]))
        system = str(server.requests[0]["messages"][0]["content"])
    assert system == (
        "- negative: the reviewer did not\n- positive: the reviewer liked it\nAnswer with one of: negative, positive"
    )


def test_each_lead_clips_the_same_dev_texts_to_its_words(sentiment_dir, monkeypatch):
    from evokd.bench import label_cost

    monkeypatch.setattr(label_cost, "LEAD_WORDS", (3, 2, 1))
    with FakeOpenAI(SentimentTeacher()) as server:
        endpoint = {"teacher_url": server.url, "teacher_model": "teacher", "json_mode": "json_schema"}
        result = label_cost.compare_leads(str(sentiment_dir), 4, endpoint, lambda line: None)
        texts = [user_turn(b) for b in server.requests]
    assert [r["words"] for r in result["rows"]] == [3, 2, 1] and len(texts) == 12
    words = [t.removesuffix(" ...").split() for t in texts]
    assert [len(w) for w in words] == [3] * 4 + [2] * 4 + [1] * 4
    # the same texts, whatever order the concurrent calls arrived in
    assert sorted(w[:2] for w in words[:4]) == sorted(words[4:8]) and sorted(w[:1] for w in words[:4]) == sorted(
        words[8:]
    )
    assert result["chosen_words"] == label_cost.choose_lead(result["rows"])


def test_the_fewest_words_within_two_points_of_the_first_lead_are_chosen():
    def rows(*cells: tuple[int, float]) -> list[dict]:
        return [{"words": w, "accuracy": a} for w, a in cells]

    assert choose_lead(rows((150, 0.81), (100, 0.80), (50, 0.79))) == 50
    assert choose_lead(rows((150, 0.81), (100, 0.80), (50, 0.78))) == 100
    assert choose_lead(rows((150, 0.81), (100, 0.70), (50, 0.85))) == 50  # any eligible lead, fewest words first
    assert choose_lead(rows((150, 0.81), (100, 0.70), (50, 0.60))) == 150  # none holds: today's lead stays


def test_the_shipped_lead_is_the_rule_applied_to_the_committed_dev_measurement():
    from evokd.bench.label_cost import LEAD_WORDS, RESULTS

    measured = json.loads((RESULTS / "label-lead-bbc_news-dev.json").read_text(encoding="utf-8"))
    assert [r["words"] for r in measured["rows"]] == list(LEAD_WORDS) and measured["texts"] >= 100
    assert LABEL_WORDS == choose_lead(measured["rows"]) == measured["chosen_words"]


def test_the_meanings_variant_shows_each_label_with_its_line_and_the_other_does_not(
    sentiment_dir, tmp_path, monkeypatch
):
    from evokd.bench import label_cost

    card = tmp_path / "card.json"
    meanings = {"positive": "the reviewer liked it", "negative": "the reviewer did not"}
    card.write_text(json.dumps({"label_descriptions": meanings}), encoding="utf-8")
    monkeypatch.setattr(label_cost, "MEANINGS_CARD", card)
    with FakeOpenAI(SentimentTeacher()) as server:
        endpoint = {"teacher_url": server.url, "teacher_model": "teacher", "json_mode": "json_schema"}
        result = label_cost.compare_meanings(str(sentiment_dir), 4, endpoint, lambda line: None)
        systems = [str(b["messages"][0]["content"]) for b in server.requests]
    assert [r["variant"] for r in result["rows"]] == ["card as bundled", "with meanings"] and len(systems) == 8
    assert not any("the reviewer" in s for s in systems[:4])
    assert all("positive: the reviewer liked it" in s and "negative: the reviewer did not" in s for s in systems[4:])
    assert result["adopt_meanings"] == label_cost.adopt_meanings(result["rows"])
    card.write_text(json.dumps({"label_descriptions": {"good": "x", "bad": "y"}}), encoding="utf-8")
    with pytest.raises(ValueError, match="its meanings are for"):
        label_cost.compare_meanings(str(sentiment_dir), 4, endpoint, lambda line: None)


def test_meanings_ship_only_when_their_paired_gain_clears_zero():
    from evokd.bench.label_cost import adopt_meanings

    def rows(low: float) -> list[dict]:
        return [{"gap": [0.0, 0.0, 0.0]}, {"gap": [0.05, low, 0.1]}]

    assert adopt_meanings(rows(0.01)) and not adopt_meanings(rows(0.0)) and not adopt_meanings(rows(-0.02))


def test_ner_keeps_its_json_call():
    task = Task("ner", ("person", "geo-loc", "company"))
    with FakeOpenAI(NerTeacher()) as server:
        (s,), _ = label_batch(
            teacher(server.url),
            default("ner", "critic"),
            task,
            "Find the entities.",
            pending(["we met Bob in Paris today w0"]),
            set(),
            LeakIndex([]),
            adapter=adapter_for("ner"),
            label_call="label-only",
        )
        assert [schema_name(b) for b in server.requests] == ["Annotation"]
    assert s["verdict"] == "accepted" and "teacher_probs" not in s


def test_the_teacher_reference_labels_with_the_call_the_run_labels_with():
    # The benchmark's teacher reference must score the call that taught the student, not the JSON call.
    examples = [{"text": t, "label": "positive"} for t in TEXTS]
    with FakeOpenAI(SentimentTeacher()) as server:
        predicted, replies, unusable = bench_task(Classification()).reference_labels(
            teacher(server.url), "unused", TASK, "sentiment", examples, "label-only"
        )
        bodies = list(server.requests)
    assert predicted == ["positive", "negative", "positive"] and unusable == 0 and len(replies) == 3
    assert all("response_format" not in b and b["logprobs"] for b in bodies)  # the label-only request
