"""The label-cost benchmark over HTTP: every batch size labels the same texts, really calling the teacher
(a fresh cache each), and the batch size is chosen by the rule fixed in code."""

from __future__ import annotations

import json

import pytest

from evokd.bench.label_cost import (
    CONFIDENCE_LADDER,
    NER_PROMPTS,
    by_confidence,
    choose,
    choose_ner_prompt,
    compare_ner_prompts,
    confidence_table,
    confident_rung,
    label_all,
    ner_prompts_markdown,
)
from tests.support.fake_openai import FakeOpenAI, NerTeacher, SentimentTeacher, numbered_texts, prompt_of, schema_name


class WrongInBatches:
    """The scripted sentiment teacher, but every label flipped when a call carries more than two texts."""

    def __init__(self) -> None:
        self.inner = SentimentTeacher()

    def __call__(self, body: dict) -> str:
        reply = self.inner(body)
        if schema_name(body) == "LabelVerdict" and len(numbered_texts(prompt_of(body))) > 2:
            return reply.replace("positive", "x").replace("negative", "positive").replace("x", "negative")
        return reply


def test_each_batch_size_labels_the_same_texts_in_fewer_calls_and_is_scored(sentiment_dir):
    with FakeOpenAI(WrongInBatches()) as server:
        endpoint = {"teacher_url": server.url, "teacher_model": "teacher", "json_mode": "json_schema"}
        measured = label_all(str(sentiment_dir), 8, [1, 2, 4], endpoint, lambda line: None)
        calls = [len(numbered_texts(prompt_of(r))) for r in server.requests if schema_name(r) == "LabelVerdict"]
    assert calls == [1] * 8 + [2] * 4 + [4] * 2  # nothing answered from a cache: each size asked afresh
    rows = {r["per_call"]: r for r in measured["rows"]}
    assert measured["texts"] == 8 and [rows[k]["calls"] for k in (1, 2, 4)] == [8, 4, 2]
    one = rows[1]["accuracy"]  # the keyword teacher misses "great" and "lovely" texts: 0.625 on this set
    assert rows[2]["accuracy"] == one > 0.5 and rows[4]["accuracy"] == pytest.approx(1 - one)  # every label flipped
    assert rows[2]["accuracy_vs_one_per_call"] == [0.0, 0.0, 0.0]
    assert rows[4]["accuracy_vs_one_per_call"][0] == pytest.approx(1 - 2 * one, abs=1e-4)
    assert rows[1]["tokens_per_text"] > rows[2]["tokens_per_text"] > rows[4]["tokens_per_text"] > 0
    assert choose(measured["rows"]) == 2  # 4 per call flips every label
    assert [r["with_confidence"] for r in measured["rows"]] == [0, 0, 0]  # this server sends no log-probabilities
    assert "no label has a confidence" in confidence_table(measured["rows"])[-1]
    # The texts labelled are the dev split's (each ends "indeed"), never the test split's (each starts "truly").
    labelled = [t for r in server.requests if schema_name(r) == "LabelVerdict" for t in numbered_texts(prompt_of(r))]
    assert measured["split"] == "dev" and labelled and all(t.endswith("indeed") for t in labelled)


def test_label_cost_refuses_the_test_split(sentiment_dir):
    with pytest.raises(ValueError, match="not test"):
        label_all(str(sentiment_dir), 8, [1], {"teacher_url": "http://127.0.0.1:9"}, lambda line: None, "test")


def test_choose_takes_the_largest_batch_within_the_tolerance():
    rows = [{"per_call": 1, "accuracy": 0.82}, {"per_call": 4, "accuracy": 0.805}, {"per_call": 8, "accuracy": 0.79}]
    assert choose(rows) == 4
    assert choose([{"per_call": 1, "accuracy": 0.8}, {"per_call": 8, "accuracy": 0.7}]) == 1


def test_each_min_confidence_keeps_the_labels_at_or_above_it_and_scores_both_sides():
    right = [True, True, False, True, False]
    confidences = [0.95, 0.8, 0.6, None, 0.4]  # no confidence: kept, as a run keeps it
    rungs = {b["min_confidence"]: b for b in by_confidence(right, confidences)}
    assert tuple(rungs) == CONFIDENCE_LADDER
    assert (rungs[0.5]["kept"], rungs[0.5]["accuracy_kept"], rungs[0.5]["accuracy_dropped"]) == (0.8, 0.75, 0.0)
    assert (rungs[0.9]["kept"], rungs[0.9]["accuracy_kept"], rungs[0.9]["accuracy_dropped"]) == (0.4, 1.0, 0.3333)
    assert rungs[0.99]["kept"] == 0.2 and rungs[0.99]["accuracy_kept"] == 1.0
    assert by_confidence([True], [0.1])[0]["accuracy_kept"] is None  # nothing kept: None, not 0


