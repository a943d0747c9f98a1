"""The student in production on a hand-made run folder with a tiny trained student: ONNX export (fp32 and
int8) that plain onnxruntime loads and that agrees with torch, `evokd predict --backend/--proba`, the model
card's exported variants and calibration, and the one-line errors."""

from __future__ import annotations

import json
import sys
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from evokd.cli import main
from evokd.handoff import calibration, onnx
from evokd.handoff.card import EXPORTS_START, record_export
from evokd.handoff.predict import load_student, predict
from evokd.student import model
from evokd.student.train import TrainConfig, train
from evokd.task import Example, Task
from evokd.tasks import head_for
from tests.support.data import NEG, POS, write_jsonl
from tests.support.tiny_model import make_tiny_model

SENTIMENT = Task("classification", ("negative", "positive"))
TEST_TEXTS = [f"{a} {b}" for a, b in product(POS + NEG, POS + NEG)][:120]  # mixed pairs: confident and not
NER = Task("ner", ("city", "person"))
NER_TRAIN = [
    ("alice lives in paris", "B-person O O B-city"),
    ("bob met alice smith", "B-person O B-person I-person"),
    ("we love london", "O O B-city"),
    ("paris and london", "B-city O B-city"),
]


def labelled(texts: list[str]) -> list[dict]:
    """Rows labelled by which word list the text's first words come from."""
    return [{"text": t, "label": "positive" if any(t.startswith(p) for p in POS) else "negative"} for t in texts]


def make_run(root: Path, base: Path, later_accepted: int) -> Path:
    """A run folder as `evokd run` leaves it, by hand: the kept student from round 1, ``later_accepted`` accepted
    samples from round 2 (which it never trained on), its data and settings."""
    data, run = root / "data", root / "run"
    data.mkdir(parents=True)
    rows = labelled(POS + NEG)
    for split, split_rows in (("train", rows), ("dev", rows), ("test", labelled(TEST_TEXTS))):
        write_jsonl(data / f"{split}.jsonl", split_rows)
    student = model.load(base, head_for(SENTIMENT), device="cpu")
    examples = [Example(text=r["text"], label=r["label"]) for r in rows]
    train(student, examples, TrainConfig(lr=3e-3, batch_size=4, epochs=1, min_steps=80, seed=0))
    model.save(student, run / "model")
    (run / "model" / "README.md").write_text("# evokd student\n\n## Use\n\nsee below\n", encoding="utf-8")
    (run / "run.json").write_text(json.dumps({"data": str(data), "max_length": 32}), encoding="utf-8")
    (run / "summary.json").write_text(json.dumps({"best_round": 1, "rounds": 2}), encoding="utf-8")
    write_jsonl(run / "seeds.jsonl", [{"n": i, **r} for i, r in enumerate(rows[:2])])
    later = labelled(TEST_TEXTS[::-1][:later_accepted])
    write_jsonl(
        run / "samples.jsonl",
        [{"id": "r1-0", "round": 1, "text": "good film", "label": "positive", "verdict": "accepted"}]
        + [{"id": f"r2-{i}", "round": 2, **r, "verdict": "accepted"} for i, r in enumerate(later)]
        + [{"id": "r2-x", "round": 2, "text": "bad", "label": "", "verdict": "rejected", "reason": "unusable"}],
    )
    return run


