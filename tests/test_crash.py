"""Crash safety: `evokd run` killed with SIGKILL at chosen points, then `evokd resume`, loses nothing.

One run is killed five times, each time at a deterministic point, and resumed after each kill:

1. in round 0's training, before the run's first node finished (only the input is checkpointed);
2. in round 1's generation, while the teacher holds the second text request (others are cached);
3. in round 1's labelling, while the teacher holds the second label request;
4. in round 1's write of samples.jsonl, after half a line reached the disk (a torn last line);
5. in round 2's save of the student, with the new weights in a temporary folder not yet renamed.

Teacher-side points block the scripted server on the N-th request of a kind; process-side points
come from a ``sitecustomize`` module put on the subprocess's PYTHONPATH that pauses the process at
a named step (and signals it with a marker file) so the test can kill it there. After the last
resume the run must equal an uninterrupted run with the same seed and teacher replies: the same
samples (none lost, none duplicated), valid JSONL line by line, and the same losses and metrics.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import graph.nodes
import graph.records
from evokd.cli import main
from tests.fake_openai import FakeOpenAI, Responder, SentimentTeacher, schema_name
from tests.test_cli import run_args
from tests.test_determinism import LEARN, outcome, reference_outcome

REPO = Path(__file__).resolve().parents[1]
WAIT = 120.0  # seconds a subprocess may take to reach its pause point (imports are slow on a busy machine)

PAUSE_HOOKS = '''
"""Test-only pause points for tests/test_crash.py: EVOKD_PAUSE_AT="<point>:<n>" pauses the n-th time."""
import os
import time
from pathlib import Path

POINT, _, NTH = os.environ.get("EVOKD_PAUSE_AT", "").partition(":")
MARK = Path(os.environ.get("EVOKD_PAUSE_MARK", "paused"))
SEEN = {"n": 0}


def due() -> bool:
    SEEN["n"] += 1
    return SEEN["n"] == int(NTH)


def pause() -> None:
    MARK.write_text(POINT)
    time.sleep(600)  # the test kills the process here


if POINT == "train":  # after the first epoch of the n-th training pass
    import graph.nodes

    real_train = graph.nodes.train

    def train(net, examples, cfg, on_progress=None):
        stop = due()

        def progress(p):
            if on_progress:
                on_progress(p)
            if stop:
                pause()
        return real_train(net, examples, cfg, on_progress=progress)
    graph.nodes.train = train

if POINT == "samples":  # half of the first new line of the n-th non-empty samples.jsonl append is on disk
    import json
    import graph.nodes
    import graph.records

    real_append = graph.nodes.append_new

    def append_new(path, records, key):
        records = list(records)
        if Path(path).name == "samples.jsonl" and records and due():
            have = {r.get(key) for r in graph.records.read_jsonl(path)}
            line = json.dumps(next(r for r in records if r.get(key) not in have)) + "\\n"
            with open(path, "a", encoding="utf-8") as f:
                f.write(line[: len(line) // 2])
                f.flush()
                os.fsync(f.fileno())
            pause()
        return real_append(path, records, key)
    graph.nodes.append_new = append_new

if POINT == "save":  # the n-th student save has written its weights to the temporary folder, not renamed yet
    from transformers import PreTrainedModel

    real_save = PreTrainedModel.save_pretrained

    def save_pretrained(self, directory, *args, **kwargs):
        out = real_save(self, directory, *args, **kwargs)
        if Path(directory).name.startswith(".round-") and due():
            pause()
        return out
    PreTrainedModel.save_pretrained = save_pretrained
'''


class Gate:
    """A responder wrapper that holds the N-th request of one kind until released, so the client can be killed."""

    def __init__(self, inner: Responder) -> None:
        self.inner = inner
        self.kind, self.nth, self.count = "", 0, 0
        self.reached, self.release = threading.Event(), threading.Event()
        self._lock = threading.Lock()

    def arm(self, kind: str, nth: int) -> None:
        """Hold the ``nth`` next request whose schema is ``kind``."""
        with self._lock:
            self.kind, self.nth, self.count = kind, nth, 0
            self.reached.clear()
            self.release.clear()

    def __call__(self, body: dict) -> str:
        with self._lock:
            self.count += schema_name(body) == self.kind
            hold = schema_name(body) == self.kind and self.count == self.nth
        if hold:
            self.reached.set()
            self.release.wait(WAIT)
        return self.inner(body)  # type: ignore[return-value]


def jsonl_lines(path: Path) -> tuple[list[dict], bool]:
    """Every complete line of a JSONL file parsed (a broken complete line fails the test), and whether the last is torn."""
    if not path.exists():
        return [], False
    data = path.read_bytes()
    complete, _, tail = data.rpartition(b"\n")
    return [json.loads(line) for line in complete.splitlines() if line], bool(tail)


class Crasher:
    """Starts `python -m evokd.cli` in a subprocess, waits for a pause point, and kills it with SIGKILL."""

    def __init__(self, tmp: Path, gate: Gate) -> None:
        self.tmp, self.gate, self.kills = tmp, gate, 0
        self.hooks = tmp / "hooks"
        self.hooks.mkdir()
        (self.hooks / "sitecustomize.py").write_text(PAUSE_HOOKS)

    def kill_at(self, argv: list[str], *, pause_at: str = "", hold: tuple[str, int] | None = None) -> None:
        """Run ``evokd argv`` until it reaches ``pause_at`` (a hook) or the teacher holds ``hold``; then kill -9."""
        mark = self.tmp / f"paused-{self.kills}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(self.hooks), str(REPO)]), "HF_HUB_OFFLINE": "1",
               "OMP_NUM_THREADS": "1",  # the in-process reference run uses one torch thread (conftest)
               "EVOKD_PAUSE_AT": pause_at, "EVOKD_PAUSE_MARK": str(mark)}
        self.gate.arm(*(hold or ("", 0)))  # ("", 0) holds nothing
        log = self.tmp / f"log-{self.kills}.txt"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "evokd.cli", *argv], cwd=REPO, env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + WAIT
            while not (mark.exists() or self.gate.reached.is_set()):
                assert proc.poll() is None, f"evokd exited ({proc.returncode}) before its kill point:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"no kill point reached in {WAIT} s:\n{log.read_text()}"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
            self.gate.release.set()
        assert proc.returncode == -signal.SIGKILL
        self.kills += 1


def test_kill_9_at_five_points_then_resume_equals_an_uninterrupted_run(sentiment_dir, tiny_student, tmp_path):
    gate = Gate(SentimentTeacher(by_seed=True))
    out = tmp_path / "run"
    with FakeOpenAI(gate) as server:
        crash = Crasher(tmp_path, gate)
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
        assert [p.name for p in (out / "student").glob(".round-2.tmp-*")], "the kill should have left a half-saved student"

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
        sentiment_dir, tiny_student, teacher_server, tmp_path, monkeypatch, capsys):
    """A crash after round 2 pruned the old best but before its checkpoint; the rerun scores lower (as on a GPU).

    The checkpointed state still names the old best, so its folder must have survived the prune.
    """
    real_evaluate, real_append = graph.nodes.metrics.evaluate, graph.nodes.append_new
    dev_scores = iter([0.9, 0.5, 0.95, 0.1])  # rounds 0, 1, 2, and round 2 again after the crash

    def evaluate(task, gold, predicted):
        result = real_evaluate(task, gold, predicted)
        if gold[0]["text"].endswith("indeed"):  # the dev split of `sentiment_dir`
            result["score"] = next(dev_scores)
        return result

    def crash_on_round_2(path, records, key):
        records = list(records)
        if Path(path).name == "rounds.jsonl" and records[0]["round"] == 2 and dev_scores.__length_hint__():
            raise KeyboardInterrupt  # stands in for a kill: what follows in the node never runs
        return real_append(path, records, key)

    monkeypatch.setattr(graph.nodes.metrics, "evaluate", evaluate)
    monkeypatch.setattr(graph.nodes, "append_new", crash_on_round_2)
    out = tmp_path / "run"
    assert main(run_args(sentiment_dir, tiny_student, teacher_server, out)) == 130
    assert main(["resume", str(out), "--teacher-url", teacher_server.url]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_round"] == 0 and summary["dev"]["score"] == 0.9
    assert (out / "model" / "model.safetensors").exists()


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_the_start(
        sentiment_dir, tiny_student, teacher_server, tmp_path, monkeypatch):
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
    records = [{"id": "r1-0", "text": "one\u2028two"}, {"id": "r1-1", "text": "three\x85four"}, {"id": "r1-2", "text": "x"}]
    assert graph.records.append_new(path, records, key="id") == 3
    assert graph.records.read_jsonl(path) == records
    assert graph.records.append_new(path, records, key="id") == 0
    assert path.read_bytes().count(b"\n") == 3


def test_torn_line_cut_inside_a_character_is_ignored_then_repaired(tmp_path):
    path = tmp_path / "samples.jsonl"
    graph.records.append_new(path, [{"id": "r1-0", "text": "caf\u00e9"}], key="id")
    with open(path, "ab") as f:  # what a kill in the middle of a write leaves: half of a two-byte "é"
        f.write('{"id": "r1-1", "text": "caf\u00e9"}\n'.encode()[:-4])
    assert [r["id"] for r in graph.records.read_jsonl(path)] == ["r1-0"]
    assert graph.records.append_new(path, [{"id": "r1-1", "text": "caf\u00e9"}], key="id") == 1
    records, torn = jsonl_lines(path)
    assert [r["id"] for r in records] == ["r1-0", "r1-1"] and not torn