def test_a_confidence_filter_qualifies_only_if_it_keeps_most_labels_and_lifts_their_accuracy():
    def row(*rungs: tuple[float, float], with_confidence: int = 300) -> dict:  # (kept, accuracy kept) per rung
        return {
            "accuracy": 0.80,
            "with_confidence": with_confidence,
            "by_confidence": [
                {"min_confidence": t, "kept": k, "accuracy_kept": a}
                for t, (k, a) in zip(CONFIDENCE_LADDER, rungs, strict=True)
            ],
        }

    passing = [(0.95, 0.82), (0.80, 0.86), (0.72, 0.90), (0.40, 0.97)]
    assert confident_rung(row(*passing)) == 0.7  # the lowest rung that passes
    assert confident_rung(row((0.95, 0.82), (0.85, 0.84), (0.60, 0.95), (0.40, 0.97))) is None  # lift or keep short
    assert confident_rung(row(*passing, with_confidence=0)) is None  # no confidences: nothing to filter


def test_the_confidence_gate_is_the_rule_applied_to_the_committed_dev_measurement():
    from evokd.agents.noise import CONFIDENCE_GATE
    from evokd.bench.label_cost import RESULTS, gate_rung

    rows = json.loads((RESULTS / "label-call-rotten_tomatoes-dev.json").read_text(encoding="utf-8"))["rows"]
    label_only = next(r for r in rows if r["label_call"] == "label-only")  # the default call's confidences
    assert gate_rung(label_only) == CONFIDENCE_GATE
    made_up = {"by_confidence": [
        {"min_confidence": 0.5, "kept": 1.0, "accuracy_kept": 0.8, "accuracy_dropped": None},
        {"min_confidence": 0.7, "kept": 0.9, "accuracy_kept": 0.85, "accuracy_dropped": 0.6},
        {"min_confidence": 0.9, "kept": 0.5, "accuracy_kept": 0.95, "accuracy_dropped": 0.5},
    ]}  # fmt: skip
    assert gate_rung(made_up) == 0.9 and gate_rung({"by_confidence": made_up["by_confidence"][:1]}) is None


def test_each_ner_prompt_labels_the_dev_sentences_as_a_run_and_the_rule_picks_the_cheapest_that_holds(ner_dir):
    (ner_dir / "card.json").write_text(json.dumps({"label_descriptions": {"company": "a business (Initech)"}}))
    with FakeOpenAI(NerTeacher()) as server:
        endpoint = {"teacher_url": server.url, "teacher_model": "teacher", "json_mode": "json_schema"}
        result = compare_ner_prompts(str(ner_dir), 3, endpoint, lambda line: None)
        prompts = [prompt_of(r) for r in server.requests if schema_name(r) == "Annotation"]
    rows = {r["variant"]: r for r in result["rows"]}
    assert list(rows) == list(NER_PROMPTS) and len(prompts) == 4 * 3  # no reply cached across prompts
    # Only the first 3 dev sentences are asked (the 4th, "nothing here", and test sentences never are).
    assert {p.split("<<<")[1].split(">>>")[0].strip() for p in prompts} == {
        "Bob visited London today",
        "Acme hired Alice Smith",
        "Paris is nice",
    }
    # The scripted teacher names every mention right whatever the wording: same F1, all accepted.
    assert {r["span_f1"] for r in rows.values()} == {1.0} and {r["accepted"] for r in rows.values()} == {3}
    with_meanings = [p for p in prompts if "a business" in p]
    assert len(with_meanings) == 6  # shipped and terse show the card's meaning; the -names prompts do not
    assert (
        rows["terse-names"]["tokens_per_text"] < rows["terse"]["tokens_per_text"] < rows["shipped"]["tokens_per_text"]
    )
    assert result["chosen"] == "terse-names" == choose_ner_prompt(result["rows"])
    assert "**terse-names**" in ner_prompts_markdown(
        {**result, "dataset": "ner", "date_utc": "", "command": "", "teacher": "", "machine": ""}
    )


def test_the_ner_prompt_rule_keeps_the_shipped_prompt_unless_a_cheaper_one_holds_its_span_f1():
    def row(name: str, f1: float, accepted: int, per_accepted: float | None) -> dict:
        return {"variant": name, "span_f1": f1, "accepted": accepted, "tokens_per_accepted": per_accepted}

    shipped = row("shipped", 0.40, 30, 1500.0)
    assert choose_ner_prompt([shipped, row("terse", 0.385, 40, 800.0), row("terse-names", 0.37, 60, 400.0)]) == "terse"
    assert choose_ner_prompt([shipped, row("terse", 0.30, 60, 400.0)]) == "shipped"  # cheaper, but worse mentions
    assert choose_ner_prompt([row("shipped", 0.1, 0, None), row("terse", 0.1, 0, None)]) == "shipped"  # none kept
    assert choose_ner_prompt([row("shipped", 0.1, 0, None), row("terse", 0.1, 2, 900.0)]) == "terse"


def test_the_ner_prompt_comparison_refuses_classification_data(sentiment_dir):
    with pytest.raises(ValueError, match="for NER data"):
        compare_ner_prompts(str(sentiment_dir), 2, {"teacher_url": "http://127.0.0.1:9"}, lambda line: None)
