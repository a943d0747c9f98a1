"""What a finished run hands over: the model card written by finalize, and `evokd export` in every format."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from evokd import tasks
from evokd.cli import main
from evokd.handoff.card import bootstrap, point
from evokd.records import read_jsonl
from evokd.task import Example, Task
from tests.support.data import NEG, POS, write_jsonl


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, tiny_student: Path) -> Path:
    """One short classification run against the scripted teacher, shared by the tests below."""
    from tests.support.fake_openai import FakeOpenAI, SentimentTeacher

    root = tmp_path_factory.mktemp("handoff")
    data = root / "data"
    data.mkdir()
    rows = [{"text": t, "label": "positive"} for t in POS] + [{"text": t, "label": "negative"} for t in NEG]
    write_jsonl(data / "train.jsonl", rows)
    write_jsonl(data / "dev.jsonl", [{"text": f"{r['text']} indeed", "label": r["label"]} for r in rows])
    write_jsonl(data / "test.jsonl", [{"text": f"truly {r['text']}", "label": r["label"]} for r in rows])
    (data / "card.json").write_text(json.dumps({"name": "tiny-sentiment", "language": "en", "licence": "CC0"}))
    out = root / "run"
    with FakeOpenAI(SentimentTeacher(), models=("scripted-teacher",)) as server:
        assert (
            main(
                [
                    "run",
                    "--data",
                    str(data),
                    "--student",
                    str(tiny_student),
                    "--teacher-url",
                    server.url,
                    "--teacher-model",
                    "scripted-teacher",
                    "--rounds",
                    "2",
                    "--per-round",
                    "2",
                    "--min-steps",
                    "4",
                    "--epochs",
                    "1",
                    "--batch-size",
                    "8",
                    "--max-retries",
                    "0",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    return out


def front_matter(card: str) -> dict:
    """The YAML metadata block of a Hub card."""
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_the_best_rounds_predictions_travel_with_the_model_and_give_its_scores(finished_run: Path) -> None:
    """The card reads the predictions saved beside the kept student instead of predicting dev and test again."""
    from evokd.handoff.card import PREDICTIONS

    saved = json.loads((finished_run / "model" / PREDICTIONS).read_text())
    summary = json.loads((finished_run / "summary.json").read_text())
    data = tasks.load_dataset(json.loads((finished_run / "run.json").read_text())["data"], "classification")
    for split, examples in (("dev", data.dev), ("test", data.test)):
        assert len(saved[split]) == len(examples)
        assert tasks.evaluate(data.task, examples, saved[split])["score"] == summary[split]["score"]


def test_model_card_is_written_with_metadata_and_scores(finished_run: Path) -> None:
    card = (finished_run / "model" / "README.md").read_text()
    meta = front_matter(card)
    summary = json.loads((finished_run / "summary.json").read_text())
    assert meta["pipeline_tag"] == "text-classification" and meta["language"] == "en"
    assert "base_model" not in meta  # a local folder is no Hub id
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"] == {"name": "tiny-sentiment", "type": "tiny-sentiment", "split": "test"}
    values = {m["type"]: m["value"] for m in result["metrics"]}
    assert values == {"f1": summary["test"]["macro_f1"], "accuracy": summary["test"]["accuracy"]}
    # Prose: the teacher by name and endpoint kind, never its URL; lineage; scores with their interval; limits.
    assert "`scripted-teacher` on a local OpenAI-compatible endpoint" in card and "127.0.0.1" not in card
    seeds, samples = read_jsonl(finished_run / "seeds.jsonl"), read_jsonl(finished_run / "samples.jsonl")
    accepted = sum(s["verdict"] == "accepted" for s in samples)
    assert f"{len(seeds)} human-labelled seed examples" in card and f"{accepted} generated samples accepted" in card
    assert f"| test | {summary['test']['score']:.4f} |" in card and "bootstrap" in card
    assert f"Teacher tokens spent: {summary['teacher_tokens']:,}" in card and "Intended use and limits" in card
    calibration = json.loads((finished_run / "model" / "calibration.json").read_text())
    assert "## Calibration" in card and calibration["temperature"] >= 0.05  # measured or not, the card says which
    assert json.loads((finished_run / "teacher.json").read_text()) == {"model": "scripted-teacher", "endpoint": "local"}


@pytest.mark.parametrize(
    "task, examples, pred",
    [
        (Task("classification", ("a", "b", "c")), [Example(label=g) for g in "aabbbcca"], list("abbbccca")),
        (
            Task("ner", ("x", "y")),
            [Example(tags=g) for g in (["B-x", "I-x", "O"], ["B-y", "O", "B-x"], ["O", "O", "O"])],
            [["B-x", "I-x", "O"], ["I-y", "O", "B-x"], ["B-y", "O", "O"]],
        ),
    ],
)
def test_bootstrap_counts_reproduce_the_run_metric(task: Task, examples: list[Example], pred: list) -> None:
    assert point(task, examples, pred) == pytest.approx(tasks.evaluate(task, examples, pred)["score"], abs=1e-4)
    lo, hi = bootstrap(task, examples, pred)
    assert 0 <= lo <= point(task, examples, pred) <= hi <= 1 and lo < hi
    assert bootstrap(task, examples, pred) == (lo, hi)  # seeded: the card is reproducible


def test_export_every_format_reads_back_the_same_rows(finished_run: Path, tmp_path: Path) -> None:
    import datasets
    import pyarrow.parquet as pq

    seeds = read_jsonl(finished_run / "seeds.jsonl")
    accepted = [s for s in read_jsonl(finished_run / "samples.jsonl") if s["verdict"] == "accepted"]
    for fmt in ("jsonl", "csv", "parquet", "hf"):
        assert main(["export", str(finished_run), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
        assert front_matter((tmp_path / fmt / "README.md").read_text())["task_categories"] == ["text-classification"]
    got = {
        "jsonl": read_jsonl(tmp_path / "jsonl" / "train.jsonl"),
        "csv": [{**r, "round": int(r["round"])} for r in csv.DictReader((tmp_path / "csv" / "train.csv").open())],
        "parquet": pq.read_table(tmp_path / "parquet" / "train.parquet").to_pylist(),
        "hf": datasets.load_from_disk(str(tmp_path / "hf")).to_list(),
    }
    want = [{"text": s["text"], "label": s["label"], "source": "seed", "round": 0} for s in seeds] + [
        {"text": s["text"], "label": s["label"], "source": "generated", "round": s["round"]} for s in accepted
    ]
    assert accepted and all(rows == want for rows in got.values())
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "`scripted-teacher` on a local OpenAI-compatible endpoint" in card and "(CC0)" in card


def test_export_ner_with_rejected_reasons(tmp_path: Path) -> None:
    """A hand-written NER run folder: tokens and tags out, and the rejected samples with their reasons."""
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(
        run / "seeds.jsonl", [{"n": 0, "text": "Bob runs", "tokens": ["Bob", "runs"], "tags": ["B-person", "O"]}]
    )
    write_jsonl(
        run / "samples.jsonl",
        [
            {
                "id": "r1-0",
                "round": 1,
                "text": "Ann met Bob.",
                "tokens": ["Ann", "met", "Bob", "."],
                "tags": ["B-person", "O", "B-person", "O"],
                "verdict": "accepted",
                "reason": "",
            },
            {"id": "r1-1", "round": 1, "text": "Rome is old", "verdict": "rejected", "reason": "unknown_type"},
        ],
    )
    assert main(["export", str(run), "--include-rejected", "--format", "parquet", "--out", str(tmp_path / "x")]) == 0
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "x" / "train.parquet").to_pylist()
    assert [(r["tokens"], r["source"], r["round"], r["reason"]) for r in rows] == [
        (["Bob", "runs"], "seed", 0, ""),
        (["Ann", "met", "Bob", "."], "generated", 1, ""),
        ([], "generated", 1, "unknown_type"),
    ]
    assert rows[2]["text"] == "Rome is old" and rows[1]["tags"] == ["B-person", "O", "B-person", "O"]
    card = (tmp_path / "x" / "README.md").read_text()
    assert "token-classification" in card and "`person` 3" in card and "| rejected (audit only" in card


def test_export_refuses_a_non_run_or_a_used_folder(finished_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    assert main(["export", str(finished_run), "--out", str(tmp_path / "used")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no seeds.jsonl" in err[0] and "not empty" in err[1]


def test_ner_model_card_from_a_hand_made_run(tmp_path: Path) -> None:
    """An NER card: token-classification metadata, span F1 with its interval, a remote teacher named by kind only."""
    from evokd.data.readers import Dataset
    from evokd.handoff.card import write_model_card
    from evokd.settings import Context
    from evokd.student import model
    from tests.support.tiny_model import make_tiny_model

    task = Task("ner", ("city", "person"))
    sentences = [
        Example(text="bob saw paris", tokens=["bob", "saw", "paris"], tags=["B-person", "O", "B-city"]),
        Example(text="ann left rome", tokens=["ann", "left", "rome"], tags=["B-person", "O", "B-city"]),
    ]
    run = tmp_path / "run"
    base = make_tiny_model(tmp_path / "base", ["bob saw paris ann left rome"])
    model.save(model.load(base, tasks.head_for(task), device="cpu"), run / "model")
    write_jsonl(run / "seeds.jsonl", [{"n": 0, **sentences[0]}])
    write_jsonl(run / "samples.jsonl", [{"id": "r1-0", "round": 1, "verdict": "rejected", "reason": "not_substring"}])
    scores = {"span_f1": 0.25, "precision": 0.5, "recall": 0.1667, "score": 0.25}
    summary = {
        "metric": "span_f1",
        "dev": scores,
        "test": scores,
        "seed_only": {"dev": scores, "test": scores},
        "rounds": 1,
        "best_round": 1,
        "stop_reason": "max_rounds",
        "teacher_tokens": 1234,
    }
    ctx = Context(
        task="ner",
        data=str(tmp_path / "ner-data"),
        student="org/some-encoder",
        teacher_url="https://api.example.com/v1",
        teacher_model="big-model",
    )
    data = Dataset(task, sentences, sentences, sentences, str(tmp_path / "ner-data"))
    card = write_model_card(run, summary, ctx, data)
    text = card.read_text()
    meta = front_matter(text)
    assert meta["pipeline_tag"] == "token-classification" and meta["base_model"] == "org/some-encoder"
    metrics_by_type = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics_by_type == {"f1": 0.25, "precision": 0.5, "recall": 0.1667}
    assert "`big-model` on a remote OpenAI-compatible endpoint" in text and "example.com" not in text
    assert "| test | 0.2500 |" in text and "not_substring 1" in text and "1,234" in text


def test_retrain_trains_another_student_on_the_runs_labels_alone(
    finished_run: Path, tiny_student: Path, tmp_path: Path, capsys
) -> None:
    """One pass on the shots and the kept rounds' trainable labels, no teacher (its server is gone), a folder
    that predict loads, a card beside it; a used folder or a folder that is no finished run: one line, exit 2."""
    out = tmp_path / "bigger"
    assert main(["retrain", str(finished_run), "--student", str(tiny_student), "--out", str(out)]) == 0
    found = json.loads((out / "retrain.json").read_text())
    summary = json.loads((finished_run / "summary.json").read_text())
    seeds = read_jsonl(finished_run / "seeds.jsonl")
    trainable = [
        s
        for s in read_jsonl(finished_run / "samples.jsonl")
        if s["verdict"] == "accepted" and s["round"] <= summary["best_round"] and not s.get("calibration")
    ]
    assert (found["labels"], found["shots"]) == (len(seeds) + len(trainable), len(seeds)) and trainable
    assert 0 <= found["test"] <= 1 and found["run_student"]["test"] == summary["test"]["score"]
    assert f"trained {tiny_student} on {found['labels']} labels" in capsys.readouterr().err.replace("\n", " ")
    texts = tmp_path / "texts.txt"
    texts.write_text("a lovely film\n", encoding="utf-8")
    assert main(["predict", str(out), "--input", str(texts), "--output", str(tmp_path / "p.jsonl")]) == 0
    assert read_jsonl(tmp_path / "p.jsonl")[0]["label"] in ("negative", "positive")
    assert "retrained (this folder)" in (out / "README.md").read_text()
    capsys.readouterr()
    assert main(["retrain", str(finished_run), "--student", str(tiny_student), "--out", str(out)]) == 2
    assert main(["retrain", str(tmp_path), "--student", str(tiny_student)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "already exists" in err[0] and "no finished run here" in err[1]
