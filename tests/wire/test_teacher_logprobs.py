"""Teacher log-probabilities over the wire: the real ChatOpenAI client against the scripted loopback server."""

from __future__ import annotations

import math

from evokd.schemas import LabelVerdict
from evokd.teacher.client import Reply, ReplyCache, Teacher, chat_model, value_confidences
from tests.support.fake_openai import FakeOpenAI, Scripted

TOKENS = [
    ('{"', -0.01),
    ("labels", -0.02),
    ('": ["', 0.0),
    ("pos", math.log(0.8)),
    ("itive", math.log(0.9)),
    ('"]}', -0.001),
]
CONTENT = "".join(t for t, _ in TOKENS)


def teacher(url: str, cache: ReplyCache | None = None) -> Teacher:
    chat = chat_model(url, "teacher", temperature=0.0, max_tokens=20, timeout=10, max_retries=0)
    return Teacher(chat, model_id="t", json_mode="json_object", concurrency=1, cache=cache)


def test_the_chosen_labels_probability_comes_from_its_tokens(tmp_path):
    with FakeOpenAI(lambda body: Scripted(content=CONTENT, logprobs=TOKENS)) as server:
        reply = teacher(server.url).ask("label it", LabelVerdict, logprobs=True)
        assert server.requests[0]["logprobs"] is True
    assert reply.parsed is not None and reply.parsed.labels == ["positive"]
    assert math.isclose(value_confidences(reply, ["positive"])[0], 0.8 * 0.9, rel_tol=1e-6)


def test_each_label_of_a_batched_reply_gets_its_own_probability():
    tokens = [
        ('{"labels": ["', 0.0),
        ("negative", math.log(0.6)),
        ('", "', 0.0),
        ("negative", math.log(0.7)),
        ('"]}', 0.0),
    ]
    reply: Reply = Reply(parsed=None, reason=None, raw="".join(t for t, _ in tokens), token_logprobs=tokens)
    first, second = value_confidences(reply, ["negative", "negative"])
    assert math.isclose(first, 0.6, rel_tol=1e-6) and math.isclose(second, 0.7, rel_tol=1e-6)
    assert value_confidences(reply, ["negative", "positive"])[1] is None  # not in the reply: no confidence


def test_logprobs_are_only_asked_for_when_wanted_and_survive_the_cache(tmp_path):
    cache = ReplyCache(tmp_path / "cache.sqlite")
    with FakeOpenAI(lambda body: Scripted(content=CONTENT, logprobs=TOKENS)) as server:
        plain = teacher(server.url, cache).ask("label it", LabelVerdict)
        first = teacher(server.url, cache).ask("label it", LabelVerdict, logprobs=True)
        again = teacher(server.url, cache).ask("label it", LabelVerdict, logprobs=True)
        assert "logprobs" not in server.requests[0] and len(server.requests) == 2  # the third was a cache hit
    assert plain.token_logprobs == [] and value_confidences(plain, ["positive"]) == [None]
    assert again.cached and again.token_logprobs == first.token_logprobs == TOKENS


def test_no_confidence_when_tokens_do_not_spell_the_reply():
    reply: Reply = Reply(parsed=None, reason=None, raw='{"labels": ["positive"]}', token_logprobs=[("positive", -0.1)])
    assert value_confidences(reply, ["positive"]) == [None]
    assert value_confidences(Reply(parsed=None, reason=None, raw=CONTENT, token_logprobs=TOKENS), ["negative"]) == [
        None
    ]


def test_a_cache_written_before_logprobs_were_kept_still_opens(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE replies (key TEXT PRIMARY KEY, content TEXT, finish TEXT, prompt_tokens INTEGER,"
        " completion_tokens INTEGER)"
    )
    db.execute("INSERT INTO replies VALUES ('k', 'hello', 'stop', 3, 1)")
    db.commit()
    db.close()
    hit = ReplyCache(path).get("k")
    assert hit is not None and (hit.content, hit.prompt_tokens, hit.logprobs) == ("hello", 3, [])


def test_a_second_teacher_sharing_the_cache_misses_it(tmp_path, monkeypatch):
    from evokd.services import services
    from evokd.settings import Context

    cache = str(tmp_path / "shared.sqlite")
    with (
        FakeOpenAI(lambda body: Scripted(content='{"labels": ["positive"]}')) as one,
        FakeOpenAI(lambda body: Scripted(content='{"labels": ["negative"]}')) as two,
    ):
        first = services(Context(teacher_url=one.url, teacher_model="teacher", cache=cache)).teacher(labelling=True)
        second = services(Context(teacher_url=two.url, teacher_model="teacher", cache=cache)).teacher(labelling=True)
        assert first.ask("label it", LabelVerdict).parsed.labels == ["positive"]
        # The same model name at another endpoint is another teacher: asked, not answered from the cache.
        assert second.ask("label it", LabelVerdict).parsed.labels == ["negative"] and len(two.requests) == 1
        # The local teacher is known by its weights: the same file behind a new port is answered from the cache.
        a = services(Context(teacher_url=one.url, teacher_model="teacher", cache=cache, teacher_id="local:abc"))
        b = services(Context(teacher_url=two.url, teacher_model="teacher", cache=cache, teacher_id="local:abc"))
        assert a.teacher(labelling=True).ask("again", LabelVerdict).parsed.labels == ["positive"]
        reply = b.teacher(labelling=True).ask("again", LabelVerdict)
        assert reply.cached and reply.parsed.labels == ["positive"]
