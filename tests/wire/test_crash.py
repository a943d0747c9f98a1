"""Crash safety: `evokd run` killed with SIGKILL at chosen points, then `evokd resume`, loses nothing.

One run is killed five times, each time at a deterministic point, and resumed after each kill:

1. in round 0's training, before the run's first node finished (only the input is checkpointed);
2. in round 1's generation, while the teacher holds the second text request (others are cached);
3. in round 1's labelling, while the teacher holds the second label request;
4. in round 1's write of samples.jsonl, after half a line reached the disk (a torn last line);
5. in round 2's save of the student, with the new weights in a temporary folder not yet renamed.

Teacher-side points block the scripted server on the N-th request of a kind; process-side points
are hooks that pause the process at a named step (and signal it with a marker file) so the test can
kill it there. After the last resume the run must equal an uninterrupted run with the same seed and
teacher replies: the same samples (none lost, none duplicated), valid JSONL line by line, and the
same losses and metrics.

Each killed run is `python -m evokd.cli` forked from a zygote that did the slow imports once
(`tests.support.crash`).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path

import evokd.graph.student_nodes
import evokd.records
from evokd.cli import main
from tests.support.crash import Crasher, Gate, jsonl_lines
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher, numbered_texts, prompt_of, schema_name
from tests.support.runs import LEARN, outcome, reference_outcome, run_args


def test_kill_9_at_five_points_then_resume_equals_an_uninterrupted_run(sentiment_dir, tiny_student, tmp_path):
    gate = Gate(SentimentTeacher(by_seed=True))
    out = tmp_path / "run"
    crash = Crasher(tmp_path, gate)
    with FakeOpenAI(gate) as server, contextlib.closing(crash):
        resume = ["resume", str(out), "--teacher-url", server.url]

        crash.kill_at(run_args(sentiment_dir, tiny_student, server, out, *LEARN), pause_at="train:1")
        assert not (out / "rounds.jsonl").exists() and (out / "checkpoints.sqlite").exists()

        crash.kill_at(resume, hold=("GeneratedText", 2))
        assert [r["round"] for r in jsonl_lines(out / "rounds.jsonl")[0]] == [0]

        crash.kill_at(resume, hold=("LabelVerdict", 2))
        assert jsonl_lines(out / "samples.jsonl") == ([], False)  # samples are written by the student node only

        crash.kill_at(resume, pause_at="samples:1")
        samples, torn = jsonl_lines(out / "samples.jsonl")
        assert samples == [] and torn, "the kill should have left half a line in samples.jsonl"

        crash.kill_at(resume, pause_at="save:2")
        assert [r["round"] for r in jsonl_lines(out / "rounds.jsonl")[0]] == [0, 1]
        assert [p.name for p in (out / "student").glob(".round-2.tmp-*")], (
            "the kill should have left a half-saved student"
        )

        assert main(resume) == 0

    assert crash.kills == 5
    for name in ("samples.jsonl", "rounds.jsonl", "seeds.jsonl"):
        records, torn = jsonl_lines(out / name)
        assert records and not torn, name
    samples = jsonl_lines(out / "samples.jsonl")[0]
    assert not [i for i, n in Counter(s["id"] for s in samples).items() if n > 1], "duplicated samples"
    assert not [p.name for p in (out / "student").iterdir() if p.name.startswith(".")], "left-over temporary folders"
    assert outcome(out) == reference_outcome(sentiment_dir, tiny_student, tmp_path)


def test_a_rerun_student_node_that_trains_differently_still_finds_the_checkpointed_best(
    sentiment_dir, tiny_student, teacher_server, tmp_path, monkeypatch
):
    """A crash after round 2 pruned the old best but before its checkpoint; the rerun scores lower (as on a GPU).

    The checkpointed state still names the old best, so its folder must have survived the prune.
    """
    real_evaluate, real_append = evokd.graph.student_nodes.tasks.evaluate, evokd.graph.student_nodes.append_new
    dev_scores = iter([0.9, 0.5, 0.95, 0.1])  # rounds 0, 1, 2, and round 2 again after the crash

    def evaluate(task, gold, predicted):
        result = real_evaluate(task, gold, predicted)
        if gold[0]["text"].endswith("indeed"):  # the dev split of `sentiment_dir`
            result["score"] = next(dev_scores)
        return result

    crashed: list[bool] = []

    def crash_on_round_2(path, records, key):
        records = list(records)
        if Path(path).name == "rounds.jsonl" and records[0]["round"] == 2 and not crashed:
            crashed.append(True)
            raise KeyboardInterrupt  # stands in for a kill: what follows in the node never runs
        return real_append(path, records, key)

    monkeypatch.setattr(evokd.graph.student_nodes.tasks, "evaluate", evaluate)
    monkeypatch.setattr(evokd.graph.student_nodes, "append_new", crash_on_round_2)
    out = tmp_path / "run"
    # The scripted scores stand for the node's one dev evaluation per round: no per-epoch scoring inside training.
    assert (
        main(
            run_args(sentiment_dir, tiny_student, teacher_server, out, "--no-select-epoch", "--protocol", "oracle-dev")
        )
        == 130
    )
    assert main(["resume", str(out), "--teacher-url", teacher_server.url]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_round"] == 0 and summary["dev"]["score"] == 0.9
    assert (out / "model" / "model.safetensors").exists()


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_the_start(
    sentiment_dir, tiny_student, teacher_server, tmp_path, monkeypatch
):
    """Ctrl-C (or a kill) after checkpoints.sqlite exists but before any checkpoint is in it."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(SqliteSaver, "put", interrupted)
        assert main(run_args(sentiment_dir, tiny_student, teacher_server, out, "--rounds", "1")) == 130
    assert (out / "checkpoints.sqlite").exists() and not (out / "rounds.jsonl").exists()
    assert main(["resume", str(out), "--teacher-url", teacher_server.url]) == 0
    assert [r["round"] for r in jsonl_lines(out / "rounds.jsonl")[0]] == [0, 1]


