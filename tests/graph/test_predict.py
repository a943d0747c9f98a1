"""`evokd predict` on a saved tiny student: probabilities, NER spans with offsets, the formats in and out,
one-line errors, and the same labels as the transformers pipeline that loads the same folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from transformers import pipeline

from evokd.cli import main
from evokd.handoff.predict import load_student, predict_texts
from evokd.student import model
from evokd.student.train import TrainConfig, train
from evokd.task import Example, Task
from evokd.tasks import head_for
from tests.support.data import NEG, POS, write_jsonl
from tests.support.tiny_model import make_tiny_model

SENTIMENT = Task("classification", ("negative", "positive"))
NER = Task("ner", ("city", "person"))
NER_TRAIN = [
    ("alice lives in paris", "B-person O O B-city"),
    ("bob met alice smith", "B-person O B-person I-person"),
    ("we love london", "O O B-city"),
    ("paris and london", "B-city O B-city"),
]
NER_TEXTS = ["bob lives in london", "alice smith met bob in paris", "we love paris"]


def trained(base: Path, task: Task, examples: list[Example], out: Path) -> Path:
    """A student for ``task`` trained a few steps on ``examples`` and saved the way a run saves it."""
    student = model.load(base, head_for(task), device="cpu")
    train(student, examples, TrainConfig(lr=3e-3, batch_size=4, epochs=1, min_steps=80, seed=0))
    model.save(student, out)
    return out


@pytest.fixture(scope="module")
def sentiment_model(tiny_student: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    examples = [Example(text=t, label="positive") for t in POS] + [Example(text=t, label="negative") for t in NEG]
    return trained(tiny_student, SENTIMENT, examples, tmp_path_factory.mktemp("sentiment") / "model")


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ner")
    base = make_tiny_model(folder / "base", [" ".join(s for s, _ in NER_TRAIN) + " bob smith"])
    examples = [Example(text=s, tokens=s.split(), tags=t.split()) for s, t in NER_TRAIN]
    return trained(base, NER, examples, folder / "model")


def test_classification_gives_probabilities_and_pipeline_agrees(sentiment_model: Path) -> None:
    texts = ["good film", "awful acting", "a bad and great movie", "lovely story truly"]
    student, task = load_student(sentiment_model, "cpu")
    assert task == SENTIMENT  # read back from the saved head
    got = predict_texts(student, task, texts, proba=True)
    assert [p["label"] for p in got] == ["positive", "negative", got[2]["label"], "positive"]
    for p in got:
        assert set(p["probabilities"]) == {"negative", "positive"}
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert p["score"] == max(p["probabilities"].values())
    # The transformers pipeline loads the same folder (id2label in config.json) and agrees.
    pipe = pipeline("text-classification", model=str(sentiment_model), device="cpu")
    theirs = pipe(texts)
    assert [t["label"] for t in theirs] == [p["label"] for p in got]
    assert [t["score"] for t in theirs] == pytest.approx([p["score"] for p in got], abs=1e-4)


@pytest.mark.filterwarnings("ignore:Tokenizer does not support real words")  # the tiny word-level tokenizer
def test_ner_gives_typed_spans_with_offsets_and_pipeline_agrees(ner_model: Path) -> None:
    student, task = load_student(ner_model, "cpu")
    assert task == NER
    got = predict_texts(student, task, NER_TEXTS)
    spans = [[(e["text"], e["type"]) for e in p["entities"]] for p in got]
    assert spans[0] == [("bob", "person"), ("london", "city")]
    assert ("paris", "city") in spans[2]
    for text, p in zip(NER_TEXTS, got, strict=True):
        assert all(text[e["start"] : e["end"]] == e["text"] and 0 < e["score"] <= 1 for e in p["entities"])
    pipe = pipeline("token-classification", model=str(ner_model), aggregation_strategy="first", device="cpu")
    for text, p in zip(NER_TEXTS, got, strict=True):
        theirs = [(e["entity_group"], e["start"], e["end"]) for e in pipe(text)]
        assert theirs == [(e["type"], e["start"], e["end"]) for e in p["entities"]]


def test_cli_predict_reads_formats_and_writes_jsonl_or_csv(sentiment_model: Path, tmp_path: Path, capsys) -> None:
    texts = ["good film", "bad plot", "great acting"]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n\n", encoding="utf-8")
    write_jsonl(tmp_path / "in.jsonl", [{"id": i, "review": t} for i, t in enumerate(texts)])
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": texts}), tmp_path / "in.parquet")
    outputs = {}
    for name, extra in (("in.txt", []), ("in.jsonl", ["--text-column", "review"]), ("in.parquet", [])):
        out = tmp_path / f"{name}.out.jsonl"
        args = ["predict", str(sentiment_model), "--input", str(tmp_path / name), "--output", str(out), *extra]
        assert main(args) == 0
        outputs[name] = [json.loads(line) for line in out.read_text().splitlines()]
        err = capsys.readouterr().err
        assert "3 texts" in err and "texts/s" in err  # the closing line
    assert outputs["in.txt"] == outputs["in.jsonl"] == outputs["in.parquet"]
    assert [p["text"] for p in outputs["in.txt"]] == texts

    out = tmp_path / "out.csv"
    args = ["predict", str(sentiment_model), "--input", str(tmp_path / "in.txt"), "--output", str(out), "--proba"]
    assert main(args) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["label"] for r in rows] == [p["label"] for p in outputs["in.txt"]]
    assert {"text", "label", "score", "p_negative", "p_positive"} == set(rows[0])


def test_cli_predict_on_a_run_folder_ner_to_stdout(ner_model: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "model").symlink_to(ner_model)
    (tmp_path / "in.txt").write_text("\n".join(NER_TEXTS), encoding="utf-8")
    assert main(["predict", str(run), "--input", str(tmp_path / "in.txt")]) == 0
    out, err = capsys.readouterr()
    first = json.loads(out.splitlines()[0])
    assert [e["type"] for e in first["entities"]] == ["person", "city"]
    assert "texts/s" in err


@pytest.mark.parametrize(
    "case, expect",
    [
        ("missing input", "file not found"),
        ("missing column", "no 'text' column"),
        ("bad output", "unknown format"),
        ("no model", "no model here"),
        ("base encoder", "without a classification head"),
        ("bad json", "invalid JSON"),
    ],
)
def test_bad_predict_input_is_one_line_exit_2(
    case: str, expect: str, sentiment_model: Path, tiny_student: Path, tmp_path: Path, capsys
) -> None:
    (tmp_path / "ok.txt").write_text("good film\n", encoding="utf-8")
    write_jsonl(tmp_path / "nocol.jsonl", [{"review": "good film"}])
    (tmp_path / "bad.jsonl").write_text('{"text": "good"\n', encoding="utf-8")
    args = {
        "missing input": [str(sentiment_model), "--input", str(tmp_path / "none.txt")],
        "missing column": [str(sentiment_model), "--input", str(tmp_path / "nocol.jsonl")],
        "bad output": [str(sentiment_model), "--input", str(tmp_path / "ok.txt"), "--output", str(tmp_path / "o.xlsx")],
        "no model": [str(tmp_path), "--input", str(tmp_path / "ok.txt")],
        "base encoder": [str(tiny_student), "--input", str(tmp_path / "ok.txt")],
        "bad json": [str(sentiment_model), "--input", str(tmp_path / "bad.jsonl")],
    }[case]
    assert main(["predict", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expect in err[0], err


def test_new_commands_keep_the_parser_light() -> None:
    """Building the whole parser (every `evokd` call, --help included), the benchmark's mounted command too,
    must not import torch or transformers: that alone took ~5 s before the benchmark's settings moved apart."""
    import subprocess
    import sys

    code = (
        "import sys; from evokd.cli.flags import parser; p = parser(); "
        "assert 'bench' in p._subparsers._group_actions[0].choices; "
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
