"""`evokd bench` cells: one idempotent function per cell, run on a real local Ray cluster or by array index."""

from __future__ import annotations

import json
from pathlib import Path

from evokd.cli import main
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher


def bench_args(data: Path, student: Path, url: str, work: Path, *extra: str) -> list[str]:
    """`evokd bench` on 4 cells (seed-only and static, seeds 1 and 2): a tiny student, a scripted teacher."""
    return [
        "bench",
        "--datasets",
        str(data),
        "--methods",
        "seed-only,static",
        "--seeds",
        "1,2",
        "--student",
        str(student),
        "--teacher-url",
        url,
        "--json-mode",
        "json_schema",
        "--concurrency",
        "2",
        "--budget-tokens",
        "2000",
        "--rounds",
        "2",
        "--epochs",
        "1",
        "--min-steps",
        "4",
        "--lr",
        "1e-3",
        "--work",
        str(work),
        "--out",
        str(work / "results"),
        *extra,
    ]


def results(work: Path) -> dict[str, float]:
    """Every finished cell under ``work``: its folder (relative) and its test score."""
    return {str(p.parent.relative_to(work)): json.loads(p.read_text())["score"] for p in work.rglob("result.json")}


def test_cells_run_as_ray_tasks_once_and_a_gpu_the_cluster_lacks_exits_2(sentiment_dir, tiny_student, tmp_path, capfd):
    import ray  # noqa: F401 - the ray extra is part of dev: a missing one must fail, not skip

    work = tmp_path / "work"
    with FakeOpenAI(SentimentTeacher()) as server:
        args = bench_args(sentiment_dir, tiny_student, server.url, work, "--ray-address", "local")
        assert main(args) == 0
        err = capfd.readouterr().err
        assert "ray: 4 of 4 cells to run" in err
        first = results(work)
        assert len(first) == 4
        assert len(list(work.rglob("checkpoints.sqlite"))) == 4  # each cell checkpointed in its own folder
        paid = len(server.requests)
        # A rerun finds every cell finished on disk and submits no task.
        assert main(args) == 0
        assert "ray: 0 of 4 cells to run" in capfd.readouterr().err
        assert len(server.requests) == paid and results(work) == first
        # A result made with other settings is not finished for these: only that cell runs again.
        stale = work / sentiment_dir.name / "static" / "seed-2" / "result.json"
        stale.write_text(json.dumps({**json.loads(stale.read_text()), "fingerprint": "other settings"}))
        # --collect refuses to build a table from it: one line naming the cell and how to rerun it.
        assert main(bench_args(sentiment_dir, tiny_student, server.url, work, "--collect")) == 2
        err = capfd.readouterr().err.strip().splitlines()
        assert err[-1].startswith("evokd: error: --collect: 1 cell(s) were made by other code or settings (")
        assert f"{sentiment_dir.name}/static/seed-2" in err[-1] and "--cell-index 3" in err[-1]
        assert main(args) == 0
        assert "ray: 1 of 4 cells to run" in capfd.readouterr().err
        assert results(work) == first  # the same seed and cached replies: the same score, now under these settings
        assert json.loads(stale.read_text())["fingerprint"] != "other settings"
        # A cell asking for a GPU this cluster lacks: one line and exit 2, not a task pending forever.
        assert main([*args, "--cell-gpus", "1"]) == 2
        err = capfd.readouterr().err.strip().splitlines()
        assert err[-1].startswith("evokd: error: --cell-gpus 1: the Ray cluster at local has 0 GPU(s)")


def test_list_cells_and_cell_index_make_the_same_cell_folders(sentiment_dir, tiny_student, tmp_path, capfd):
    with FakeOpenAI(SentimentTeacher()) as server:
        here, array = tmp_path / "here", tmp_path / "array"
        assert main(bench_args(sentiment_dir, tiny_student, server.url, here)) == 0  # the default: this process
        assert main(bench_args(sentiment_dir, tiny_student, server.url, array, "--list-cells")) == 0
        listed = capfd.readouterr().out.strip().splitlines()
        assert [line.split("\t")[0] for line in listed] == ["0", "1", "2", "3"]
        for line in listed:  # what each task of an array job runs
            assert (
                main(bench_args(sentiment_dir, tiny_student, server.url, array, "--cell-index", line.split("\t")[0]))
                == 0
            )
        assert set(results(array)) == {line.split("\t")[1] for line in listed} == set(results(here))
        assert results(array) == results(here)  # same seeds, same cached-free scripted teacher: same scores
        assert main(bench_args(sentiment_dir, tiny_student, server.url, array, "--collect")) == 0
        table = (array / "results" / f"{sentiment_dir.name}.md").read_text()
        assert "| seed-only | 2 |" in table and "| static | 2 |" in table
        # An index past the list: one line, exit 2.
        assert main(bench_args(sentiment_dir, tiny_student, server.url, array, "--cell-index", "4")) == 2
        assert "--cell-index 4: this benchmark has cells 0-3" in capfd.readouterr().err
