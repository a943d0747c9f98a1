"""Pool labelling over HTTP: the Critic asks for log-probabilities, keeps the label's probability, and
--min-confidence drops a label the teacher was unsure of; a bad pool stops the run with exit code 2."""

from __future__ import annotations

import json
import math

import pytest

from evokd.agents import noise
from evokd.cli import main
from evokd.graph import student_nodes
from evokd.records import read_jsonl
from tests.support.data import write_file
from tests.support.fake_openai import FakeOpenAI, Scripted, SentimentTeacher, numbered_texts, prompt_of, schema_name
from tests.support.runs import JSON_CALL, run_args

POOL = "a good film to see\nan awful boring film here\nlovely and great acting now\nbad plot and awful cast\n"


class UnsureAboutAwful:
    """The scripted sentiment teacher, with log-probabilities on labels: 0.3 for texts saying "awful", else 0.95."""

    def __init__(self) -> None:
        self.inner = SentimentTeacher()

    def __call__(self, body: dict) -> str | Scripted:
        reply = self.inner(body)
        if schema_name(body) != "LabelVerdict":
            return reply
        tokens = [('{"labels": [', 0.0)]
        labelled = zip(numbered_texts(prompt_of(body)), json.loads(reply)["labels"], strict=True)
        for i, (text, label) in enumerate(labelled):
            tokens += [(", " * (i > 0) + '"', 0.0), (label, math.log(0.3 if "awful" in text else 0.95)), ('"', 0.0)]
        tokens.append(("]}", 0.0))
        return Scripted(content="".join(t for t, _ in tokens), logprobs=tokens)


@pytest.mark.parametrize("per_call", [1, 4])
def test_min_confidence_drops_the_labels_the_teacher_is_unsure_of(sentiment_dir, tiny_student, tmp_path, per_call):
    """One text per call, or all four in one call (--label-batch 4): the same verdicts, each text its own confidence."""
    pool, out = write_file(tmp_path, "pool.txt", POOL), tmp_path / "run"
    with FakeOpenAI(UnsureAboutAwful()) as server:
        args = run_args(
            sentiment_dir,
            tiny_student,
            server,
            out,
            "--rounds",
            "1",
            "--per-round",
            "0",
            "--pool",
            str(pool),
            "--pool-per-round",
            "4",
            "--min-confidence",
            "0.5",
            "--label-batch",
            str(per_call),
            *JSON_CALL,  # batches of texts are the JSON call's
            "--no-shot-check",  # only the pool's labelling calls are counted here
        )
        assert main(args) == 0
        labelled = [r for r in server.requests if schema_name(r) == "LabelVerdict"]
    assert len(labelled) == 4 // per_call and all(r["logprobs"] is True for r in labelled)
    assert sorted(len(numbered_texts(prompt_of(r))) for r in labelled) == [per_call] * (4 // per_call)
    samples = {s["text"]: s for s in read_jsonl(out / "samples.jsonl")}
    critic = read_jsonl(out / "rounds.jsonl")[-1]["nodes"]["critic"]
    billed = critic["prompt_tokens"] + critic["completion_tokens"]
    assert sum(s["teacher_tokens"] for s in samples.values() if s.get("source") == "pool") == billed > 0
    assert samples["a good film to see"]["verdict"] == "accepted"
    assert math.isclose(samples["a good film to see"]["teacher_confidence"], 0.95, rel_tol=1e-6)
    for text in ("an awful boring film here", "bad plot and awful cast"):
        assert (samples[text]["verdict"], samples[text]["reason"]) == ("rejected", "low_confidence")
        assert math.isclose(samples[text]["teacher_confidence"], 0.3, rel_tol=1e-6)


def test_without_a_pool_labelling_requests_ask_for_no_logprobs(sentiment_dir, tiny_student, teacher_server, tmp_path):
    assert (
        main(run_args(sentiment_dir, tiny_student, teacher_server, tmp_path / "run", "--rounds", "1", *JSON_CALL)) == 0
    )
    assert not any("logprobs" in r for r in teacher_server.requests)  # the JSON call asks for them with a pool only


def test_label_batch_is_refused_for_ner_before_any_teacher_call(
    ner_dir, tiny_student, teacher_server, tmp_path, capsys
):
    out = tmp_path / "run"
    assert main(run_args(ner_dir, tiny_student, teacher_server, out, "--label-batch", "4", *JSON_CALL)) == 2
    assert "ner labels one text per teacher call; drop --label-batch" in capsys.readouterr().err
    assert not out.exists() and not [r for r in teacher_server.requests if r.get("messages")]


def test_a_bad_pool_file_exits_2_before_any_teacher_call(sentiment_dir, tiny_student, teacher_server, tmp_path, capsys):
    pool = write_file(tmp_path, "pool.jsonl", '{"label": "positive"}\n')
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, tmp_path / "run", "--pool", str(pool))) == 2
    assert "pool.jsonl:1: no 'text' column" in capsys.readouterr().err
    assert not [r for r in teacher_server.requests if r.get("messages")]


def test_the_confidence_noise_step_keeps_doubted_labels_out_of_every_training_set(
    sentiment_dir, tiny_student, tmp_path, monkeypatch
):
    """The teacher's confidences reach the step, and what it holds out is trained on neither in its round nor
    replayed later. Whether the student disagrees is `doubted`'s concern (unit-tested); here every doubted
    label counts as contradicted, so the wiring is what is tested."""
    monkeypatch.setattr(noise, "doubted", lambda conf, gold, predicted: [c is not None and c < 0.7 for c in conf])
    trained: list[set[str]] = []
    real_fit = student_nodes.fit
    monkeypatch.setattr(
        student_nodes,
        "fit",
        lambda net, data, *a, **kw: trained.append({e["text"] for e in data}) or real_fit(net, data, *a, **kw),
    )
    pool, out = write_file(tmp_path, "pool.txt", POOL), tmp_path / "run"
    with FakeOpenAI(UnsureAboutAwful()) as server:
        args = run_args(sentiment_dir, tiny_student, server, out, "--rounds", "2", "--pool", str(pool), *JSON_CALL)
        assert main([*args, "--per-round", "0", "--pool-per-round", "2", "--noise", "confidence"]) == 0
    samples = read_jsonl(out / "samples.jsonl")
    held = {s["text"] for s in samples if s.get("noise") == "held_out"}
    assert held == {t for t in POOL.splitlines() if "awful" in t}
    assert {s["text"] for s in samples if s.get("noise") == "kept"} == set(POOL.splitlines()) - held
    assert len(trained) == 3 and not held & set.union(*trained)  # rounds 0-2: seeds, then each round's picks
    assert sum(r["held_out"] for r in read_jsonl(out / "rounds.jsonl")) == 2
