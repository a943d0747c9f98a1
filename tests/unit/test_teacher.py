"""The teacher client (evokd/teacher/client.py) over a fake chat model: reply repair, re-asking, the reply cache.

Its behaviour over HTTP against a misbehaving endpoint is in tests/wire/test_faults.py.
"""

from __future__ import annotations

from evokd.schemas import GeneratedText, LabelVerdict, label_verdict
from evokd.teacher.client import ReplyCache, parse_reply
from tests.support.fake_chat import scripted_teacher as teacher


def test_parse_reply_repairs_fences_prose_and_bare_answers():
    assert parse_reply('Sure!\n```json\n{"text": "a film"}\n```\nHope it helps', GeneratedText)[0].text == "a film"
    assert parse_reply('[{"labels": ["positive"]}]', LabelVerdict)[0].labels == ["positive"]
    assert parse_reply("positive", LabelVerdict)[0].labels == ["positive"]
    assert parse_reply('["positive", "negative"]', LabelVerdict)[0].labels == ["positive", "negative"]
    assert parse_reply('["positive"]', label_verdict(2)) == (None, "malformed")  # one label short for two texts
    assert parse_reply('{"text": "cut off', GeneratedText) == (None, "malformed")
    assert parse_reply("   ", GeneratedText) == (None, "empty")
    assert parse_reply('{"other": 1}', GeneratedText) == (None, "malformed")


def test_ask_retries_a_malformed_reply_then_gives_up_with_a_reason():
    t = teacher('{"text": ', '{"text": "second try"}', parse_attempts=2)
    reply = t.ask("write", GeneratedText)
    assert reply.parsed.text == "second try" and reply.attempts == 2
    t = teacher('{"text": ', "{oops", parse_attempts=2)
    reply = t.ask("write", GeneratedText)
    assert reply.parsed is None and reply.reason == "malformed" and reply.attempts == 2


def test_cache_answers_a_repeated_request_without_calling_the_model(tmp_path):
    cache = ReplyCache(tmp_path / "c.sqlite")
    first = teacher('{"text": "one"}', cache=cache).ask("p", GeneratedText, seed=1)
    again = teacher('{"text": "two"}', cache=cache).ask("p", GeneratedText, seed=1)
    other_seed = teacher('{"text": "three"}', cache=cache).ask("p", GeneratedText, seed=2)
    assert (first.parsed.text, again.parsed.text, other_seed.parsed.text) == ("one", "one", "three")
    assert again.cached and not first.cached
