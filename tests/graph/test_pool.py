"""Pool mode end to end: the selector picks unlabelled texts, the Critic labels them, the student learns."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from langgraph.checkpoint.memory import InMemorySaver
from safetensors.torch import load_file

from evokd.agents import noise as noise_step
from evokd.agents.noise import mark_noise
from evokd.agents.selector import uncertainty
from evokd.cli import main
from evokd.cli.html_report import write_report
from evokd.graph.build import build_graph
from evokd.graph.routing import FIT_MARGIN, shot_cost
from evokd.records import read_jsonl
from evokd.settings import Context
from evokd.state import Sample
from evokd.student import model
from evokd.student import train as train_module
from evokd.student.model import Head
from evokd.student.train import TrainConfig, probabilities, train
from evokd.task import MASKED
from evokd.tasks import adapter_for
from tests.support.data import NEG, POS, write_jsonl
from tests.support.fake_openai import prompt_of
from tests.support.runs import make_context, run_args

POOL = [
    "a good film to see",
    "an awful boring film here",
    "lovely and great acting now",
    "bad plot and awful cast",
    "great fun for all",
    "boring story all along",
    "good lovely cast again",
    "awful film to skip",
]


def poisoned_pool(folder: Path) -> Path:
    """A pool file whose label column says POISON on every row: no part of it may be read."""
    path = folder / "pool.jsonl"
    write_jsonl(path, [{"text": t, "label": "POISON", "note": "POISON"} for t in POOL])
    return path


@pytest.fixture
def pool_context(sentiment_dir, tiny_student, teacher_server, tmp_path) -> Callable[..., Context]:
    """A run's context over the poisoned pool, in tmp_path/run, with the test's own settings."""

    def make(**overrides: Any) -> Context:
        pool = str(poisoned_pool(tmp_path))
        # Rounds of one size unless a test asks for growth: the 8-text pool would run dry under doubling.
        settings: dict[str, Any] = {"pool": pool, "pool_growth": 1, **overrides}
        return make_context(sentiment_dir, tiny_student, teacher_server, tmp_path / "run", **settings)

    return make


def run_graph(ctx) -> dict:
    app = build_graph().compile(checkpointer=InMemorySaver())
    return app.invoke({}, {"configurable": {"thread_id": "t"}}, context=ctx)


def test_pure_pool_run_labels_picks_and_never_leaks_the_pool_labels(teacher_server, pool_context, tmp_path):
    run = tmp_path / "run"
    ctx = pool_context(
        per_round=0,
        pool_per_round=3,
    )
    out = run_graph(ctx)

    assert [r["round"] for r in out["history"]] == [0, 1, 2]
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 6 and {s["source"] for s in samples} == {"pool"}
    assert len({s["pool_id"] for s in samples}) == 6  # never a text twice
    assert all(s["text"] in POOL and s["query_score"] >= 0 for s in samples)
    assert {s["label"] for s in samples if s["verdict"] == "accepted"} <= {"positive", "negative"}
    rounds = read_jsonl(run / "rounds.jsonl")
    assert set(rounds[1]["nodes"]) == {"selector", "critic", "student"}  # pure active labelling: nothing written
    assert rounds[1]["pool_accepted"] == 3 and rounds[1]["tokens_per_accepted_pool"] > 0
    assert rounds[1]["tokens_per_accepted_generated"] is None
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pool_accepted"] == 6 and summary["tokens_per_accepted_pool"] > 0
    # The poisoned column reaches neither the teacher nor any file of the run.
    assert not any("POISON" in prompt_of(r) for r in teacher_server.requests)
    for f in run.rglob("*"):
        if f.is_file():
            assert b"POISON" not in f.read_bytes(), f


def test_inspect_and_the_report_show_pool_lineage_and_tokens_per_accepted_sample(
    sentiment_dir, tiny_student, teacher_server, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapped cells
    run = tmp_path / "run"
    assert (
        main(
            run_args(
                sentiment_dir,
                tiny_student,
                teacher_server,
                run,
                "--rounds",
                "1",
                "--pool",
                str(poisoned_pool(tmp_path)),
                "--pool-per-round",
                "2",
            )
        )
        == 0
    )
    pool_sample = next(s for s in read_jsonl(run / "samples.jsonl") if s["source"] == "pool")
    per_pool = read_jsonl(run / "rounds.jsonl")[1]["tokens_per_accepted_pool"]
    summary = json.loads((run / "summary.json").read_text())
    assert (  # the console's last lines say what the teacher cost, per accepted label and text
        f"teacher tokens: {summary['teacher_tokens']:,} · {per_pool:,.0f} per accepted pool label · "
        f"{summary['tokens_per_accepted_generated']:,.0f} per accepted generated text"
    ) in capsys.readouterr().out
    html = write_report(run).read_text()
    assert "teacher tokens per accepted sample (pool · generated)" in html and f"{per_pool:.0f} · " in html
    # The student's agreement with the teacher's labels on the round's new samples, before it trained on them
    agreement = read_jsonl(run / "rounds.jsonl")[1]["fresh_agreement"]
    assert f'<td class="num">{agreement:.0%}</td>' in html
    assert f"pool, query {pool_sample['query_score']:.2f}" in html
    assert main(["inspect", str(run)]) == 0
    shown = capsys.readouterr().out
    assert "tokens/accepted" in shown and f"query {pool_sample['query_score']:.2f}" in shown
    assert "agrees with" in shown and f"{agreement:.0%}" in shown


def test_full_mode_labels_picks_with_the_generated_batch(teacher_server, pool_context, tmp_path):
    run = tmp_path / "run"
    ctx = pool_context(
        pool_per_round=2,
        query="diverse",
    )
    run_graph(ctx)

    samples = read_jsonl(run / "samples.jsonl")
    assert sorted(s["source"] for s in samples if s["round"] == 1) == ["generated"] * 4 + ["pool"] * 2
    rounds = read_jsonl(run / "rounds.jsonl")
    assert set(rounds[1]["nodes"]) == {"selector", "analyst", "generator", "critic", "student"}
    assert (run / "pool_embeddings.safetensors").exists()
    # The Analyst saw the pool texts the student is least sure of.
    analyst = [prompt_of(r) for r in teacher_server.requests if "analysing" in prompt_of(r)]
    assert analyst and all(any(t in p for t in POOL) for p in analyst)


def first_picks(ctx) -> tuple[list[dict], dict]:
    """Round 1's pool picks and the state, with the run paused after the selector."""
    app = build_graph().compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    app.invoke({}, config, context=ctx, interrupt_after=["selector"])
    state = app.get_state(config).values
    return state["pool_picks"], state