@pytest.fixture(scope="module")
def bert_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny encoder with a tokenizer that also returns ``token_type_ids`` before ``attention_mask``, as BERT's
    (and the bundled MiniLM's) do: the order the forward pass takes its arguments in differs from it."""
    words = " ".join(POS + NEG) + " indeed truly film number a and"
    base = make_tiny_model(tmp_path_factory.mktemp("bert-like") / "student", [words, *POS, *NEG])
    config = json.loads((base / "tokenizer_config.json").read_text())
    config["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
    (base / "tokenizer_config.json").write_text(json.dumps(config))
    return base


@pytest.fixture(scope="module")
def run(bert_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("onnx"), bert_like, later_accepted=40)


@pytest.fixture(scope="module")
def exported(run: Path) -> Path:
    assert main(["export", str(run), "--format", "onnx"]) == 0
    assert main(["export", str(run), "--format", "onnx", "--quantize", "int8"]) == 0
    return run


def test_plain_onnxruntime_runs_the_export_and_agrees_with_torch(exported: Path) -> None:
    import onnxruntime
    from transformers import AutoTokenizer

    folder = exported / "export-onnx"
    assert json.loads((folder / "config.json").read_text())["id2label"] == {"0": "negative", "1": "positive"}
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    enc = tokenizer(TEST_TEXTS, padding=True, return_tensors="np")
    assert {i.name for i in session.get_inputs()} == {"input_ids", "token_type_ids", "attention_mask"} == set(enc)
    feed = {i.name: enc[i.name].astype(np.int64) for i in session.get_inputs()}
    theirs = session.run(["logits"], feed)[0]
    student, _ = load_student(exported, "cpu")
    with torch.no_grad():
        ours = student.model(**tokenizer(TEST_TEXTS, padding=True, return_tensors="pt")).logits.numpy()
    assert np.abs(theirs - ours).max() < 1e-4
    assert (theirs.argmax(1) == ours.argmax(1)).mean() >= 0.99
    assert len(set(ours.argmax(1).tolist())) == 2  # a student that answers both labels, so agreement means something


def test_exports_carry_a_manifest_their_test_score_and_the_card(exported: Path) -> None:
    fp32 = json.loads((exported / "export-onnx" / onnx.MANIFEST).read_text())
    int8 = json.loads((exported / "export-onnx-int8" / onnx.MANIFEST).read_text())
    assert fp32["format"] == int8["format"] == "onnx" and (fp32["quantization"], int8["quantization"]) == (None, "int8")
    assert fp32["evokd_version"] == onnx.evokd_version() and fp32["source_run"] == str(exported)
    assert fp32["test"]["texts"] == len(TEST_TEXTS) and fp32["test"]["agreement"] >= 0.99
    assert fp32["test"]["score"] == pytest.approx(fp32["test"]["torch_score"], abs=0.01)
    assert int8["test"]["agreement"] >= 0.9
    assert (exported / "export-onnx-int8" / "model.onnx").stat().st_size < (
        exported / "export-onnx" / "model.onnx"
    ).stat().st_size
    card = (exported / "model" / "README.md").read_text()
    assert card.startswith("# evokd student") and card.count(EXPORTS_START) == 1
    assert "| `export-onnx` | onnx | none (fp32) |" in card and "| `export-onnx-int8` | onnx | int8 |" in card
    assert (exported / "export-onnx-int8" / "README.md").read_text() == card
    # Exporting the same folder again replaces its row, the card keeps one section.
    again = record_export(exported / "model", {**fp32, "folder": "export-onnx"})
    assert again.count("| `export-onnx` |") == 1 and again.count(EXPORTS_START) == 1


def test_predict_proba_on_both_backends_loads_into_pandas(exported: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "in.txt").write_text("\n".join(TEST_TEXTS), encoding="utf-8")
    frames = {}
    for backend in ("auto", "torch"):
        out = tmp_path / f"{backend}.csv"
        args = ["predict", str(exported), "--input", str(tmp_path / "in.txt"), "--output", str(out), "--proba"]
        assert main([*args, "--backend", backend]) == 0
        frames[backend] = pd.read_csv(out)
        assert f"with {'onnx' if backend == 'auto' else 'torch'}" in capsys.readouterr().err
    for frame in frames.values():
        assert list(frame.columns) == ["text", "label", "score", "p_negative", "p_positive"]
        assert np.allclose(frame[["p_negative", "p_positive"]].sum(axis=1), 1.0, atol=1e-5)
    assert (frames["auto"]["label"] == frames["torch"]["label"]).mean() >= 0.99
    assert np.allclose(frames["auto"]["p_positive"], frames["torch"]["p_positive"], atol=1e-4)
    jsonl = tmp_path / "out.jsonl"
    assert main(["predict", str(exported), "--input", str(tmp_path / "in.txt"), "--output", str(jsonl)]) == 0
    rows = pd.read_json(jsonl, lines=True)
    assert list(rows.columns) == ["text", "label", "score"]  # the full distribution only with --proba


def test_python_entry_point_and_the_int8_export(exported: Path) -> None:
    rows = predict(exported, TEST_TEXTS[:8], proba=True)
    assert [r["label"] for r in rows] == [r["label"] for r in predict(exported, TEST_TEXTS[:8], backend="torch")]
    assert all(sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5) for r in rows)
    int8 = predict(exported / "export-onnx-int8", TEST_TEXTS, backend="onnx")
    assert sum(a["label"] == b["label"] for a, b in zip(int8, predict(exported, TEST_TEXTS), strict=True)) >= 108


def test_the_profile_of_an_int8_export_names_its_quantized_kernels(exported: Path, tmp_path: Path) -> None:
    """The serving table's profile reads ONNX Runtime's own trace: on a real int8 export it finds the int8 path's
    kernels beside the fp32 ones, and the kernels add up to no more than the session's runs."""
    import onnxruntime
    from transformers import AutoTokenizer

    from evokd.bench.serving import QUANTIZED_OPS, kernel_ms

    folder = exported / "export-onnx-int8"
    options = onnxruntime.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "trace")
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    enc = AutoTokenizer.from_pretrained(str(folder))(TEST_TEXTS[:16], padding=True, return_tensors="np")
    session.run(["logits"], {i.name: enc[i.name].astype(np.int64) for i in session.get_inputs()})
    found = kernel_ms(json.loads(Path(session.end_profiling()).read_text()))
    assert QUANTIZED_OPS & set(found["kernels_ms"]) and "Softmax" in found["kernels_ms"]
    assert 0 < sum(found["kernels_ms"].values()) <= found["session_ms"] * 1.01


