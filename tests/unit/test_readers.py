"""Dataset readers, their one-line errors, and k-shot sampling."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import json
from pathlib import Path

import pytest

from evokd.data.bio import to_iob2
from evokd.data.readers import DataError
from evokd.task import Task
from evokd.tasks import head_for, load_dataset, sample_shots

CLF = {
    "train.jsonl": '{"text": "great film", "label": "pos"}\n{"text": "awful film", "label": "neg"}\n',
    "dev.jsonl": '{"text": "fine", "label": "pos"}\n',
    "test.jsonl": '{"text": "bad", "label": "neg"}\n',
}
CONLL = "Alice\tB-PER\nvisited\tO\nParis\tB-LOC\n\nBob\tB-PER\n"
NER = {"train.conll": CONLL, "dev.conll": "Bob\tB-PER\n", "test.conll": "Paris\tB-LOC\n"}


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Write each file of `files` into `folder` (bytes as-is, text as UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).write_bytes(data)
    return folder


def jsonl(*rows: dict) -> str:
    """JSON lines text for `rows`."""
    return "".join(json.dumps(r) + "\n" for r in rows)


# ---- readers ----------------------------------------------------------------------------------


def test_jsonl_classification(tmp_path: Path) -> None:
    files = {**CLF, "train.jsonl": CLF["train.jsonl"] + "\n" + '{"text": "ok", "label": 7}\n'}
    ds = load_dataset(write(tmp_path, files), "classification")
    assert ds.task == Task("classification", ("7", "neg", "pos"))  # sorted; integer labels become strings
    assert ds.train[0] == {"text": "great film", "label": "pos"}
    assert len(ds.train) == 3 and len(ds.dev) == 1 and len(ds.test) == 1  # the blank line is skipped
    assert ds.source == str(tmp_path)


def test_csv_classification(tmp_path: Path) -> None:
    train = '\ufeffid,text,label\n1,"great, truly great",pos\n2,"awful\nfilm",neg\n'  # BOM, quoted comma/newline
    files = {"train.csv": train, "dev.csv": "text,label\nfine, pos\n", "test.csv": "label,text\nneg,bad\n"}
    ds = load_dataset(write(tmp_path, files), "classification")
    assert ds.task.labels == ("neg", "pos")
    assert ds.train == [{"text": "great, truly great", "label": "pos"}, {"text": "awful\nfilm", "label": "neg"}]
    assert ds.dev == [{"text": "fine", "label": "pos"}]  # label spaces are stripped
    assert ds.test == [{"text": "bad", "label": "neg"}]


def test_conll_ner(tmp_path: Path) -> None:
    train = "-DOCSTART- -X- O O\n\nAlice NNP B-NP B-PER\nvisited VBD B-VP O\n\n\nNew\tI-LOC\nYork\tI-LOC\n"
    files = {"train.txt": train, "dev.conll": "Bob\tB-PER\n", "test.conll": "Paris B-LOC\n"}
    ds = load_dataset(write(tmp_path, files), "ner")
    assert ds.task == Task("ner", ("LOC", "PER"))
    assert ds.train == [
        {"text": "Alice visited", "tokens": ["Alice", "visited"], "tags": ["B-PER", "O"]},  # last column is the tag
        {"text": "New York", "tokens": ["New", "York"], "tags": ["B-LOC", "I-LOC"]},  # IOB1 start -> B-
    ]


def test_jsonl_ner(tmp_path: Path) -> None:
    train = jsonl({"tokens": ["Bob", "Smith", "ran"], "tags": ["I-PER", "I-PER", "O"]})
    files = {"train.jsonl": train, "dev.conll": "Bob\tB-PER\n", "test.jsonl": train}
    ds = load_dataset(write(tmp_path, files), "ner")
    assert ds.train[0] == {"text": "Bob Smith ran", "tokens": ["Bob", "Smith", "ran"], "tags": ["B-PER", "I-PER", "O"]}
    assert head_for(ds.task).names == ("O", "B-PER", "I-PER")


def test_to_iob2() -> None:
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-PER", "B-LOC", "I-LOC"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-PER", "B-LOC", "I-LOC"]
    assert to_iob2(iob1) == iob2
    assert to_iob2(iob2) == iob2  # IOB2 input is unchanged


# ---- errors: one line, naming the file, the line and the fix ------------------------------------


@pytest.mark.parametrize(
    ("kind", "files", "expected"),
    [
        ("classification", {"dev.jsonl": None}, ["no dev file", ".jsonl, .csv"]),
        ("ner", {"dev.conll": None}, ["no dev file", ".conll, .txt, .jsonl"]),
        ("classification", {"train.csv": "text,label\na,b\n"}, ["several train files", "keep one"]),
        ("classification", {"test.jsonl": "\n\n"}, ["test.jsonl: no examples"]),
        ("classification", {"test.csv": "text,label\n", "test.jsonl": None}, ["test.csv: no examples"]),
        (
            "classification",
            {"train.jsonl": '{"text": "a", "label": "x"}\n{"text": "b" "label": "y"}\n'},
            ["train.jsonl:2: invalid JSON (Expecting ',' delimiter)", "fix the line or remove it"],
        ),
        (
            "classification",
            {"dev.jsonl": '{"text": "a", "label": "pos"}\n\n{"text": "b"}\n'},
            ["dev.jsonl:3: missing key 'label'"],
        ),
        ("classification", {"dev.jsonl": '["a", "pos"]\n'}, ["dev.jsonl:1: expected a JSON object"]),
        ("classification", {"dev.jsonl": '{"text": "a", "label": ""}\n'}, ["dev.jsonl:1: 'label' must be"]),
        (
            "classification",
            {"train.jsonl": None, "train.csv": "sentence,label\na,pos\n"},
            ["train.csv:1: missing CSV column 'text'", "header has: sentence, label"],
        ),
        (
            "classification",
            {"train.jsonl": None, "train.csv": "text,label\na,pos\nb\n"},
            ["train.csv:3: too few fields"],
        ),
        (
            "classification",
            {"dev.jsonl": '{"text": "a", "label": "pos"}\n{"text": "b", "label": "meh"}\n'},
            ["dev.jsonl:2: label 'meh' is not in train", "train has: neg, pos"],
        ),
        ("classification", {"train.jsonl": '{"text": "a", "label": "pos"}\n'}, ["train.jsonl: only one class ('pos')"]),
        (
            "classification",
            {"train.jsonl": b'{"text": "ok", "label": "pos"}\n{"text": "caf\xe9", "label": "neg"}\n'},
            ["train.jsonl:2: not UTF-8 (byte 0xe9)", "re-encode the file to UTF-8"],
        ),
        ("ner", {"test.conll": "Paris B-LOC\n\nAlice B-ORG\n"}, ["test.conll:3: entity type 'ORG' is not in train"]),
        ("ner", {"train.conll": "Alice\tB-PER\nvisited\n"}, ["train.conll:2: malformed line 'visited'"]),
        ("ner", {"train.conll": "Alice\tB-PER\nvisited\tX-FOO\n"}, ["train.conll:2: bad tag 'X-FOO'"]),
        ("ner", {"train.conll": "Alice\tO\n"}, ["train.conll: no entities in train"]),
        (
            "ner",
            {
                "dev.conll": None,
                "dev.jsonl": jsonl(
                    {"tokens": ["Bob"], "tags": ["B-PER"]}, {"tokens": ["Bob", "ran"], "tags": ["B-PER"]}
                ),
            },
            ["dev.jsonl:2: 2 tokens but 1 tags"],
        ),
        ("ner", {"dev.conll": None, "dev.jsonl": jsonl({"tokens": ["Bob"]})}, ["dev.jsonl:1: missing key 'tags'"]),
        ("ner", {"dev.conll": None, "dev.jsonl": jsonl({"tokens": [], "tags": []})}, ["dev.jsonl:1: empty sentence"]),
    ],
)
def test_data_errors(tmp_path: Path, kind: str, files: dict, expected: list[str]) -> None:
    base = NER if kind == "ner" else CLF
    folder = write(tmp_path, {k: v for k, v in {**base, **files}.items() if v is not None})
    with pytest.raises(DataError) as err:
        load_dataset(folder, kind)
    message = str(err.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope: dataset folder not found; .*accepted extensions: \.jsonl, \.csv"):
        load_dataset(tmp_path / "nope", "classification")


# ---- k-shot sampling --------------------------------------------------------------------------


def test_sample_shots_classification() -> None:
    train = [{"text": f"{label} {i}", "label": label} for label in ("a", "b", "c") for i in range(10)]
    task = Task("classification", ("a", "b", "c"))
    shots = sample_shots(train, task, k=3, seed=1)
    assert [ex["label"] for ex in shots] == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert len({ex["text"] for ex in shots}) == 9
    assert shots == sample_shots(train, task, k=3, seed=1)
    assert shots != sample_shots(train, task, k=3, seed=2)


def test_sample_shots_too_few() -> None:
    train = [{"text": "x", "label": "a"}] * 5 + [{"text": "y", "label": "b"}] * 2
    expected = r"^label 'b' has only 2 training examples, fewer than --shots 3; lower --shots$"
    with pytest.raises(DataError, match=expected):
        sample_shots(train, Task("classification", ("a", "b")), k=3, seed=0)


def test_sample_shots_ner_greedy_per_type() -> None:
    sents = [["B-PER", "O", "B-LOC"]] * 4 + [["B-LOC"]] * 2 + [["O", "B-PER"]] * 4
    train = [{"tokens": ["w"] * len(t), "tags": t, "text": str(i)} for i, t in enumerate(sents)]
    task = Task("ner", ("LOC", "PER"))
    shots = sample_shots(train, task, k=2, seed=0)
    assert len(shots) == 4 and len({ex["text"] for ex in shots}) == 4  # k new sentences per type
    assert all("B-LOC" in ex["tags"] for ex in shots[:2]) and all("B-PER" in ex["tags"] for ex in shots[2:])
    assert shots == sample_shots(train, task, k=2, seed=0)
    with pytest.raises(DataError, match=r"entity type 'LOC' has only 6 training sentences"):
        sample_shots(train, task, k=7, seed=0)
