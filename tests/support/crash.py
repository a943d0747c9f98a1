"""Kill -9 helpers for the crash tests: a zygote that forks `python -m evokd.cli` runs with pause points, a
teacher gate that holds the N-th request of a kind, and a strict JSONL reader.

Each killed run is `python -m evokd.cli` in its own process, forked from a "zygote": a Python process that
did the slow imports (torch, transformers, LangGraph: ~10 s of CPU) once, then runs ``evokd.cli`` as
``__main__`` in each child exactly as ``python -m`` does. Plain subprocesses would spend most of the
suite's time budget importing.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support import ROOT
from tests.support.fake_openai import Responder, schema_name

WAIT = 120.0  # seconds a subprocess may take to reach its pause point (imports are slow on a busy machine)

ZYGOTE = '''
"""Forks `python -m evokd.cli` runs for tests/wire/test_crash.py, with the slow imports done once, and pause points.

Reads one JSON command per line on stdin, answers one JSON line on stdout:
{"argv", "env", "log", "exit_file"} -> {"pid"}: fork a child that runs evokd.cli as __main__ (as
`python -m evokd.cli` does) with that environment, output in "log" and its exit code written to
"exit_file" (never written when it is killed); {"reap": pid} -> {"signal"}: wait for a child.

EVOKD_PAUSE_AT="<point>:<n>" in a child's environment pauses it the n-th time it reaches <point>:
it writes EVOKD_PAUSE_MARK and sleeps until killed.
"""
import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path

import evokd.cli  # noqa: F401 - the imports every run needs, paid once here
import evokd.graph.build  # noqa: F401
import evokd.graph.student_nodes
import evokd.student.recipe
import evokd.records
from transformers import PreTrainedModel

SEEN = {"n": 0}


def due(point):
    """True the n-th time this process reaches ``point``, when EVOKD_PAUSE_AT names it."""
    name, _, nth = os.environ.get("EVOKD_PAUSE_AT", "").partition(":")
    if name != point:
        return False
    SEEN["n"] += 1
    return SEEN["n"] == int(nth)


def pause():
    Path(os.environ["EVOKD_PAUSE_MARK"]).write_text("paused")
    time.sleep(600)  # the test kills the process here


real_train, real_append = evokd.student.recipe.train, evokd.graph.student_nodes.append_new
real_save = PreTrainedModel.save_pretrained


def train(net, examples, cfg, on_progress=None, **recipe):
    """Training pauses after the first epoch of the n-th pass (class balance and dev selection pass through)."""
    stop = due("train")

    def progress(p):
        if on_progress:
            on_progress(p)
        if stop:
            pause()
    return real_train(net, examples, cfg, on_progress=progress, **recipe)


def append_new(path, records, key):
    """The n-th non-empty samples.jsonl append gets half of its first new line onto the disk, then pauses."""
    records = list(records)
    if Path(path).name == "samples.jsonl" and records and due("samples"):
        have = {r.get(key) for r in evokd.records.read_jsonl(path)}
        line = json.dumps(next(r for r in records if r.get(key) not in have)) + "\\n"
        with open(path, "a", encoding="utf-8") as f:
            f.write(line[: len(line) // 2])
            f.flush()
            os.fsync(f.fileno())
        pause()
    return real_append(path, records, key)


def save_pretrained(self, directory, *args, **kwargs):
    """The n-th student save pauses with its weights in the temporary folder, not yet renamed."""
    out = real_save(self, directory, *args, **kwargs)
    if Path(directory).name.startswith(".round-") and due("save"):
        pause()
    return out


evokd.student.recipe.train, evokd.graph.student_nodes.append_new = train, append_new
PreTrainedModel.save_pretrained = save_pretrained


def child(cmd):
    """Run evokd as `python -m evokd.cli ARGV` would, in this forked process; never returns."""
    code = 1
    try:
        os.environ.update(cmd["env"])
        log = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.argv = ["evokd", *cmd["argv"]]
        runpy.run_module("evokd.cli", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        Path(cmd["exit_file"]).write_text(str(code))
        os._exit(code)


for line in sys.stdin:
    cmd = json.loads(line)
    if "reap" in cmd:
        _, status = os.waitpid(cmd["reap"], 0)
        answer = {"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0}
    else:
        pid = os.fork()
        if pid == 0:
            child(cmd)
        answer = {"pid": pid}
    print(json.dumps(answer), flush=True)
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
    """Every complete line of a JSONL file parsed (a broken one fails the test), and whether the last is torn."""
    if not path.exists():
        return [], False
    data = path.read_bytes()
    complete, _, tail = data.rpartition(b"\n")
    return [json.loads(line) for line in complete.split(b"\n") if line], bool(tail)


class Crasher:
    """Runs `python -m evokd.cli` (forked by the zygote), waits for a kill point, and kills it with SIGKILL."""

    def __init__(self, tmp: Path, gate: Gate) -> None:
        self.tmp, self.gate, self.kills = tmp, gate, 0
        script = tmp / "zygote.py"
        script.write_text(ZYGOTE)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
        }  # the in-process reference run uses one torch thread (conftest)
        self.zygote_log = tmp / "zygote.txt"
        with open(self.zygote_log, "wb") as log:
            self.zygote = subprocess.Popen(
                [sys.executable, str(script)],
                cwd=ROOT,
                env=env,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )

    def _ask(self, command: dict) -> dict:
        """One command to the zygote and its answer."""
        assert self.zygote.stdin and self.zygote.stdout
        self.zygote.stdin.write(json.dumps(command) + "\n")
        self.zygote.stdin.flush()
        ready, _, _ = select.select([self.zygote.stdout], [], [], WAIT)  # the first answer waits for its imports
        answer = self.zygote.stdout.readline() if ready else ""
        assert answer, f"the zygote died:\n{self.zygote_log.read_text()}"
        return json.loads(answer)

    def kill_at(self, argv: list[str], *, pause_at: str = "", hold: tuple[str, int] | None = None) -> None:
        """Run ``evokd argv`` until it reaches ``pause_at`` (a hook) or the teacher holds ``hold``; then kill -9."""
        mark, exited, log = (self.tmp / f"{name}-{self.kills}" for name in ("paused", "exit", "log"))
        self.gate.arm(*(hold or ("", 0)))  # ("", 0) holds nothing
        env = {"EVOKD_PAUSE_AT": pause_at, "EVOKD_PAUSE_MARK": str(mark)}
        pid = self._ask({"argv": argv, "env": env, "log": str(log), "exit_file": str(exited)})["pid"]
        try:
            deadline = time.monotonic() + WAIT
            while not (mark.exists() or self.gate.reached.is_set()):
                assert not exited.exists(), (
                    f"evokd exited ({exited.read_text()}) before its kill point:\n{log.read_text()}"
                )
                assert time.monotonic() < deadline, f"no kill point reached in {WAIT} s:\n{log.read_text()}"
                time.sleep(0.02)
        finally:
            os.kill(pid, signal.SIGKILL)
            killed_by = self._ask({"reap": pid})["signal"]
            self.gate.release.set()
        assert killed_by == signal.SIGKILL
        self.kills += 1

    def close(self) -> None:
        """Stop the zygote."""
        assert self.zygote.stdin
        self.zygote.stdin.close()
        try:
            self.zygote.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still importing, say: never leave it behind
            self.zygote.kill()
            self.zygote.wait()