@pytest.mark.parametrize("query", ["uncertainty", "diverse", "random"])
def test_each_query_strategy_picks_from_the_seed_students_scores(
    sentiment_dir, tiny_student, teacher_server, tmp_path, query
):
    pool = poisoned_pool(tmp_path)
    ctx = make_context(
        sentiment_dir,
        tiny_student,
        teacher_server,
        tmp_path / "run",
        pool=str(pool),
        per_round=0,
        pool_per_round=3,
        query=query,
    )
    chosen, state = first_picks(ctx)
    # The seed student's own scores of the whole pool, recomputed here.
    net = model.load(state["student_path"], Head(names=("negative", "positive")))
    scores = dict(zip(POOL, uncertainty(probabilities(net, [{"text": t} for t in POOL])), strict=True))
    assert len(chosen) == 3 and len({s["text"] for s in chosen}) == 3
    assert all(s["query_score"] == pytest.approx(scores[s["text"]], abs=1e-5) for s in chosen)
    assert state["picked_pool_ids"] == [s["pool_id"] for s in chosen]
    assert state["uncertain"][0] == max(scores, key=scores.get)
    if query == "uncertainty":
        assert sorted(s["query_score"] for s in chosen) == pytest.approx(sorted(scores.values())[-3:], abs=1e-5)
    if query == "diverse":  # embedded once, for the whole pool, by the seed student
        vectors = load_file(tmp_path / "run" / "pool_embeddings.safetensors")
        assert set(vectors) == {f"p{i}" for i in range(1, len(POOL) + 1)}
    again, _ = first_picks(dataclasses.replace(ctx, run_dir=str(tmp_path / "again")))
    assert [s["pool_id"] for s in again] == [s["pool_id"] for s in chosen]  # seeded: the same picks again


