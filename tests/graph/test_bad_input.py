"""Bad input through the `evokd` command: one line naming the file, line and fix, exit 2, no run folder.

Every case is checked before any teacher call or write, so a user who fixes the input can rerun the
same command with the same ``--out``. Flags may name ``{data}`` (the case's data folder) and ``{port}``
(a loopback port nobody listens on).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import typing
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from evokd.cli import main
from evokd.settings import Context, allowed
from evokd.teacher.local import free_port
from tests.support.data import NEG, POS
from tests.support.runs import run_args

Files = dict[str, bytes]
# No teacher is needed: bad input must fail before the first call (a call here would exit 3, not 2).
NO_TEACHER = SimpleNamespace(url="http://127.0.0.1:9/v1")


def rows(labels: dict[str, list[str]]) -> bytes:
    """JSONL bytes for texts grouped by label."""
    return "".join(json.dumps({"text": t, "label": lab}) + "\n" for lab, ts in labels.items() for t in ts).encode()


GOOD = rows({"positive": POS, "negative": NEG})
CONLL = b"Alice B-person\nlives O\nin O\nParis B-geo-loc\n\nBob B-person\nsmiles O\n"


def split_files(train: bytes = GOOD, dev: bytes = GOOD, test: bytes = GOOD, ext: str = "jsonl") -> Files:
    """A dataset folder's files, with any split replaced."""
    return {f"train.{ext}": train, f"dev.{ext}": dev, f"test.{ext}": test}


def broken_jsonl_line_3() -> Files:
    lines = GOOD.split(b"\n")
    lines[2] = b'{"text": "good film", "label": '
    return split_files(train=b"\n".join(lines))


# (case id, dataset files or None for "no folder", extra flags, substrings the one line must hold)
CASES: list[tuple[str, Callable[[], Files | None], list[str], list[str]]] = [
    ("missing data folder", lambda: None, [], ["missing", "neither an existing path nor a known dataset"]),
    ("missing split file", lambda: {"train.jsonl": GOOD, "dev.jsonl": GOOD}, [], ["data", "no test file", "add test."]),
    ("empty split", lambda: split_files(dev=b"\n\n"), [], ["dev.jsonl", "no examples", "add at least one"]),
    (
        "label only in dev",
        lambda: split_files(dev=GOOD + rows({"neutral": ["so so film"]})),
        [],
        ["dev.jsonl:13", "'neutral' is not in train", "add train examples for it or remove the line"],
    ),
    (
        "csv without columns",
        lambda: split_files(*(b"review,sentiment\ngood film,positive\n",) * 3, ext="csv"),
        [],
        ["train.csv:1", "missing CSV column 'text', 'label'", "the first line must name"],
    ),
    ("broken jsonl on line 3", broken_jsonl_line_3, [], ["train.jsonl:3", "invalid JSON", "fix the line or remove it"]),
    (
        "jsonl line not an object",
        lambda: split_files(test=GOOD + b'["good film", "positive"]\n'),
        [],
        ["test.jsonl:13", "expected a JSON object", "fix the line"],
    ),
    (
        "conll malformed line",
        lambda: split_files(train=CONLL + b"\nCarol\n", dev=CONLL, test=CONLL, ext="conll"),
        ["--task", "ner"],
        ["train.conll:9", "malformed line 'Carol'", "expected a token and its tag"],
    ),
    (
        "conll bad tag",
        lambda: split_files(train=CONLL, dev=CONLL.replace(b"B-person", b"PER", 1), test=CONLL, ext="conll"),
        ["--task", "ner"],
        ["dev.conll:1", "bad tag 'PER'", "IOB2"],
    ),
    (
        "card meanings not an object",
        lambda: {
            **split_files(CONLL, CONLL, CONLL, ext="conll"),
            "card.json": b'{"kind": "ner", "label_descriptions": ["person: a name"]}',
        },
        [],
        ["card.json: ", '"label_descriptions" must be an object of label name to a one-line meaning', "fix it"],
    ),
    (
        "one class",
        lambda: split_files(train=rows({"positive": POS})),
        [],
        ["train.jsonl", "only one class ('positive')", "at least two labels"],
    ),
    (
        "k larger than a class",
        lambda: split_files(train=rows({"positive": POS, "negative": NEG[:2]})),
        ["--shots", "3"],
        ["label 'negative' has only 2 training examples", "lower --shots"],
    ),
    (
        "latin-1 file",
        lambda: split_files(test=GOOD + '{"text": "caf\u00e9 film", "label": "positive"}\n'.encode("latin-1")),
        [],
        ["test.jsonl:13", "not UTF-8 (byte 0xe9)", "re-encode the file to UTF-8"],
    ),
    (
        "missing pool file",
        lambda: split_files(),
        ["--pool", "{data}/nothing.txt"],
        ["nothing.txt: file not found", "give a .txt"],
    ),
    ("empty pool file", lambda: {**split_files(), "pool.txt": b"\n\n"}, ["--pool", "{data}/pool.txt"], ["no texts"]),
    (
        "binary pool file",
        lambda: {**split_files(), "pool.txt": bytes(range(256))},
        ["--pool", "{data}/pool.txt"],
        ["pool.txt", "not UTF-8"],
    ),
    (
        "pool file without texts",
        lambda: {**split_files(), "pool.jsonl": b'{"label": "positive"}\n'},
        ["--pool", "{data}/pool.jsonl"],
        ["pool.jsonl:1: no 'text' column (row has: label)"],
    ),
    (
        "checkpointer unreachable",
        lambda: split_files(),
        ["--checkpointer", "postgresql://evokd@127.0.0.1:{port}/postgres?connect_timeout=2"],
        ["--checkpointer: cannot use the PostgreSQL server"],
    ),
    ("teacher unreachable", lambda: split_files(), [], ["teacher check failed"]),
    (
        "unknown review point",
        lambda: split_files(),
        ["--review", "analysis,bogus"],
        ["--review (review): unknown bogus; use analysis,samples"],
    ),
    (
        "student path missing",
        lambda: split_files(),
        ["--student", "/nonexistent/student"],
        ["student model not found: /nonexistent/student", "give a local folder with config.json"],
    ),
]


