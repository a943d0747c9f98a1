"""NER mention masking (``mask_mentions``): a sentence keeps its good mentions, a failing mention's words are
masked, and every reader of the tags (training, agreement, feedback, the noise step) skips masked words."""

from __future__ import annotations

import json

import torch

from evokd.agents.noise import contradicted
from evokd.data.bio import entity_types
from evokd.prompts import default
from evokd.state import Sample
from evokd.student.train import IGNORE, align_labels
from evokd.task import MASKED, Task
from evokd.tasks import adapter_for
from evokd.tasks.ner import annotate, compare, resolve
from tests.support.fake_chat import scripted_teacher

TYPES = ("company", "geo-loc", "person", "product")
TASK = Task("ner", TYPES)
M = MASKED


def masked(sentence: str, *mentions: tuple[str, str]):
    """Resolve (text, type) mentions with masking on."""
    return resolve(sentence, [{"text": t, "type": e} for t, e in mentions], TYPES, mask=True)


def test_a_failing_mention_is_masked_and_the_good_ones_kept():
    res = masked("we met Bob in Paris today", ("Bob", "person"), ("Paris", "city_name"))
    assert res.reason == ""
    assert res.tags == ["O", "O", "B-person", "O", M, "O"]
    assert [e["text"] for e in res.entities] == ["Bob"]
    assert [(e["text"], e["error"]) for e in res.masked] == [("Paris", "unknown_type")]
    # Without masking the same reply drops the sentence.
    off = resolve(
        "we met Bob in Paris today", [{"text": "Bob", "type": "person"}, {"text": "Paris", "type": "x"}], TYPES
    )
    assert off.reason == "unknown_type" and off.tags == []


def test_every_occurrence_and_every_word_of_a_failing_mention_is_masked():
    res = masked("coffee shop then coffee shop with Ann", ("coffee shop", "company"), ("Ann", "person"))
    assert res.tags == [M, M, "O", M, M, "O", "B-person"]


def test_a_token_cut_by_a_failing_mention_is_masked_whole():
    res = masked("Samsung phones rock", ("Sam", "person"))
    assert res.reason == "" and res.tags == [M, "O", "O"]


def test_a_placed_span_a_failing_mention_touches_is_masked_too():
    res = masked("Bank of America Tower is tall", ("Bank of America", "company"), ("America Tower", "geo-loc"))
    assert res.tags == [M, M, M, M, "O", "O"] and res.entities == []


def test_a_mention_the_sentence_does_not_hold_still_rejects_it():
    res = masked("We met Bob in London", ("Bob", "person"), ("Gotham City", "geo-loc"))
    assert res.reason == "not_substring" and res.tags == []
    assert masked("We met Bob", ("Bob", "person"), ("", "person")).reason == "malformed"


def test_a_clean_reply_is_the_same_with_or_without_masking():
    mentions = [{"text": "Bob", "type": "person"}, {"text": "London", "type": "geo-loc"}]
    assert resolve("Bob in London", mentions, TYPES, mask=True) == resolve("Bob in London", mentions, TYPES)


def test_annotate_keeps_a_partly_wrong_sentence_and_records_what_it_masked():
    def fresh() -> list[Sample]:
        return [Sample(id="r1-0", text="we met Bob in Paris", verdict="pending", source="pool")]

    reply = json.dumps({"entities": [{"text": "Bob", "type": "person"}, {"text": "Paris", "type": "city_name"}]})
    dropped, kept = fresh(), fresh()
    annotate(scripted_teacher(reply, parse_attempts=1), default("ner", "critic"), TASK, "tweets", dropped)
    annotate(scripted_teacher(reply, parse_attempts=1), default("ner", "critic"), TASK, "tweets", kept, mask=True)
    assert (dropped[0]["verdict"], dropped[0]["reason"]) == ("rejected", "unknown_type")
    assert (kept[0]["verdict"], kept[0]["reason"]) == ("accepted", "")
    assert kept[0]["tags"] == ["O", "O", "B-person", "O", M]
    assert kept[0]["masked"] == [{"text": "Paris", "type": "city_name", "error": "unknown_type"}]
    assert adapter_for(TASK).to_example(kept[0])["tags"] == kept[0]["tags"]


def test_training_skips_masked_words():
    tag2id = {"O": 0, "B-person": 1}
    # [CLS] we met Bob Paris(2 sub-tokens) [SEP]
    assert align_labels([None, 0, 1, 2, 3, 3, None], ["O", "O", "B-person", M], tag2id) == [
        IGNORE,
        0,
        0,
        1,
        IGNORE,
        IGNORE,
        IGNORE,
    ]


def test_agreement_and_feedback_ignore_what_the_student_says_on_masked_words():
    ner = adapter_for(TASK)
    gold = ["O", "B-person", "O", M, M]
    assert ner.agrees(gold, ["O", "B-person", "O", "B-company", "I-company"])
    assert ner.agrees(gold, ["O", "B-person", "O", "O", "O"])
    assert ner.agrees(gold, ["O", "B-person", "O", "O", "B-geo-loc"])
    assert not ner.agrees(gold, ["O", "O", "O", "O", "O"])  # the kept mention is missed
    assert not ner.agrees(gold, ["B-geo-loc", "B-person", "O", "O", "O"])  # a spurious one outside the mask
    errors, right = compare(["with", "Bob", "at", "coffee", "shop"], gold, ["O", "O", "O", "B-person", "I-person"])
    assert errors == ['missed "Bob" (person)'] and right == []  # nothing is said about the span on masked words
    assert not ner.agrees(["O", "B-person"], ["O", "O"]) and ner.agrees(["O", "B-person"], ["O", "B-person"])
    assert entity_types(gold) == {"person"}


def test_the_noise_step_reads_only_unmasked_words():
    names = ("O", "B-person")
    sure_o = torch.tensor([[0.99, 0.01]])
    probs = [torch.cat([sure_o, torch.tensor([[0.01, 0.99]])]), torch.cat([sure_o, sure_o])]
    # the second word is masked in the first sentence: the student's confident B-person there contradicts nothing
    assert contradicted(probs, [["O", M], ["O", "B-person"]], names) == [False, True]
    assert contradicted([sure_o], [[M]], names) == [False]