def test_the_pool_never_offers_seed_dev_or_test_texts(sentiment_dir, tiny_student, teacher_server, tmp_path):
    # `--pool train` on a train split that also holds a dev and a test text (sentiment_dir's dev adds "indeed").
    rows = read_jsonl(sentiment_dir / "train.jsonl")
    write_jsonl(
        sentiment_dir / "train.jsonl",
        [*rows, {"text": "good film indeed", "label": "positive"}, {"text": "truly bad film", "label": "negative"}],
    )
    ctx = make_context(
        sentiment_dir,
        tiny_student,
        teacher_server,
        tmp_path / "run",
        pool="train",
        per_round=0,
        pool_per_round=100,
        pool_limit=0,
    )
    chosen, state = first_picks(ctx)
    texts = {s["text"] for s in chosen}
    seeds = {e["text"] for e in state["seeds"]}
    assert texts == {r["text"] for r in rows} - seeds and "label" not in chosen[0]


def test_the_noise_step_holds_out_labels_a_trained_tiny_student_contradicts(sentiment_dir, tiny_student):
    net = model.load(tiny_student, Head(names=("negative", "positive")))
    train(
        net,
        [*({"text": t, "label": "positive"} for t in POS), *({"text": t, "label": "negative"} for t in NEG)],
        TrainConfig(lr=5e-3, min_steps=40, epochs=1, batch_size=8),
    )
    samples = [
        Sample(source="pool", text="a good and great film", label="negative", verdict="accepted"),
        Sample(source="pool", text="an awful boring film", label="negative", verdict="accepted"),
        Sample(source="generated", text="good lovely fun", label="negative", verdict="accepted"),
    ]
    mark_noise(net, adapter_for("classification"), samples, max_length=32)
    assert [s.get("noise") for s in samples] == ["held_out", "kept", None]  # generated samples are not judged


@pytest.mark.parametrize("noise", ["small-loss", "none"])
def test_held_out_pool_samples_are_not_replayed(pool_context, tmp_path, noise, monkeypatch):
    # Whatever the student says, hold out every pool text saying "awful": the wiring, not the judgement, is tested here.
    monkeypatch.setattr(noise_step, "contradicted", lambda probs, gold, names: ["awful" in t for t in held_texts])
    held_texts: list[str] = []
    real = noise_step.probabilities

    def probabilities_of(net, examples, **kw):
        held_texts[:] = [e["text"] for e in examples]
        return real(net, examples, **kw)

    monkeypatch.setattr(noise_step, "probabilities", probabilities_of)
    ctx = pool_context(
        per_round=0,
        pool_per_round=8,
        max_rounds=1,
        noise=noise,
    )
    out = run_graph(ctx)
    samples = read_jsonl(tmp_path / "run" / "samples.jsonl")
    replayed = {e["text"] for e in out["replay_set"]}
    if noise == "none":
        assert "noise" not in samples[0] and replayed == {s["text"] for s in samples if s["verdict"] == "accepted"}
        return
    held = {s["text"] for s in samples if s.get("noise") == "held_out"}
    assert held == {t for t in POOL if "awful" in t} and out["history"][1]["held_out"] == len(held)
    assert not held & replayed and replayed == {s["text"] for s in samples if s["noise"] == "kept"}


