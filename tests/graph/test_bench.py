"""`evokd bench` in quick form: tiny data, tiny student, scripted teacher; and the pieces it rests on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evokd import services
from evokd.bench import METHOD_NAMES, runner, speed
from evokd.bench.cells import all_cells, run_cell
from evokd.bench.methods import methods
from evokd.bench.runner import data_identity, run_benchmark, select, source_sha256
from evokd.bench.settings import CACHE_FILE, Settings
from evokd.bench.tables import fmt, mean_std
from evokd.records import read_jsonl
from tests.support.data import write_jsonl
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher, prompt_of, schema_name

BUDGET = 6_000


def settings(data: Path, student: Path, url: str, tmp: Path, **over: object) -> Settings:
    """A benchmark small enough for CI: two seeds, a few rounds per method."""
    values = dict(
        datasets=[str(data)],
        seeds=[1, 2],
        budget_tokens=BUDGET,
        per_round=2,
        max_rounds=3,
        epochs=1,
        min_steps=4,
        batch_size=8,
        lr=1e-3,
        student=str(student),
        teacher_url=url,
        json_mode="json_schema",
        concurrency=2,
        teacher_eval=6,
        full_shot_limit=0,
        out=str(tmp / "results"),
        work=str(tmp / "work"),
        machine="test",
    )
    values.update(over)
    return Settings(**values)  # type: ignore[arg-type]


def test_quick_bench_writes_reports_within_budget_and_reruns_from_cache(
    sentiment_dir, tiny_student, tmp_path, monkeypatch
):
    monkeypatch.setattr(runner, "REFERENCE_CHUNK", 4)  # the teacher reference's 6 texts in two chunks
    lines: list[str] = []
    with FakeOpenAI(SentimentTeacher()) as server:
        s = settings(sentiment_dir, tiny_student, server.url, tmp_path)
        [summary] = run_benchmark(s, lines.append)
        paid = len(server.requests)
        # A cell retried from scratch: everything in its folder is gone but the reply cache.
        for cell in all_cells(s):
            for p in cell.folder(s).iterdir():
                if not p.name.startswith(CACHE_FILE):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        [again] = run_benchmark(s, lines.append)
        assert len(server.requests) == paid  # every teacher reply came from the cell's cache
        # With the cache switched off the same cell pays again.
        shutil.rmtree(Path(s.work) / sentiment_dir.name / "static" / "seed-1")
        run_benchmark(
            settings(
                sentiment_dir,
                tiny_student,
                server.url,
                tmp_path,
                cache=False,
                methods=["static"],
                seeds=[1],
                out=str(tmp_path / "uncached"),
            ),
            lines.append,
        )
        assert len(server.requests) > paid

    name = sentiment_dir.name
    out = Path(s.out)
    assert json.loads((out / f"{name}.json").read_text())["dataset"] == str(sentiment_dir)
    table = (out / f"{name}.md").read_text()
    ran = [m for m in METHOD_NAMES if methods(2)[m].kinds in ((), ("classification",))]  # not NER-only ones
    assert ran == [m for m in METHOD_NAMES if m != "pool-random-mask"]
    assert [m for m in ran if f"| {m} |" not in table] == [] and "full-shot (reference)" in table
    # Each row shows its runs' own mean, and the table names the one code every cell in it was made by.
    for method, runs in summary["runs"].items():
        m = summary["methods"][method]
        assert (m["score_mean"], m["score_std"]) == tuple(round(x, 4) for x in mean_std([r["score"] for r in runs]))
        row = next(line for line in table.splitlines() if line.startswith(f"| {method} | 2 | "))
        assert f"| {fmt(m['score_mean'], m['score_std'])} |" in row, method
    assert summary["code_sha256"] == source_sha256()
    assert set(summary["methods"]) == set(ran)
    for method, runs in summary["runs"].items():
        assert [r["seed"] for r in runs] == [1, 2]
        # Every rung of the ladder below the top, then the top; the score at the top is the run's own.
        assert [[b["budget"] for b in r["budgets"]] for r in runs] == [[1_000, 2_000, 4_000, BUDGET]] * 2, method
        assert [r["budgets"][-1]["score"] for r in runs] == [r["score"] for r in runs], method
    assert set(METHOD_NAMES) == set(methods(2))  # every method `evokd bench --methods` accepts, and no other
    teacherless = {m for m, method in methods(2).items() if not method.uses_teacher}
    assert teacherless == {"seed-only", "seed-only-long", "setfit"}
    assert {m: summary["methods"][m]["tokens_mean"] for m in teacherless} == {m: 0 for m in teacherless}
    assert [m for m in ran if m not in teacherless and summary["methods"][m]["tokens_mean"] == 0] == []
    # Equal labelled data: every method saw the 2 seeds, except the dev-feedback variant and the oracle-dev
    # ablation, which say how many more (the dev texts shown; the gold dev labels that decided).
    labelled = {m: v["labelled_max"] for m, v in summary["methods"].items()}
    more = {"evokd-devfb", "pool-random-oracle"}
    assert {m: n for m, n in labelled.items() if m not in more} == {m: 2 for m in labelled if m not in more}
    assert labelled["evokd-devfb"] > 2
    oracle = summary["methods"]["pool-random-oracle"]
    assert oracle["gold_labels"] > 0 and labelled["pool-random-oracle"] == 2 + oracle["gold_labels"]
    teacher = summary["references"]["teacher"]
    test_texts = len(read_jsonl(sentiment_dir / "test.jsonl"))
    assert (teacher["n"], teacher["of"]) == (6, test_texts)  # the first 6 of the whole test split every method scores
    assert s.eval_limit == 0 and s.data_folder(str(sentiment_dir)) == str(sentiment_dir)
    full = summary["references"]["full-shot"]
    assert full["train_examples"] == 12 and full["seeds"] == [1, 2]
    kept_run = [tuple(map(int, k.split("/"))) for k in full["epochs_kept_of_run"]]  # per seed, chosen on dev
    assert len(kept_run) == 2 and [1 <= kept <= run for kept, run in kept_run] == [True, True]
    # Same seeds, same student recipe, same cached teacher: the rerun reproduces every score.
    assert {m: v["scores"] for m, v in again["methods"].items()} == {
        m: v["scores"] for m, v in summary["methods"].items()
    }
    assert any("round 1" in line for line in lines)
    progress = [line for line in lines if "test texts labelled" in line]  # the reference says how far it got
    assert progress[0].startswith(f"[{sentiment_dir}] teacher zero-shot: 4 of 6 test texts labelled (")
    assert progress[1].startswith(f"[{sentiment_dir}] teacher zero-shot: 6 of 6 test texts labelled (")
    # Every cell kept its scored round's test predictions: each method has its interval over seeds and texts; the
    # teacher labelled 6 of the 12 test texts only, so no student is paired with it text by text.
    over = summary["over_texts"]
    assert set(over) == set(ran) and [over[m]["texts"] for m in ran] == [test_texts] * len(ran)
    assert {m: abs(over[m]["mean"] - summary["methods"][m]["score_mean"]) < 1e-3 for m in ran} == dict.fromkeys(
        ran, True
    )


def test_select_never_uses_rounds_past_the_budget_or_test_scores():
    rounds = [
        {"round": r, "teacher_tokens": t, "dev": {"score": d}, "test": {"score": te}, "accepted": 2}
        for r, t, d, te in [(0, 0, 0.5, 0.5), (1, 400, 0.7, 0.6), (2, 800, 0.6, 0.9), (3, 1200, 0.9, 0.95)]
    ]
    got = select(rounds, 1000, "oracle-dev")
    assert (got["round"], got["score"], got["tokens"], got["overrun_rounds"]) == (1, 0.6, 800, 1)
    few_shot = select(rounds, 1000, "few-shot")  # the last round within the budget, whatever dev says
    assert (few_shot["round"], few_shot["score"], few_shot["overrun_rounds"]) == (2, 0.9, 1)


def test_concurrent_teacher_calls_overlap_against_a_delayed_loopback_server(sentiment_dir, tiny_student):
    # 4 requests per node, each answered after 0.3 s, 4 in flight: about one delay per node, where one at a
    # time would take four. The bound is generous (a shared 2-core CPU) but fails if calls run in sequence.
    result = speed.concurrency(str(sentiment_dir), str(tiny_student), lambda _: None, per_round=2, workers=4, delay=0.3)
    nodes = result["nodes"]
    assert {n: v["calls"] for n, v in nodes.items()} == {"analyst": 1, "generator": 4, "critic": 4}
    for name in ("generator", "critic"):
        assert 0.3 <= nodes[name]["seconds"] < 2 * 0.3, name  # sequential calls would need 1.2 s
        assert 0.99 <= nodes[name]["ratio"] < 2.0, name


def test_ner_bench_scores_spans_and_rewrites_keep_a_seed_type(ner_dir, ner_student, ner_server, tmp_path):
    s = settings(ner_dir, ner_student, ner_server.url, tmp_path, seeds=[1], max_rounds=2, budget_tokens=20_000)
    [summary] = run_benchmark(s, lambda _: None)
    assert summary["metric"] == "span F1" and set(summary["methods"]) == {
        m for m, method in methods(2).items() if not method.kinds or "ner" in method.kinds
    }
    # Whole splits by default: the runs read the data as given, and no cut folder is made.
    assert s.data_folder(str(ner_dir)) == str(ner_dir) and not (Path(s.work) / "data").exists()
    # The scripted Critic names every entity of the test sentences: placed on their own tokens, that is a perfect score.
    assert summary["references"]["teacher"]["score"] == 1.0 and summary["references"]["teacher"]["n"] == 3
    # It labelled every test sentence and kept its labels: each student is paired with it text by text (one seed:
    # no interval, so no difference is claimed).
    against = {k: v for k, v in summary["over_texts"].items() if k.endswith(" vs teacher")}
    assert set(against) == {f"{m} vs teacher" for m in summary["methods"]}
    for m, runs in summary["runs"].items():
        one = against[f"{m} vs teacher"]
        assert abs(one["mean"] - (runs[0]["score"] - 1.0)) < 1e-3 and one["interval"] is None and one["covers_zero"]
    samples = read_jsonl(Path(s.work) / ner_dir.name / "rephrase" / "seed-1" / "samples.jsonl")
    seeds = read_jsonl(Path(s.work) / ner_dir.name / "rephrase" / "seed-1" / "seeds.jsonl")
    types = {t.split("-", 1)[1] for seed in seeds for t in seed["tags"] if t != "O"}
    assert samples and {x["requested"] for x in samples} <= types
    prompts = [prompt_of(b) for b in ner_server.requests if schema_name(b) == "GeneratedText"]
    assert any("You rewrite training data for a small named-entity tagger" in p for p in prompts)
    assert any("names at least one" in p and "weaknesses" not in p for p in prompts)  # the static prompt
    spent = {m: [r["tokens"] > 0 for r in summary["runs"][m]] for m in ("static", "rephrase", "evokd")}
    assert spent == {m: [True] for m in spent}  # one seed each, and it paid the teacher


def test_a_budget_below_one_round_is_reported_not_hidden(sentiment_dir, tiny_student, tmp_path):
    with FakeOpenAI(SentimentTeacher()) as server:
        s = settings(
            sentiment_dir,
            tiny_student,
            server.url,
            tmp_path,
            seeds=[1],
            methods=["seed-only", "static"],
            budget_tokens=50,
        )
        [summary] = run_benchmark(s, lambda _: None)
    [run] = summary["runs"]["static"]
    assert run["round"] == 0 and run["score"] == summary["runs"]["seed-only"][0]["score"]
    assert any(n.startswith("WARNING static: the first round (with the shot check") for n in summary["notes"])
    assert "WARNING static" in (Path(s.out) / f"{sentiment_dir.name}.md").read_text()


def test_speed_run_measures_trainer_and_concurrency_and_writes_tables(sentiment_dir, tiny_student, tmp_path):
    result = speed.run(
        str(tmp_path / "out"),
        str(sentiment_dir),
        str(tiny_student),
        str(tmp_path / "work"),
        [str(sentiment_dir)],
        lambda _: None,
        quick=True,
    )
    cpu = result["trainer"]["cpu"]
    # Both trainers ran on the same examples (all 12 of this train split, fewer than the 64 asked), and the
    # ratio is theirs.
    assert cpu["student"]["examples"] == cpu["trainer"]["examples"] == len(read_jsonl(sentiment_dir / "train.jsonl"))
    assert cpu["speedup"] == pytest.approx(cpu["student"]["samples_per_s"] / cpu["trainer"]["samples_per_s"], abs=1e-3)
    assert result["concurrency"]["calls"] == 1 + 8 + 8  # analyst, then 4 + 4 texts written and labelled
    table = (tmp_path / "out" / "speed.md").read_text()
    assert "| cpu (fp32) | transformers.Trainer |" in table and "Teacher concurrency" in table
    assert json.loads((tmp_path / "out" / "speed.json").read_text())["trainer"]["examples"] == 64


def test_a_run_stops_before_the_round_that_would_overrun_its_budget(sentiment_dir, tiny_student, tmp_path):
    # Rounds cost about 1,000 scripted tokens: after round 2 (~2,050) another such round would pass 2,500.
    with FakeOpenAI(SentimentTeacher()) as server:
        s = settings(
            sentiment_dir,
            tiny_student,
            server.url,
            tmp_path,
            methods=["static"],
            seeds=[1],
            budget_tokens=2_500,
            max_rounds=10,
        )
        [cell] = all_cells(s)
        result = run_cell(s, cell, lambda _: None)
    tokens = [r["teacher_tokens"] for r in result["rounds_run"]]
    assert len(tokens) > 2 and tokens[-1] <= 2_500 < tokens[-1] + (tokens[-1] - tokens[-2])
    assert result["overrun_rounds"] == 0


def test_a_changed_prompt_misses_the_finished_run(sentiment_dir, tiny_student, tmp_path, monkeypatch):
    from evokd import prompts

    with FakeOpenAI(SentimentTeacher()) as server:
        s = settings(sentiment_dir, tiny_student, server.url, tmp_path, methods=["static"], seeds=[1], max_rounds=1)
        [cell] = all_cells(s)
        first = run_cell(s, cell, lambda _: None)
        paid = len(server.requests)
        assert run_cell(s, cell, lambda _: None) == first and len(server.requests) == paid  # reused
        shipped = tmp_path / "prompts"
        shutil.copytree(prompts.default_path("classification", "static").parent.parent, shipped)
        static = shipped / "classification" / "static.md"
        static.write_text(static.read_text() + "\nWrite it in the present tense.\n")
        monkeypatch.setattr(prompts, "_DIR", shipped)
        again = run_cell(s, cell, lambda _: None)
    assert again["fingerprint"] != first["fingerprint"]
    assert any("present tense" in prompt_of(b) for b in server.requests[paid:])


def test_an_edited_data_folder_reruns_its_cells_with_the_edit(sentiment_dir, tiny_student, tmp_path):
    data, before = sentiment_dir, data_identity(str(sentiment_dir))
    with FakeOpenAI(SentimentTeacher()) as server:
        s = settings(data, tiny_student, server.url, tmp_path, methods=["seed-only", "teacher"], seeds=[1])
        cells = all_cells(s)
        first = [run_cell(s, c, lambda _: None) for c in cells]
        paid = len(server.requests)
        assert [run_cell(s, c, lambda _: None) for c in cells] == first and len(server.requests) == paid  # reused
        (data / "card.json").write_text(json.dumps({"label_descriptions": {"positive": "the reviewer liked it"}}))
        # A process reads a data folder once; the rerun of an edited folder comes in a fresh one, as here.
        services.read_dataset.cache_clear()
        services._adapter.cache_clear()
        again = [run_cell(s, c, lambda _: None) for c in cells]
    assert all(a["fingerprint"] != b["fingerprint"] for a, b in zip(again, first, strict=True))
    assert data_identity(str(data)) != before
    # The teacher reference ran again, not from the finished result, and its Critic read the new meaning.
    assert any("the reviewer liked it" in prompt_of(b) for b in server.requests[paid:])


def test_the_cut_data_folder_is_made_again_when_its_source_changes(sentiment_dir, tmp_path):
    s = Settings(eval_limit=2, work=str(tmp_path / "work"))
    cut = Path(s.data_folder(str(sentiment_dir)))
    first = read_jsonl(cut / "test.jsonl")
    assert len(first) == 2 and cut.parent == tmp_path / "work" / "data"
    rows = read_jsonl(sentiment_dir / "test.jsonl")
    write_jsonl(sentiment_dir / "test.jsonl", [{**rows[0], "text": "an edited review"}, *rows[1:]])
    assert read_jsonl(Path(s.data_folder(str(sentiment_dir))) / "test.jsonl")[0]["text"] == "an edited review"


def test_a_changed_source_file_or_student_makes_every_cell_stale(monkeypatch, tmp_path, tiny_student):
    from evokd.bench import runner

    code = runner.code_identity("classification")
    weights = runner.student_identity(str(tiny_student))
    copy = tmp_path / "student"
    shutil.copytree(tiny_student, copy)
    assert runner.student_identity(str(copy)) == weights  # the same files: the same student
    config = copy / "config.json"
    config.write_text(config.read_text().replace("{", '{"edited": 1, ', 1))
    assert runner.student_identity(str(copy)) != weights
    # A source file of the installed packages is edited: the source hash, and so every fingerprint, changes;
    # a results file written beside the benchmark's code changes nothing.
    bench = Path(runner.__file__).parent
    shutil.copytree(bench, tmp_path / "bench", ignore=shutil.ignore_patterns("results", "__pycache__"))
    real = runner.source_roots()
    monkeypatch.setattr(runner, "source_roots", lambda: {**real, "evokd.bench": tmp_path / "bench"})
    hashes = []
    for edit in ("results/new.md", "curves.py"):
        runner.source_sha256.cache_clear()
        (tmp_path / "bench" / edit).parent.mkdir(exist_ok=True)
        (tmp_path / "bench" / edit).write_text((bench / "curves.py").read_text() + "\n# edited\n")
        hashes.append(runner.code_identity("classification")["code_sha256"])
    runner.source_sha256.cache_clear()
    assert hashes[0] == code["code_sha256"] != hashes[1]


def test_a_killed_cell_resumes_from_its_checkpoint_and_pays_no_reply_twice(sentiment_dir, tiny_student, tmp_path):
    def stop_after_round_1(line: str) -> None:
        if "round 1 ·" in line:
            raise KeyboardInterrupt  # the driver killed mid-cell, after round 1's checkpoint

    with FakeOpenAI(SentimentTeacher()) as server:
        whole = settings(sentiment_dir, tiny_student, server.url, tmp_path / "whole", methods=["static"], seeds=[1])
        [cell] = all_cells(whole)
        expected = run_cell(whole, cell, lambda _: None)
        fresh = len(server.requests)
        s = settings(
            sentiment_dir, tiny_student, server.url, tmp_path / "killed", methods=["static"], seeds=[1], cache=False
        )  # no reply cache: only the checkpoint can save the replies already paid
        with pytest.raises(KeyboardInterrupt):
            run_cell(s, cell, stop_after_round_1)
        lines: list[str] = []
        result = run_cell(s, cell, lines.append)
    assert any("resuming from its checkpoint" in line for line in lines)
    assert not any("round 0 ·" in line or "round 1 ·" in line for line in lines)  # never rerun
    assert len(server.requests) - fresh == fresh  # the killed and the resumed run paid once between them
    assert [r["round"] for r in result["rounds_run"]] == [r["round"] for r in expected["rounds_run"]]


def test_written_texts_are_asked_for_at_the_datas_own_length(sentiment_dir, tiny_student, tmp_path):
    import statistics

    train = [json.loads(line)["text"] for line in (sentiment_dir / "train.jsonl").read_text().splitlines()]
    words = int(statistics.median(len(t.split()) for t in train))
    with FakeOpenAI(SentimentTeacher()) as server:
        s = settings(
            sentiment_dir, tiny_student, server.url, tmp_path, methods=["static", "evokd"], seeds=[1], max_rounds=1
        )
        for cell in all_cells(s):
            run_cell(s, cell, lambda _: None)
    written = [prompt_of(b) for b in server.requests if schema_name(b) == "GeneratedText"]
    assert len(written) == 2 * 4  # static: 2 x 2 texts; evokd: 2 hard + 2 easy
    assert [p for p in written if f"about {words} words" not in p] == []
    assert [p for p in written if "review" in p] == []  # no wording from one bundled dataset


def test_the_local_teachers_endpoint_values_fit_the_bench_settings():
    """`evokd bench` without a URL takes every value the local teacher's endpoint policy gives (its identity too)."""
    import dataclasses

    from evokd.teacher.local import DEFAULT_TEACHER, teacher_endpoint

    with teacher_endpoint("", DEFAULT_TEACHER, {}, lambda _: None, port=8011, start=False) as endpoint:
        s = dataclasses.replace(Settings(), **endpoint)
    assert s.teacher_id.startswith("local:") and s.teacher_url.endswith(":8011/v1")
    shared = {f.name for f in dataclasses.fields(Settings) if f.metadata.get("setting")}
    assert "teacher_id" in shared  # so every cell's Context carries it into the reply cache's key
