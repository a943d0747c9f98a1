"""Run files: idempotent appends, torn-line repair, atomic JSON and folder replacement."""

from __future__ import annotations

import json

from evokd.records import append_new, copy_dir, read_json, read_jsonl, write_json


def test_append_new_skips_records_already_written(tmp_path):
    path = tmp_path / "s.jsonl"
    assert append_new(path, [{"id": "a"}, {"id": "b"}], key="id") == 2
    assert append_new(path, [{"id": "b"}, {"id": "c"}], key="id") == 1
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c"]


def test_a_torn_last_line_is_cut_before_appending(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "te')
    assert [r["id"] for r in read_jsonl(path)] == ["a"]
    append_new(path, [{"id": "b"}], key="id")
    lines = path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]


def test_write_json_and_copy_dir_replace_whole(tmp_path):
    write_json(tmp_path / "x.json", {"a": 1})
    write_json(tmp_path / "x.json", {"a": 2})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2}
    assert not list(tmp_path.glob("*.tmp"))
    src1, src2, dest = tmp_path / "s1", tmp_path / "s2", tmp_path / "d"
    src1.mkdir(), src2.mkdir()
    (src1 / "one").write_text("1"), (src2 / "two").write_text("2")
    copy_dir(src1, dest)
    copy_dir(src2, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["two"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "s1", "s2", "x.json"]


def test_read_json_gives_the_object_or_nothing_for_a_missing_file(tmp_path):
    (tmp_path / "run.json").write_text('{"data": "rotten_tomatoes", "shots": 1}', encoding="utf-8")
    assert read_json(tmp_path / "run.json") == {"data": "rotten_tomatoes", "shots": 1}
    assert read_json(tmp_path / "summary.json") == {}