def test_ner_pool_sentences_are_tagged_by_the_critic_without_a_requested_type(
    ner_dir, ner_student, ner_server, tmp_path
):
    pool = tmp_path / "pool.jsonl"
    write_jsonl(
        pool,
        [
            {"tokens": ["Bob", "visited", "Acme", "again"], "tags": ["POISON"] * 4},
            {"text": "we saw Alice Smith in Paris"},
        ],
    )
    ctx = make_context(
        ner_dir,
        ner_student,
        ner_server,
        tmp_path / "run",
        pool=str(pool),
        per_round=0,
        max_rounds=1,
        pool_first_tokens=0,  # both sentences in the round, whatever the shot check paid
    )
    run_graph(ctx)
    samples = {s["text"]: s for s in read_jsonl(tmp_path / "run" / "samples.jsonl")}
    assert samples["Bob visited Acme again"]["tags"] == ["B-person", "O", "B-company", "O"]
    assert samples["we saw Alice Smith in Paris"]["tags"] == ["O", "O", "B-person", "I-person", "O", "B-geo-loc"]
    assert all(s["verdict"] == "accepted" and "requested" not in s for s in samples.values())


def test_with_mention_masking_a_partly_wrong_pool_sentence_trains_on_its_good_words(
    ner_dir, ner_student, ner_server, tmp_path, monkeypatch
):
    pool = tmp_path / "pool.jsonl"
    write_jsonl(pool, [{"text": "we met Bob at mordor today"}, {"text": "we met Bob near gotham today"}])
    seen: list[list[str]] = []
    real = train_module.align_labels
    monkeypatch.setattr(
        train_module, "align_labels", lambda ids, tags, t2i: seen.append(list(tags)) or real(ids, tags, t2i)
    )
    ctx = make_context(
        ner_dir,
        ner_student,
        ner_server,
        tmp_path / "run",
        pool=str(pool),
        per_round=0,
        max_rounds=1,
        mask_mentions=True,
        pool_first_tokens=0,  # both sentences in the round, whatever the shot check paid
    )
    run_graph(ctx)
    samples = {s["text"]: s for s in read_jsonl(tmp_path / "run" / "samples.jsonl")}
    kept, dropped = samples["we met Bob at mordor today"], samples["we met Bob near gotham today"]
    assert (kept["verdict"], kept["tags"]) == ("accepted", ["O", "O", "B-person", "O", MASKED, "O"])
    assert kept["masked"] == [{"text": "mordor", "type": "realm", "error": "unknown_type"}]
    assert (dropped["verdict"], dropped["reason"]) == ("rejected", "not_substring")  # nothing there to mask
    assert kept["tags"] in seen  # round 1 trained on it, the masked word skipped (`align_labels`)


def test_label_only_pool_labels_carry_the_teachers_probabilities_into_soft_training(
    teacher_server, pool_context, tmp_path, monkeypatch
):
    trained_on: list[list] = []
    real = train_module.soft_targets

    def spy(head, examples):
        trained_on.append([ex.get("teacher_probs") for ex in examples])
        return real(head, examples)

    monkeypatch.setattr(train_module, "soft_targets", spy)
    run = tmp_path / "run"
    ctx = pool_context(
        per_round=0,
        pool_per_round=3,
        label_call="label-only",
        soft_targets=True,
    )
    run_graph(ctx)
    samples = read_jsonl(run / "samples.jsonl")
    accepted = [s for s in samples if s["verdict"] == "accepted"]
    assert accepted and all(sum(s["teacher_probs"].values()) == pytest.approx(1.0) for s in accepted)
    assert all(s["teacher_confidence"] == s["teacher_probs"][s["label"]] for s in accepted)
    labelling = [r for r in teacher_server.requests if r.get("top_logprobs")]
    shots = 2  # one per label, labelled once before round 1 (the shot check)
    assert len(labelling) == len(samples) + shots and all("response_format" not in r for r in labelling)
    # Round 0 trains on the seeds alone (no teacher), round 1 on its pool labels with their distributions.
    assert all(p is None for p in trained_on[0])
    assert sum(p is not None for p in trained_on[1]) == sum(s["round"] == 1 for s in accepted)