def test_calibration_is_measured_on_later_rounds_and_scales_scores(run: Path, tmp_path: Path) -> None:
    examples = calibration.validation_examples(run)
    assert len(examples) == 40 and all(ex["label"] for ex in examples)  # round 2's accepted, not round 1's
    found = calibration.calibrate(run, max_length=32)
    assert found["measured"] and found["rows"] == 40 and 0 <= found["ece_after"] <= 1
    assert found["temperature"] == 1.0 or found["ece_after"] < found["ece_before"]
    assert "## Calibration" in "\n".join(calibration.card_lines(found)) and "test_check" not in found
    # Gold test rows are read after T is fixed, for the card only: the same T with or without them.
    gold = [Example(text=r["text"], label=r["label"]) for r in labelled(TEST_TEXTS[:30])]
    checked = calibration.calibrate(run, max_length=32, test=gold)
    assert checked["temperature"] == found["temperature"] and checked["test_check"]["rows"] == 30
    assert "for reporting only" in "\n".join(calibration.card_lines(checked))
    # A temperature of 3 softens every score and changes no label.
    model_copy = tmp_path / "model"
    model.save(load_student(run, "cpu")[0], model_copy)
    plain = predict(model_copy, TEST_TEXTS[:10], backend="torch")
    (model_copy / calibration.CALIBRATION).write_text(json.dumps({"temperature": 3.0}))
    soft = predict(model_copy, TEST_TEXTS[:10], backend="torch")
    assert [r["label"] for r in soft] == [r["label"] for r in plain]
    assert all(0.5 <= s["score"] < p["score"] for s, p in zip(soft, plain, strict=True) if p["score"] > 0.51)


def test_no_held_out_labels_says_so(tiny_student: Path, tmp_path: Path) -> None:
    run = make_run(tmp_path, tiny_student, later_accepted=3)
    found = calibration.calibrate(run, max_length=32)
    assert not found["measured"] and found["temperature"] == 1.0
    assert "ECE not measured: no held-out paid-for labels" in (card := "\n".join(calibration.card_lines(found)))
    assert "--calibration-share" in card  # the line names the setting that would measure it