def test_jsonl_lines_split_on_newline_only(tmp_path):
    """A text with U+2028 or U+0085 (left unescaped by JSON) is one record, and appending it again adds nothing."""
    path = tmp_path / "samples.jsonl"
    records = [
        {"id": "r1-0", "text": "one\u2028two"},
        {"id": "r1-1", "text": "three\x85four"},
        {"id": "r1-2", "text": "x"},
    ]
    assert evokd.records.append_new(path, records, key="id") == 3
    assert evokd.records.read_jsonl(path) == records
    assert evokd.records.append_new(path, records, key="id") == 0
    assert path.read_bytes().count(b"\n") == 3


def test_torn_line_cut_inside_a_character_is_ignored_then_repaired(tmp_path):
    path = tmp_path / "samples.jsonl"
    evokd.records.append_new(path, [{"id": "r1-0", "text": "caf\u00e9"}], key="id")
    with open(path, "ab") as f:  # what a kill in the middle of a write leaves: half of a two-byte "é"
        f.write('{"id": "r1-1", "text": "caf\u00e9"}\n'.encode()[:-4])
    assert [r["id"] for r in evokd.records.read_jsonl(path)] == ["r1-0"]
    assert evokd.records.append_new(path, [{"id": "r1-1", "text": "caf\u00e9"}], key="id") == 1
    records, torn = jsonl_lines(path)
    assert [r["id"] for r in records] == ["r1-0", "r1-1"] and not torn


def test_kill_9_in_pool_labelling_then_resume_labels_no_pool_text_twice(sentiment_dir, tiny_student, tmp_path):
    """Killed while the teacher holds round 1's second pool label, then killed again in round 1's training:
    the selector's picks are checkpointed and answered labels are cached, so no answered text is asked again."""
    pool = tmp_path / "pool.txt"
    pool.write_text(
        "a good film to see\nan awful boring film here\nlovely and great acting now\n"
        "bad plot and awful cast\ngreat fun for all\nboring story all along\n",
        encoding="utf-8",
    )
    gate, out = Gate(SentimentTeacher(by_seed=True)), tmp_path / "run"
    crash = Crasher(tmp_path, gate)
    with FakeOpenAI(gate) as server, contextlib.closing(crash):

        def labelled() -> list[str]:
            """The text of every label request the teacher has seen, in order."""
            return [
                t for r in server.requests if schema_name(r) == "LabelVerdict" for t in numbered_texts(prompt_of(r))
            ]

        args = run_args(
            sentiment_dir,
            tiny_student,
            server,
            out,
            *LEARN,
            "--concurrency",
            "1",
            "--per-round",
            "0",
            "--pool",
            str(pool),
            "--pool-per-round",
            "3",
            "--no-shot-check",  # the held call is a pool pick's, not the shots'
        )
        crash.kill_at(args, hold=("LabelVerdict", 2))
        before = labelled()
        assert len(before) == 2  # one answered (and cached), one held when the run was killed

        resume = ["resume", str(out), "--teacher-url", server.url]
        crash.kill_at(resume, pause_at="train:1")  # round 1's training: the Critic's work is checkpointed
        after_first = labelled()[2:]
        assert before[0] not in after_first and before[1] in after_first  # the unanswered one is asked again
        assert main(resume) == 0

    counts = Counter(labelled())
    round_1 = {s["text"] for s in jsonl_lines(out / "samples.jsonl")[0] if s["round"] == 1}
    assert set(before) <= round_1  # the picks made before the kill are the round's picks
    assert counts[before[1]] == 2 and all(n == 1 for t, n in counts.items() if t != before[1]), counts