def test_self_training_trains_each_round_on_pool_texts_the_student_labelled_itself(pool_context, tmp_path, monkeypatch):
    from evokd.graph import nodes, student_nodes

    trained_on: list[list[str]] = []
    real = student_nodes.train_pass

    def spy(net, examples, ctx, rnd, write):
        trained_on.append([ex["text"] for ex in examples])
        return real(net, examples, ctx, rnd, write)

    def sure_by_keyword(net, items, max_length):  # a student sure of every text, by its words
        positive = [any(w in it["text"] for w in ("good", "great", "lovely")) for it in items]
        rows = [(0.05, 0.95) if pos else (0.95, 0.05) for pos in positive]  # head order: negative, positive
        assert tuple(net.head.names) == ("negative", "positive")
        return [torch.tensor(r) for r in rows]

    monkeypatch.setattr(student_nodes, "train_pass", spy)
    monkeypatch.setattr(nodes, "probabilities", sure_by_keyword)
    run = tmp_path / "run"
    ctx = pool_context(
        per_round=0,
        pool_per_round=2,
        self_train=4,
    )
    out = run_graph(ctx)
    rounds, samples = read_jsonl(run / "rounds.jsonl"), read_jsonl(run / "samples.jsonl")
    for rnd in (1, 2):
        picked = {s["text"] for s in samples if s["round"] == rnd}
        selves = [t for t in trained_on[rnd] if t in POOL and t not in picked and not any(
            t == s["text"] for s in samples if s["round"] < rnd)]  # fmt: skip
        assert rounds[rnd]["train"]["self_trained"] == len(selves) <= 4
        assert rounds[rnd]["train"]["self_trained"] == 4  # 2 sure texts of each label, never one the teacher labels
    last = out["pseudo_labelled"]
    # the student's labels, never the pool's POISON column
    assert [e["label"] for e in last] == ["negative", "negative", "positive", "positive"]
    assert all(("good" in e["text"] or "great" in e["text"] or "lovely" in e["text"]) == (e["label"] == "positive")
               for e in last)  # fmt: skip
    # self-labels cost nothing: the run paid for the pool labels and round 0's check of the shots alone
    check = out["stats"]["0"]["shot_check"]
    assert (
        rounds[-1]["teacher_tokens"]
        == sum(s["teacher_tokens"] for s in samples) + check["prompt_tokens"] + check["completion_tokens"]
    )


def test_self_training_needs_a_pool_and_whole_text_labels(sentiment_dir, ner_dir, tmp_path):
    from evokd.cli import UsageError
    from evokd.cli.run import check_inputs
    from evokd.services import resolved
    from evokd.settings import Context, SettingError

    with pytest.raises(SettingError, match="--pool"):
        Context(data=str(sentiment_dir), self_train=4)
    pool = tmp_path / "pool.txt"
    pool.write_text("Alice Smith flew to Paris\n", encoding="utf-8")
    with pytest.raises(UsageError, match="drop --self-train"):
        check_inputs(resolved(Context(data=str(ner_dir), pool=str(pool), self_train=4)))


def test_pool_rounds_grow_by_the_growth_factor(pool_context, tmp_path):
    run = tmp_path / "run"
    ctx = pool_context(
        per_round=0,
        pool_per_round=1,
        pool_growth=2,
        max_rounds=3,
    )
    run_graph(ctx)
    picked = Counter(s["round"] for s in read_jsonl(run / "samples.jsonl"))
    assert [picked[r] for r in (1, 2, 3)] == [1, 2, 4]


