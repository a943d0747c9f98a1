"""Teacher faults injected by a scripted OpenAI-compatible server on 127.0.0.1, through the real client.

Transport faults are retried a bounded number of times with backoff (honouring ``Retry-After``) and,
when they persist, stop the run with exit code 3 and its checkpoint intact; `evokd resume` then
finishes it exactly like an uninterrupted run. Malformed replies are repaired or rejected with a
counted reason, never crash the run.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from types import SimpleNamespace

import pytest

from evokd.agents.critic import LeakIndex, label_batch
from evokd.cli import main
from evokd.prompts import default
from evokd.records import read_jsonl
from evokd.schemas import GeneratedText, LabelVerdict
from evokd.state import Sample
from evokd.task import Task
from evokd.teacher.client import MAX_REPLY_CHARS, Teacher, TeacherUnavailable, chat_model
from evokd.teacher.local import free_port
from tests.support.fake_openai import FakeOpenAI, Responder, Scripted, SentimentTeacher, schema_name
from tests.support.runs import JSON_CALL, LEARN, outcome, reference_outcome, run_args

OK = '{"labels": ["positive"]}'


def teacher_at(
    url: str, *, max_retries: int = 2, timeout: float = 5.0, parse_attempts: int = 2, concurrency: int = 1
) -> Teacher:
    """The shared teacher client against ``url``, as the agents use it."""
    chat = chat_model(url, "teacher", temperature=0.0, max_tokens=64, timeout=timeout, max_retries=max_retries)
    return Teacher(chat, parse_attempts=parse_attempts, concurrency=concurrency)


def script(*replies: str | Scripted, then: str | Scripted = OK) -> Responder:
    """A responder that plays ``replies`` in order, then answers ``then`` forever."""
    queue, lock = list(replies), threading.Lock()

    def respond(body: dict) -> str | Scripted:
        with lock:
            return queue.pop(0) if queue else then

    return respond


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"


class Injected:
    """Wraps a responder: the first replies to each kind of request (by schema name) come from a script.

    With ``down_after`` set, every request after that many answers gets HTTP 503: the endpoint went down.
    """

    def __init__(
        self, inner: Responder, faults: dict[str, list[str | Scripted]] | None = None, down_after: int | None = None
    ) -> None:
        self.inner, self.faults, self.down_after = inner, {k: list(v) for k, v in (faults or {}).items()}, down_after
        self.answered: list[dict] = []  # requests answered before the endpoint went down
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> str | Scripted:
        with self._lock:
            if self.down_after is not None and len(self.answered) >= self.down_after:
                return Scripted(status=503)
            self.answered.append(body)
            queue = self.faults.get(schema_name(body))
            if queue:
                return queue.pop(0)
        return self.inner(body)


# --- transport faults -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [Scripted(status=500), Scripted(status=502), Scripted(status=503), Scripted(status=429)],
    ids=["500", "502", "503", "429 without Retry-After"],
)
def test_transient_http_errors_are_retried_with_backoff(fault):
    with FakeOpenAI(script(fault)) as server:
        started = time.perf_counter()
        reply = teacher_at(server.url).ask("label this", LabelVerdict)
        elapsed = time.perf_counter() - started
    assert reply.parsed is not None and reply.parsed.labels == ["positive"]
    assert len(server.requests) == 2
    assert elapsed >= 0.375  # the first backoff: 0.5 s less up to 25 % jitter


def test_retry_after_is_honoured():
    with FakeOpenAI(script(Scripted(status=429, headers={"Retry-After": "1.5"}))) as server:
        started = time.perf_counter()
        reply = teacher_at(server.url).ask("label this", LabelVerdict)
        elapsed = time.perf_counter() - started
    assert reply.parsed is not None and len(server.requests) == 2
    assert 1.5 <= elapsed < 4.5  # the server's 1.5 s, not the client's first backoff (at most 0.5 s)


def test_retry_after_beyond_two_minutes_stops_at_once():
    """The client will not sleep for hours on a server's say-so: the run stops (exit 3) and is resumed later."""
    with FakeOpenAI(lambda body: Scripted(status=429, headers={"Retry-After": "3600"})) as server:
        started = time.perf_counter()
        with pytest.raises(TeacherUnavailable, match="HTTP 429"):
            teacher_at(server.url, max_retries=4).ask("label this", LabelVerdict)
    assert len(server.requests) == 1 and time.perf_counter() - started < 3.0


def test_endpoint_down_raises_after_bounded_retries():
    with FakeOpenAI(lambda body: Scripted(status=503)) as server:
        started = time.perf_counter()
        with pytest.raises(TeacherUnavailable, match=r"^teacher answered HTTP 503 after retries") as err:
            teacher_at(server.url, max_retries=2).ask("label this", LabelVerdict)
        elapsed = time.perf_counter() - started
    assert len(server.requests) == 3 and "\n" not in str(err.value)
    assert 0.375 + 0.75 <= elapsed < 6.0  # exponential backoff: ~0.5 s, then ~1 s (less up to 25 % jitter)


