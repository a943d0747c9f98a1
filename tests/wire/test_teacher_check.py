"""`evokd teacher check` findings and the run's preflight, against the scripted loopback server."""

from __future__ import annotations

import pytest

from evokd.teacher.check import check, preflight
from evokd.teacher.client import TeacherUnavailable
from evokd.teacher.local import free_port
from tests.support.fake_openai import FakeOpenAI, Scripted

ANSWER = '{"answer": "yes", "number": 7}'


def capable(body: dict) -> Scripted:
    """A server that honours json_object only, returns log-probabilities, and answers after 0.2 s."""
    rf = body.get("response_format") or {}
    content = ANSWER if rf.get("type") == "json_object" else "sure, yes"
    return Scripted(content=content, delay=0.2, logprobs=[(content, -0.1)])


def test_check_reports_json_modes_logprobs_and_overlap():
    with FakeOpenAI(capable) as server:
        found = {f.name: f for f in check(server.url, "teacher", concurrency=4, timeout=10)}
    assert found["endpoint"].ok and found["model"].ok
    assert not found["json_schema"].ok and found["json_object"].ok
    assert "--json-mode json_object" in found["json_object"].advice
    assert found["logprobs"].ok
    # a threading server overlaps 4 delayed requests: far faster than 4 in a row
    assert found["concurrency"].ok and "--concurrency 4" in found["concurrency"].advice


def test_a_server_that_serialises_is_told_to_use_concurrency_1():
    import threading

    lock = threading.Lock()

    def one_at_a_time(body: dict) -> Scripted:
        with lock:  # hold the lock through the delay: requests queue like llama.cpp's server
            import time

            time.sleep(0.15)
        return Scripted(content=ANSWER)

    with FakeOpenAI(one_at_a_time) as server:
        found = {f.name: f for f in check(server.url, "teacher", concurrency=3, timeout=10)}
    assert not found["concurrency"].ok and "--concurrency 1" in found["concurrency"].advice
    assert not found["logprobs"].ok


def test_preflight_fails_fast_with_one_line_for_each_mistake(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "wrong-key")
    with FakeOpenAI(capable, models=("big-model",), api_key="right-key") as server:
        with pytest.raises(TeacherUnavailable, match=r"rejected the API key.*OPENAI_API_KEY"):
            preflight(server.url, "big-model")
        monkeypatch.setenv("OPENAI_API_KEY", "right-key")
        with pytest.raises(TeacherUnavailable, match=r"'teacher' is not served.*big-model.*--teacher-model"):
            preflight(server.url, "teacher")
        preflight(server.url, "big-model")  # all well: no error
    with pytest.raises(TeacherUnavailable, match=r"does not answer.*--teacher-url"):
        preflight(f"http://127.0.0.1:{free_port()}/v1", "teacher", timeout=2)


def test_every_openai_sampling_parameter_is_sent_on_every_call():
    from evokd.schemas import LabelVerdict
    from evokd.teacher.client import Teacher, chat_model

    with FakeOpenAI(lambda body: '{"label": "positive"}') as server:
        chat = chat_model(server.url, "teacher", temperature=0.3, max_tokens=9, timeout=5, max_retries=0)
        Teacher(chat, json_mode="json_object", concurrency=1).ask("label it", LabelVerdict, seed=5)
    body = server.requests[0]
    assert {k: body.get(k) for k in ("temperature", "top_p", "frequency_penalty", "presence_penalty", "seed")} == {
        "temperature": 0.3,
        "top_p": 0.95,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.0,
        "seed": 5,
    }
    # Under both names: llama-cpp-python's server reads only max_tokens, and ignored the cap without it.
    assert (body["max_tokens"], body["max_completion_tokens"]) == (9, 9)


@pytest.mark.parametrize(
    ("url", "sent"),
    [("", {}), ("https://api.openai.com/v1", {}), ("http://127.0.0.1:8019/v1", {"max_tokens": 7})],
)
def test_the_older_cap_name_goes_to_every_endpoint_but_openais(url: str, sent: dict) -> None:
    from evokd.teacher.client import reply_cap

    assert reply_cap(url, 7) == sent


def test_cli_teacher_check_prints_a_line_per_finding(capsys):
    from evokd.cli import main

    with FakeOpenAI(capable) as server:
        assert main(["teacher", "check", "--teacher-url", server.url, "--concurrency", "2", "--timeout", "10"]) == 0
    err = capsys.readouterr().err
    assert "ok  json_object" in err and "no  json_schema" in err and "--json-mode json_object" in err
    assert main(["teacher", "check", "--teacher-url", ""]) == 2


def test_run_with_a_wrong_model_fails_in_seconds_and_writes_nothing(sentiment_dir, tiny_student, tmp_path, capsys):
    from evokd.cli import main
    from tests.support.runs import run_args

    out = tmp_path / "run"
    with FakeOpenAI(capable, models=("big-model",)) as server:
        code = main([*run_args(sentiment_dir, tiny_student, server, out), "--teacher-model", "teacher"])
        assert server.requests == []  # no chat request: the check listed the models and stopped
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "teacher check failed" in err[0] and "--teacher-model" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("words", [20, 400])
def test_a_long_written_text_gets_room_and_a_short_one_the_clients_cap(words: int) -> None:
    """A news article of ~400 words does not fit the 320-token reply cap: the Generator's request asks for room
    for it (twice its length), under both names of the cap; a 20-word review keeps the client's cap."""
    from evokd.agents.generator import generate, plan
    from evokd.prompts import default
    from evokd.settings import Context
    from evokd.task import Task
    from evokd.teacher.client import Teacher, chat_model

    ctx, task = Context(), Task(kind="classification", labels=("negative", "positive"))
    prompt = default("classification", "generator")
    with FakeOpenAI(lambda body: '{"text": "a written text"}') as server:
        chat = chat_model(server.url, "teacher", temperature=0.8, max_tokens=ctx.max_tokens, timeout=5, max_retries=0)
        requests = plan(task, {}, 1, 0, 1)
        cap = ctx.written_cap(words)
        generate(Teacher(chat, concurrency=1), prompt, task, "d", {}, [], [], requests, 0, words, max_tokens=cap)
    sent = ctx.max_tokens if words == 20 else 3 * words + 64
    assert {(b["max_tokens"], b["max_completion_tokens"]) for b in server.requests} == {(sent, sent)}
