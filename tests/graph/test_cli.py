"""The `evokd` command in-process: a run writes its folder, resume continues it, bad input exits 2."""

from __future__ import annotations

import json

from evokd.cli import main
from evokd.records import read_jsonl
from tests.support.runs import run_args


def test_run_then_resume_finished(sentiment_dir, tiny_student, teacher_server, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out)) == 0
    for name in (
        "samples.jsonl",
        "rounds.jsonl",
        "summary.json",
        "run.json",
        "checkpoints.sqlite",
        "teacher_cache.sqlite",
        "model/model.safetensors",
        "prompts/critic.md",
        "seeds.jsonl",
    ):
        assert (out / name).exists(), name
    assert [r["round"] for r in read_jsonl(out / "rounds.jsonl")] == [0, 1, 2]
    saved = json.loads((out / "run.json").read_text())
    assert "teacher_url" not in saved and saved["max_rounds"] == 2
    assert "learning curve" in capsys.readouterr().out
    # Resuming a finished run changes nothing.
    before = (out / "samples.jsonl").read_text()
    assert main(["resume", str(out), "--teacher-url", teacher_server.url]) == 0
    assert (out / "samples.jsonl").read_text() == before


def test_existing_run_folder_is_refused(sentiment_dir, tiny_student, teacher_server, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "0")) == 0
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out)) == 2
    assert "evokd resume" in capsys.readouterr().err


def test_bad_data_exits_2_and_writes_nothing(tiny_student, teacher_server, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_args(tmp_path / "missing", tiny_student, teacher_server, out)) == 2
    err = capsys.readouterr().err
    assert "error" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_endpoint_settings_default_by_teacher_kind_unless_chosen():
    from evokd.teacher.local import teacher_endpoint

    with teacher_endpoint(
        "http://127.0.0.1:9/v1", "qwen2.5-0.5b", {"json_mode": None, "concurrency": 2, "timeout": None}
    ) as e:
        assert e == {
            "teacher_url": "http://127.0.0.1:9/v1",
            "json_mode": "json_schema",
            "concurrency": 2,
            "timeout": 120.0,
        }