def test_connection_refused_raises_teacher_unavailable():
    with pytest.raises(TeacherUnavailable, match=r"^teacher unreachable after retries: Connection error"):
        teacher_at(closed_port_url(), max_retries=1).ask("label this", LabelVerdict)


def test_timeout_is_enforced_per_request():
    with FakeOpenAI(lambda body: Scripted(content=OK, delay=5.0)) as server:
        started = time.perf_counter()
        with pytest.raises(TeacherUnavailable, match="unreachable after retries: Request timed out"):
            teacher_at(server.url, max_retries=1, timeout=0.3).ask("label this", LabelVerdict)
        elapsed = time.perf_counter() - started
    assert len(server.requests) == 2 and elapsed < 4.5  # two 0.3 s attempts and a backoff, not 5 s each


def test_bad_request_is_not_retried_and_hints_at_json_mode():
    with (
        FakeOpenAI(lambda body: Scripted(status=400)) as server,
        pytest.raises(TeacherUnavailable, match=r"HTTP 400.*--json-mode none"),
    ):
        teacher_at(server.url).ask("label this", LabelVerdict)
    assert len(server.requests) == 1


def test_endpoint_down_under_concurrency_cancels_queued_requests():
    """TeacherUnavailable raised in a worker thread reaches the caller; queued requests are not sent."""
    with FakeOpenAI(lambda body: Scripted(status=503, delay=0.3)) as server, pytest.raises(TeacherUnavailable):
        teacher_at(server.url, max_retries=0, concurrency=2).ask_many([f"text {i}" for i in range(12)], LabelVerdict)
    assert len(server.requests) <= 4  # the two in flight, and at most one more per worker, of 12


# --- malformed replies ------------------------------------------------------------------------

REPLY_FAULTS = [
    ("cut off mid-JSON", Scripted(content='{"labels": ["posi', finish_reason="length"), "truncated"),
    ("body cut off mid-JSON", Scripted(raw=b'{"id": "x", "choices": [{"mess'), "bad_response"),
    ("body not a completion", Scripted(raw=b'{"choices": []}'), "bad_response"),
    ("empty content", Scripted(content=""), "empty"),
    ("prose instead of JSON", Scripted(content="Sure! Here is my answer.\nIt is a positive text."), "malformed"),
    ("JSON of the wrong shape", Scripted(content='{"verdict": 1}'), "malformed"),
    ("huge reply", Scripted(content='{"labels": ["' + "x" * MAX_REPLY_CHARS + '"]}'), "oversized"),
    ("deeply nested reply", Scripted(content="[" * 50_000), "malformed"),
]


@pytest.mark.parametrize(("fault", "reason"), [f[1:] for f in REPLY_FAULTS], ids=[f[0] for f in REPLY_FAULTS])
def test_malformed_reply_is_reasked_then_rejected_with_a_reason(fault, reason):
    with FakeOpenAI(lambda body: fault) as server:
        started = time.perf_counter()
        reply = teacher_at(server.url, parse_attempts=2).ask("label this", LabelVerdict, seed=5)
        elapsed = time.perf_counter() - started
    assert reply.parsed is None and reply.reason == reason and reply.attempts == 2
    assert [r.get("seed") for r in server.requests] == [5, 5 + 7919]  # the re-ask asks for another sample
    assert elapsed < 5.0


@pytest.mark.parametrize(
    "content",
    ['Here you go:\n```json\n{"labels": ["positive"]}\n```', '[{"labels": ["positive"]}]', "positive"],
    ids=["fenced with prose", "wrapped in a list", "bare value"],
)
def test_repairable_reply_is_repaired(content):
    with FakeOpenAI(lambda body: content) as server:
        reply = teacher_at(server.url).ask("label this", LabelVerdict)
    assert reply.parsed is not None and reply.parsed.labels == ["positive"] and reply.attempts == 1


def test_a_bad_reply_then_a_good_one_is_accepted():
    with FakeOpenAI(
        script(Scripted(content='{"text": "a good', finish_reason="length"), then='{"text": "a good film"}')
    ) as server:
        reply = teacher_at(server.url).ask("write", GeneratedText, seed=1)
    assert reply.parsed is not None and reply.parsed.text == "a good film" and reply.attempts == 2
    assert reply.completion_tokens > 1  # the cut-off reply's tokens were paid for and are counted


def test_wrong_label_names_are_rejected_as_off_label():
    task = Task("classification", ("negative", "positive"))
    batch = [
        Sample(
            id=f"r1-{i}",
            round=1,
            stance="easy",
            requested="positive",
            weakness="",
            verdict="pending",
            reason="",
            text=f"a good film number {i}",
            teacher_tokens=0,
        )
        for i in range(3)
    ]
    replies = script('{"labels": ["neutral"]}', '{"labels": ["Positive"]}', "it is positive, clearly")
    with FakeOpenAI(replies) as server:
        out, _ = label_batch(
            teacher_at(server.url), default("classification", "critic"), task, "sentiment", batch, set(), LeakIndex([])
        )
    assert [(s["verdict"], s["reason"], s["label"]) for s in out] == [
        ("rejected", "off_label", "neutral"),
        ("accepted", "", "positive"),
        ("accepted", "", "positive"),
    ]