@pytest.mark.parametrize(("files", "extra", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_no_run_folder(files, extra, expected, tiny_student, tmp_path, capsys):
    data = tmp_path / "missing"
    made = files()
    if made is not None:
        data = tmp_path / "data"
        data.mkdir()
        for name, content in made.items():
            (data / name).write_bytes(content)
    out = tmp_path / "run"
    args = run_args(data, tiny_student, NO_TEACHER, out)
    extra = [e.format(data=data, port=free_port()) for e in extra]
    # The case's flags go last so they win over run_args' defaults (argparse keeps the last value).
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evokd: error: "), err
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert not out.exists(), "a run folder was written for bad input"


def test_student_folder_without_weights_is_refused_before_the_run(sentiment_dir, tiny_student, tmp_path, capsys):
    """A folder that exists but holds no usable model must fail up front, not after the run folder exists."""
    student = tmp_path / "student"
    shutil.copytree(tiny_student, student)
    (student / "model.safetensors").unlink()
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, student, NO_TEACHER, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(student) in err[0], err
    assert not out.exists()


def test_resume_of_a_folder_that_is_not_a_run(tmp_path: Path, capsys):
    assert main(["resume", str(tmp_path), "--teacher-url", "http://127.0.0.1:9/v1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run.json/checkpoints.sqlite here" in err[0]


NUMERIC = [f for f in dataclasses.fields(Context) if typing.get_type_hints(Context)[f.name] in (int, float)]


def out_of_range(f: dataclasses.Field) -> str:
    """A value just outside a numeric setting's declared range, as its flag takes it."""
    bounds = f.metadata["bounds"]
    value = bounds["le"] + 1 if "le" in bounds else bounds["gt"] if "gt" in bounds else bounds["ge"] - 1
    return str(int(value)) if typing.get_type_hints(Context)[f.name] is int else str(value)


def test_every_numeric_setting_declares_its_range():
    assert len(NUMERIC) > 20
    assert [f.name for f in NUMERIC if not allowed(f)] == []


@pytest.mark.parametrize("field", NUMERIC, ids=[f.name for f in NUMERIC])
def test_an_out_of_range_setting_is_one_line_exit_2_and_no_run_folder(
    field, sentiment_dir, tiny_student, tmp_path, capsys
):
    flag = field.metadata["flag"]
    flag = flag if isinstance(flag, str) else "--" + field.name.replace("_", "-")
    out = tmp_path / "run"
    assert main([*run_args(sentiment_dir, tiny_student, NO_TEACHER, out), flag, out_of_range(field)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"evokd: error: {flag} ") and f"({field.name}) is out of range" in lines[0], lines[0]
    assert lines[0].endswith(f"give a value {allowed(field)}"), lines[0]
    assert not out.exists()
    with pytest.raises(ValueError, match=f"\\({field.name}\\) is out of range"):  # Python and Studio alike
        Context(**{field.name: type(field.default)(out_of_range(field))})