def test_the_first_pool_round_is_sized_by_what_the_shot_check_paid_per_shot(
    sentiment_dir, tiny_student, teacher_server, tmp_path
):
    def sizes(first_tokens: int) -> tuple[list[int], dict]:
        run = tmp_path / f"run-{first_tokens}"
        settings = {"per_round": 0, "pool_per_round": 2, "pool_growth": 2, "max_rounds": 2}
        ctx = make_context(
            sentiment_dir,
            tiny_student,
            teacher_server,
            run,
            pool=str(poisoned_pool(tmp_path)),
            **settings,
            pool_first_tokens=first_tokens,
        )
        out = run_graph(ctx)
        picked = Counter(s["round"] for s in read_jsonl(run / "samples.jsonl"))
        return [picked[r] for r in (1, 2)], out

    cheap, out = sizes(10_000)
    per_shot = shot_cost(out)
    assert per_shot and cheap == [2, 4]  # 2 labels fit 10k tokens: the set size
    dear, _ = sizes(int(FIT_MARGIN * per_shot) + 1)
    assert dear == [1, 2]  # 1 label fits: the first round holds 1, the next grows from it


def test_with_a_budget_the_last_pool_round_shrinks_to_fit_it(pool_context, tmp_path):
    # A first run without a budget gives the scripted teacher's cost per pick; the second run's budget then
    # leaves room after round 2 for about 2.5 picks, where the schedule asks for 4.
    # The shot check labels every shot in both runs (no share of the budget), so the first run's spend prices
    # the second's.
    free = run_graph(pool_context(per_round=0, pool_per_round=1, pool_growth=2, max_rounds=2, shot_check_share=0))
    spent = free["history"][-1]["teacher_tokens"]
    per_pick = sum(r.get("pool_tokens", 0) for r in free["history"]) / 3
    budget = int(spent + 2.5 * per_pick * FIT_MARGIN)
    run = tmp_path / "budget"
    out = run_graph(
        pool_context(
            per_round=0,
            pool_per_round=1,
            pool_growth=2,
            max_rounds=5,
            budget_tokens=budget,
            run_dir=str(run),
            shot_check_share=0,
        )
    )
    picked = Counter(s["round"] for s in read_jsonl(run / "samples.jsonl"))
    assert [picked[r] for r in (1, 2, 3)] == [1, 2, 2] and out["stop_reason"] == "token_budget"
    assert [r["pool_picked"] for r in out["history"][1:]] == [1, 2, 2]
    assert out["history"][-1]["teacher_tokens"] <= budget


def test_calibration_rows_are_held_out_of_training_replay_and_the_noise_step(pool_context, tmp_path, monkeypatch):
    from evokd.graph import student_nodes
    from evokd.handoff.calibration import validation_examples

    trained_on: list[str] = []
    judged: list[str] = []
    real_train, real_noise = student_nodes.train_pass, student_nodes.mark_noise

    def train_spy(net, examples, ctx, rnd, write):
        trained_on.extend(ex["text"] for ex in examples)
        return real_train(net, examples, ctx, rnd, write)

    def noise_spy(net, adapter, samples, max_length):
        judged.extend(s["text"] for s in samples)
        return real_noise(net, adapter, samples, max_length)

    monkeypatch.setattr(student_nodes, "train_pass", train_spy)
    monkeypatch.setattr(student_nodes, "mark_noise", noise_spy)
    out = run_graph(pool_context(per_round=0, pool_per_round=8, max_rounds=1, calibration_share=0.25))
    samples = [s for s in read_jsonl(tmp_path / "run" / "samples.jsonl") if s["verdict"] == "accepted"]
    held = {s["text"] for s in samples if s.get("calibration")}
    assert len(held) == round(0.25 * len(samples)) > 0 and out["history"][1]["calibration_rows"] == len(held)
    assert not held & set(trained_on) and not held & set(judged)
    assert not held & {e["text"] for e in out["replay_set"]}
    assert {s["text"] for s in samples} - held <= set(trained_on)  # every other label still trains
    assert {ex["text"] for ex in validation_examples(tmp_path / "run")} == held  # the kept round is the last
    assert out["summary"]["calibration_rows"] == len(held)
