"""`langgraph dev` as a subprocess on a free loopback port, offline, for the SDK tests in tests/server/.

tests/server/conftest.py starts one for the session as the `studio_url` fixture.

The server runs in a scratch folder (its ``.langgraph_api/`` store lands there, not in the repo)
with the repo's own ``langgraph.json``, whose relative paths are made absolute. Telemetry, the
version check and tracing are off, as the README tells users to run it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from evokd.teacher.local import free_port
from tests.support import ROOT

OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def scratch_config(folder: Path) -> Path:
    """The repo's langgraph.json with absolute paths, written into ``folder``."""
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    config["dependencies"] = [str(ROOT)]
    for gid, spec in config["graphs"].items():
        path = spec["path"] if isinstance(spec, dict) else spec
        absolute = str((ROOT / path).resolve()) if path.startswith(".") else path
        config["graphs"][gid] = {**spec, "path": absolute} if isinstance(spec, dict) else absolute
    target = folder / "langgraph.json"
    target.write_text(json.dumps(config), encoding="utf-8")
    return target


@contextmanager
def langgraph_dev(folder: Path, timeout: float = 180.0) -> Iterator[str]:
    """Run ``langgraph dev`` from ``folder`` until the block ends; yield its base URL."""
    port = free_port()
    log_path = folder / "server.log"
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "langgraph_cli", "dev", "--host", "127.0.0.1", "--port", str(port),
        "--no-browser", "--no-reload", "--config", str(scratch_config(folder)),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"langgraph dev did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the whole group: uvicorn and its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _ready(url: str) -> bool:
    """True once the server answers its health check."""
    try:
        return httpx.get(f"{url}/ok", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
