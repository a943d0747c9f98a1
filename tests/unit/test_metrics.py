"""Metrics on hand-computed cases: macro-F1 for classification, strict IOB2 span F1 for NER."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest

from evokd.task import Task
from evokd.tasks import evaluate

CLF = Task("classification", ("a", "b", "c"))
NER = Task("ner", ("LOC", "ORG", "PER"))


def gold_labels(*labels: str) -> list[dict]:
    """Classification gold examples with the given labels."""
    return [{"text": str(i), "label": lab} for i, lab in enumerate(labels)]


def gold_tags(*sentences: str) -> list[dict]:
    """NER gold examples, one space-separated tag string per sentence."""
    return [{"tags": s.split()} for s in sentences]


def test_classification_by_hand() -> None:
    # a: predicted at 0 and 3, right at 0 -> P 1/2, R 1/2; b: predicted at 1 and 2, right at 2 -> P 1/2, R 1;
    # c: never predicted -> all 0. macro-F1 = (0.5 + 0.6667 + 0) / 3.
    result = evaluate(CLF, gold_labels("a", "a", "b", "c"), ["a", "b", "b", "a"])
    assert result == {
        "accuracy": 0.5,
        "macro_f1": 0.3889,
        "per_label": {
            "a": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
            "b": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1},
            "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        },
        "score": 0.3889,
        "n": 4,
    }


def test_classification_label_missing_from_gold_still_counts() -> None:
    result = evaluate(CLF, gold_labels("a", "b"), ["a", "b"])  # "c" absent: F1 0 under zero_division=0
    assert result["accuracy"] == 1.0 and result["macro_f1"] == 0.6667
    assert result["per_label"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_ner_strict_iob2_drops_spans_without_b() -> None:
    gold = gold_tags("B-PER I-PER O")
    assert evaluate(NER, gold, [["I-PER", "I-PER", "O"]])["span_f1"] == 0.0  # lenient conlleval would say 1.0
    assert evaluate(NER, gold, [["B-PER", "O", "O"]])["span_f1"] == 0.0  # wrong boundary
    assert evaluate(NER, gold, [["B-LOC", "I-LOC", "O"]])["span_f1"] == 0.0  # wrong type
    assert evaluate(NER, gold, [["B-PER", "I-PER", "O"]])["span_f1"] == 1.0


def test_ner_micro_and_per_type_by_hand() -> None:
    # Gold spans: PER(0-1), LOC(3), LOC(s2). Predicted: PER(0-1) right, PER(3) wrong, LOC(s2) right.
    gold = gold_tags("B-PER I-PER O B-LOC", "B-LOC O")
    pred = [["B-PER", "I-PER", "O", "B-PER"], ["B-LOC", "O"]]
    result = evaluate(NER, gold, pred)
    assert (result["precision"], result["recall"], result["span_f1"]) == (0.6667, 0.6667, 0.6667)
    assert result["per_type"] == {
        "LOC": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2},
        "ORG": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},  # every task type is reported
        "PER": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1},
    }
    assert result["score"] == result["span_f1"] and result["n"] == 2


def test_empty_sets_score_zero() -> None:
    assert evaluate(CLF, [], [])["score"] == 0.0
    assert evaluate(NER, [], [])["score"] == 0.0
    assert evaluate(NER, gold_tags("O O"), [["O", "O"]])["score"] == 0.0


def test_mismatched_lengths_are_errors() -> None:
    with pytest.raises(ValueError, match="2 gold examples but 1 predictions"):
        evaluate(CLF, gold_labels("a", "b"), ["a"])
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        evaluate(NER, gold_tags("O O"), [["O"]])
