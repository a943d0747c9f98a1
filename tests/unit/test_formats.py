"""``--data`` as Parquet files or a `datasets` folder, and the row layer under it (shared with predict and,
later, --pool): same examples as JSONL, ClassLabel ids read as names, one-line errors for a missing split
or column."""

from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evokd.cli import main
from evokd.data.formats import DataError, read_rows
from evokd.tasks import load_dataset
from tests.support.data import NEG, POS

ROWS = [{"text": t, "label": "positive"} for t in POS] + [{"text": t, "label": "negative"} for t in NEG]
NER_ROWS = [
    {"tokens": ["Bob", "runs"], "tags": ["B-person", "O"]},
    {"tokens": ["in", "Paris"], "tags": ["O", "I-city"]},
]


def write_parquet(folder: Path, rows: list[dict], splits: tuple[str, ...] = ("train", "dev", "test")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet")
    return folder


def class_label_dict(rows: list[dict], splits: tuple[str, ...]) -> datasets.DatasetDict:
    """A DatasetDict the way the Hub ships classification data: integer labels with ClassLabel names."""
    names = ["negative", "positive"]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    coded = [{"text": r["text"], "label": names.index(r["label"])} for r in rows]
    return datasets.DatasetDict({s: datasets.Dataset.from_list(coded, features=features) for s in splits})


def test_parquet_folder_reads_like_jsonl(sentiment_dir: Path, tmp_path: Path) -> None:
    folder = write_parquet(tmp_path / "pq", ROWS)
    got, want = load_dataset(folder, "classification"), load_dataset(sentiment_dir, "classification")
    assert got.task == want.task and got.train == want.train


def test_ner_parquet_converts_iob1_like_other_files(tmp_path: Path) -> None:
    ds = load_dataset(write_parquet(tmp_path / "ner", NER_ROWS), "ner")
    assert ds.task.labels == ("city", "person") and ds.train[1]["tags"] == ["O", "B-city"]


def test_datasets_folder_with_validation_split_and_class_labels(tmp_path: Path) -> None:
    class_label_dict(ROWS, ("train", "validation", "test")).save_to_disk(str(tmp_path / "hf"))
    ds = load_dataset(tmp_path / "hf", "classification")
    assert ds.task.labels == ("negative", "positive") and ds.dev[0] == {"text": POS[0], "label": "positive"}
    # The row layer reads one split's folder as well, names and all.
    assert read_rows(tmp_path / "hf" / "test")[0] == (1, {"text": POS[0], "label": "positive"})


def test_ner_datasets_folder_with_tag_class_labels(tmp_path: Path) -> None:
    tags = ["O", "B-city", "I-city", "B-person", "I-person"]
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "tags": datasets.Sequence(datasets.ClassLabel(names=tags)),
        }
    )
    coded = [{"tokens": r["tokens"], "tags": [tags.index(t) for t in r["tags"]]} for r in NER_ROWS]
    one = datasets.Dataset.from_list(coded, features=features)
    datasets.DatasetDict({"train": one, "dev": one, "test": one}).save_to_disk(str(tmp_path / "hf"))
    assert load_dataset(tmp_path / "hf", "ner").train[0]["tags"] == ["B-person", "O"]


@pytest.mark.parametrize(
    "case, expect",
    [
        ("parquet without test", "no test file"),
        ("parquet without label", "missing key 'label'"),
        ("datasets without dev", "no dev or validation split"),
        ("not parquet", "not a readable Parquet file"),
    ],
)
def test_bad_table_data_is_one_line(case: str, expect: str, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    if case == "parquet without test":
        write_parquet(folder, ROWS, ("train", "dev"))
    elif case == "parquet without label":
        write_parquet(folder, [{"text": r["text"], "sentiment": r["label"]} for r in ROWS])
    elif case == "datasets without dev":
        class_label_dict(ROWS, ("train", "test")).save_to_disk(str(folder))
    else:
        write_parquet(folder, ROWS)
        (folder / "dev.parquet").write_text("not parquet")
    with pytest.raises(DataError) as e:
        load_dataset(folder, "classification")
    assert expect in str(e.value) and "\n" not in str(e.value)


def test_cli_run_takes_a_parquet_folder(tiny_student: Path, teacher_server, tmp_path: Path) -> None:
    folder = write_parquet(tmp_path / "pq", ROWS)
    args = [
        "run",
        "--data",
        str(folder),
        "--student",
        str(tiny_student),
        "--teacher-url",
        teacher_server.url,
        "--rounds",
        "0",
        "--min-steps",
        "2",
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(args) == 0 and (tmp_path / "run" / "model" / "README.md").exists()