# --- whole runs ---------------------------------------------------------------------------------


def counted(run_dir) -> tuple[int, dict[str, int]]:
    """Accepted samples and rejections by reason over all rounds, from rounds.jsonl."""
    accepted, rejected = 0, {}
    for r in read_jsonl(run_dir / "rounds.jsonl"):
        accepted += r["accepted"]
        for reason, n in r["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + n
    return accepted, rejected


def test_malformed_replies_in_a_run_are_counted_by_reason(sentiment_dir, tiny_student, tmp_path):
    faults = {"GeneratedText": [fault for _, fault, _ in REPLY_FAULTS[:6]], "LabelVerdict": ['{"labels": ["neutral"]}']}
    responder = Injected(SentimentTeacher(by_seed=True), faults)
    out = tmp_path / "run"
    with FakeOpenAI(responder) as server:
        args = run_args(
            sentiment_dir, tiny_student, server, out, "--rounds", "1", "--per-round", "4", "--parse-attempts", "1",
            "--no-shot-check", *JSON_CALL,  # the faults are scripted for the round's own JSON labelling calls
        )  # fmt: skip
        assert main(args) == 0
    accepted, rejected = counted(out)
    assert rejected == {"truncated": 1, "bad_response": 2, "empty": 1, "malformed": 2, "off_label": 1}
    assert accepted == 8 - 7
    samples = read_jsonl(out / "samples.jsonl")
    assert len(samples) == 8 and sum(s["verdict"] == "rejected" for s in samples) == 7


def run_until_down(data, student, out, down_after: int, *extra: str) -> tuple[int, Injected]:
    """A run whose teacher answers ``down_after`` requests, then answers 503 for good."""
    responder = Injected(SentimentTeacher(by_seed=True), down_after=down_after)
    with FakeOpenAI(responder) as server:
        code = main(run_args(data, student, server, out, *LEARN, "--max-retries", "1", *extra))
    return code, responder


@pytest.mark.parametrize("down_after", [0, 12], ids=["down from the start", "down in round 2"])
def test_endpoint_down_stops_cleanly_and_resume_finishes_the_same_run(
    down_after, sentiment_dir, tiny_student, tmp_path, capsys
):
    out = tmp_path / "run"
    code, first = run_until_down(sentiment_dir, tiny_student, out, down_after)
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("evokd: teacher error: teacher answered HTTP 503 after retries")
    assert err.endswith(f"continue with 'evokd resume {out}'")
    done = read_jsonl(out / "rounds.jsonl")  # what was finished is on disk, line by line
    assert [r["round"] for r in done] == ([0] if down_after == 0 else [0, 1])
    assert not (out / "summary.json").exists()

    # Later the teacher is back, on another port: the run finishes without paying twice for a reply.
    with FakeOpenAI(SentimentTeacher(by_seed=True)) as server:
        assert main(["resume", str(out), "--teacher-url", server.url]) == 0
    again = {json.dumps(r, sort_keys=True) for r in server.requests}
    assert not again & {json.dumps(r, sort_keys=True) for r in first.answered}
    assert outcome(out) == reference_outcome(sentiment_dir, tiny_student, tmp_path)


def test_a_teacher_that_never_answers_in_time_stops_the_run(sentiment_dir, tiny_student, tmp_path, capsys):
    out = tmp_path / "run"
    with FakeOpenAI(lambda body: Scripted(content=OK, delay=3.0)) as server:
        assert main(run_args(sentiment_dir, tiny_student, server, out, "--timeout", "0.3", "--max-retries", "1")) == 3
    assert "Request timed out" in capsys.readouterr().err
    assert [r["round"] for r in read_jsonl(out / "rounds.jsonl")] == [0]


def test_a_teacher_down_at_the_start_fails_in_seconds_with_one_line(sentiment_dir, tiny_student, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, SimpleNamespace(url=closed_port_url()), out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not answer" in err[0] and "--teacher-url" in err[0]
    assert not out.exists()  # checked before the seed pass: nothing trained, nothing written


def test_resume_from_another_directory_finds_the_run_data_and_student(
    sentiment_dir, tiny_student, tmp_path, monkeypatch
):
    """A run started with relative paths is resumed by its folder's path from anywhere."""
    monkeypatch.chdir(tmp_path)
    student = tmp_path / "student"
    shutil.copytree(tiny_student, student)
    with FakeOpenAI(lambda body: Scripted(status=503)) as down:  # lists its models, then fails every request
        assert main(run_args(sentiment_dir.relative_to(tmp_path), "student", down, "run", "--rounds", "1")) == 3
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with FakeOpenAI(SentimentTeacher()) as server:
        assert main(["resume", str(tmp_path / "run"), "--teacher-url", server.url]) == 0
    assert [r["round"] for r in read_jsonl(tmp_path / "run" / "rounds.jsonl")] == [0, 1]
    assert (tmp_path / "run" / "summary.json").exists() and list(elsewhere.iterdir()) == []
