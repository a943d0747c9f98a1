"""The pool reader: only a row's text (or tokens) is read, never a label; bad rows get one-line errors."""

from __future__ import annotations

import pytest

from evokd.data.formats import DataError
from evokd.data.pool import pool_values, unlabelled
from evokd.tasks import adapter_for
from tests.support.data import write_file, write_jsonl


def test_a_text_file_gives_one_item_per_non_blank_line(tmp_path):
    path = write_file(tmp_path, "pool.txt", "a good film\n\n  great   acting \n")
    assert pool_values(path) == [("p1", "a good film"), ("p3", "great acting")]


def test_only_the_text_column_is_taken_from_jsonl_and_csv(tmp_path):
    write_jsonl(tmp_path / "pool.jsonl", [{"text": "good film", "label": "POISON"}, {"text": "", "label": "x"}])
    csv = write_file(tmp_path, "pool.csv", "label,text\nPOISON,bad film\n")
    assert pool_values(tmp_path / "pool.jsonl") == [("p1", "good film")]
    assert pool_values(csv) == [("p2", "bad film")]


def test_token_lists_are_kept_for_a_per_token_task(tmp_path):
    write_jsonl(tmp_path / "pool.jsonl", [{"tokens": ["Bob", "lives", "in", "Paris"], "tags": ["POISON"] * 4}])
    [(item_id, value)] = pool_values(tmp_path / "pool.jsonl")
    assert (item_id, value) == ("p1", ["Bob", "lives", "in", "Paris"])
    assert adapter_for("ner").pool_item(value) == {"tokens": value, "text": "Bob lives in Paris"}
    assert adapter_for("ner").pool_item("Bob's in Paris.")["tokens"][-1] == "."
    assert adapter_for("classification").pool_item("good film") == {"text": "good film"}


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("pool.jsonl", '{"label": "positive"}\n', r"pool.jsonl:1: no 'text' column \(row has: label\)"),
        ("pool.jsonl", "not json\n", r"pool.jsonl:1: invalid JSON"),
        ("pool.txt", "\n\n", r"the pool holds no texts"),
        ("pool.xml", "<a/>", r"unknown file type .xml"),
    ],
)
def test_bad_pool_files_get_one_line_errors(tmp_path, name, body, message):
    with pytest.raises(DataError, match=message):
        pool_values(write_file(tmp_path, name, body))


def test_a_missing_pool_file_names_itself(tmp_path):
    with pytest.raises(DataError, match=r"missing\.txt: file not found"):
        pool_values(tmp_path / "missing.txt")


def test_the_train_split_loses_its_labels():
    items = unlabelled(
        [{"text": "good film", "label": "positive"}, {"tokens": ["Bob"], "tags": ["B-person"], "text": "Bob"}]
    )
    assert items == [("t1", "good film"), ("t2", ["Bob"])]