def test_rows_held_out_for_calibration_in_the_kept_round_are_measured(tiny_student: Path, tmp_path: Path) -> None:
    # A few-shot run keeps its last round: its rows are only those hold_out marked, whatever the noise step said.
    run = make_run(tmp_path, tiny_student, later_accepted=0)
    (run / "summary.json").write_text(json.dumps({"best_round": 2, "rounds": 2}), encoding="utf-8")
    rows = labelled(TEST_TEXTS[:30])
    write_jsonl(
        run / "samples.jsonl",
        [{"id": f"r2-{i}", "round": 2, **r, "verdict": "accepted", "calibration": i % 3 > 0, "noise": "held_out"}
         for i, r in enumerate(rows)],
    )  # fmt: skip
    examples = calibration.validation_examples(run)
    assert [ex["text"] for ex in examples] == [r["text"] for i, r in enumerate(rows) if i % 3 > 0]
    found = calibration.calibrate(run, max_length=32)
    assert found["measured"] and found["rows"] == 20


@pytest.mark.filterwarnings("ignore:Tokenizer does not support real words")  # the tiny word-level tokenizer
def test_ner_export_prints_spans_and_word_probabilities(tmp_path: Path) -> None:
    base = make_tiny_model(tmp_path / "base", [" ".join(s for s, _ in NER_TRAIN) + " bob smith"])
    student = model.load(base, head_for(NER), device="cpu")
    examples = [Example(text=s, tokens=s.split(), tags=t.split()) for s, t in NER_TRAIN]
    train(student, examples, TrainConfig(lr=3e-3, batch_size=4, epochs=1, min_steps=80, seed=0))
    model.save(student, tmp_path / "run" / "model")
    assert main(["export", str(tmp_path / "run"), "--format", "onnx"]) == 0
    texts = ["bob lives in london", "alice smith met bob in paris"]
    ours = predict(tmp_path / "run", texts, proba=True)
    torch_rows = predict(tmp_path / "run", texts, backend="torch")
    spans = [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in ours]
    assert spans == [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in torch_rows]
    scores = [e["score"] for r in ours for e in r["entities"]]
    assert scores == pytest.approx([e["score"] for r in torch_rows for e in r["entities"]], abs=1e-4)
    assert [(e["text"], e["type"]) for e in ours[0]["entities"]] == [("bob", "person"), ("london", "city")]
    for word in ours[1]["words"]:
        assert texts[1][word["start"] : word["end"]] == word["text"]
        assert sum(word["probabilities"].values()) == pytest.approx(1.0, abs=1e-5) and "B-city" in word["probabilities"]


def test_bad_input_is_one_line_exit_2(exported: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "in.txt").write_text("good film\n", encoding="utf-8")
    other = tmp_path / "old-export"
    other.mkdir()
    for f in (exported / "export-onnx").iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((other / onnx.MANIFEST).read_text())
    (other / onnx.MANIFEST).write_text(json.dumps({**manifest, "evokd_version": "0.0.1"}))
    cases = [
        (["export", str(tmp_path), "--format", "onnx"], "no model here"),
        (["predict", str(other), "--input", str(tmp_path / "in.txt")], "exported by evokd 0.0.1"),
        (["predict", str(tmp_path / "none"), "--input", str(tmp_path / "in.txt"), "--backend", "onnx"], "no ONNX"),
        (["export", str(exported), "--format", "jsonl", "--quantize", "int8"], "--quantize applies to --format onnx"),
        (["export", str(exported), "--format", "onnx"], "not empty"),
    ]
    for args, expect in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expect in err[0], err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    for args in (
        ["predict", str(exported), "--input", str(tmp_path / "in.txt"), "--backend", "onnx"],
        ["export", str(exported), "--format", "onnx", "--out", str(tmp_path / "o")],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "pip install 'evokd[onnx]'" in err[0], err
    # Without the extra, auto falls back to torch on a run that has an export.
    assert main(["predict", str(exported), "--input", str(tmp_path / "in.txt")]) == 0
    assert "with torch" in capsys.readouterr().err
