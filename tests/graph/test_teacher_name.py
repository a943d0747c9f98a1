"""The local teacher is named by its weights in the report, the run's summary and the model card."""

from __future__ import annotations

import json

from evokd.cli import main
from evokd.handoff.card import teacher_info
from evokd.settings import Context
from evokd.teacher.local import TEACHERS, teacher_name
from tests.support.runs import run_args

SPEC = TEACHERS["qwen2.5-1.5b"]
LOCAL = f"local:{SPEC.sha256}"  # the identity `teacher_endpoint` gives a run of the local teacher


def test_teacher_name_reads_the_local_weights_else_the_model_name():
    assert teacher_name(LOCAL) == SPEC.model == "Qwen2.5-Coder-1.5B-Instruct Q4_K_M"
    assert teacher_name(LOCAL, "teacher") == SPEC.model  # the name llama.cpp is sent does not name the weights
    assert teacher_name("local:/models/my-teacher.gguf") == "my-teacher.gguf"
    assert teacher_name("http://h/v1|gpt-x") == "gpt-x" and teacher_name("http://h/v1|gpt-x", "gpt-y") == "gpt-y"
    assert teacher_name("") == ""


def test_a_local_teacher_run_names_its_model_in_the_card_summary_and_report(
    sentiment_dir, tiny_student, teacher_server, tmp_path, capsys
):
    local = Context(teacher_url="http://127.0.0.1:8011/v1", teacher_id=LOCAL)
    assert teacher_info(local) == {"model": SPEC.model, "endpoint": "local"}

    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "0")) == 0
    settings = json.loads((out / "run.json").read_text())
    assert teacher_name(settings["teacher_id"], settings["teacher_model"]) == "teacher"  # the scripted server's name
    # As a run of the local teacher records itself (the scripted server stands in for llama.cpp here).
    (out / "run.json").write_text(json.dumps({**settings, "teacher_id": LOCAL, "teacher_model": ""}))
    capsys.readouterr()
    assert main(["resume", str(out), "--teacher-url", teacher_server.url]) == 0  # a finished run: its summary
    assert f"teacher: {SPEC.model}" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert SPEC.model in html and "server default" not in html
