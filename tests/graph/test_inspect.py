"""`evokd inspect RUN_DIR`: a run read back from its checkpoint database."""

from __future__ import annotations

import io
import json

from evokd.cli import main
from tests.support.runs import run_args


def test_inspect_finished_run(sentiment_dir, tiny_student, teacher_server, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out)) == 0
    moved = out.rename(tmp_path / "renamed")  # the thread is found in the database, not from the folder name
    capsys.readouterr()

    assert main(["inspect", str(moved), "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["status"] == "finished: max_rounds"
    assert [r["round"] for r in view["rounds"]] == [0, 1, 2]
    assert set(view["analyses"]) == {"1", "2"} and view["analyses"]["1"]["summary"] == "It misses mild wording."
    assert [s["id"] for s in view["samples"]] == ["r1-0", "r1-1", "r1-2", "r1-3", "r2-0", "r2-1", "r2-2", "r2-3"]
    accepted = [s for s in view["samples"] if s["verdict"] == "accepted"]
    assert accepted and all({"stance", "requested", "label", "predicted", "teacher_tokens"} <= set(s) for s in accepted)
    assert view["rounds"][1]["dev"]["per_label"].keys() == {"positive", "negative"}
    assert view["prompts"]["critic"].startswith("You are a careful annotator")

    assert main(["inspect", str(moved), "--json", "--round", "2"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert {s["round"] for s in one["samples"]} == {2} and list(one["analyses"]) == ["2"]

    assert main(["inspect", str(moved)]) == 0
    shown = capsys.readouterr().out
    for expected in (
        "finished: max_rounds",
        "rounds (macro_f1)",
        "dev F1 per label",
        "round 2 analysis",
        "mild complaints",
        "samples (8)",
        "r2-3",
    ):
        assert expected in shown, expected


def test_inspect_paused_run_and_bad_folder(sentiment_dir, tiny_student, teacher_server, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # nobody answers the review: the run stays paused
    assert (
        main(run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "1", "--review", "analysis")) == 2
    )
    capsys.readouterr()
    assert main(["inspect", str(out), "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["next"] == ["review_analysis"] and view["waiting"][0]["review"] == "analysis"
    assert view["status"].startswith("paused: waiting for a review of the analysis (round 1)")
    assert view["analyses"]["1"]["weaknesses"] and view["samples"] == []

    assert main(["inspect", str(tmp_path)]) == 2
    assert "no checkpoints.sqlite" in capsys.readouterr().err
