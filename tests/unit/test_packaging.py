"""The wheel: one namespace at the top of site-packages, every source package and prompt file inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.support import ROOT

# The checkout's folders and the names they install under (pyproject.toml's package-dir).
FOLDERS = {
    "evokd": "evokd",
    "agents": "evokd/agents",
    "graph": "evokd/graph",
    "student": "evokd/student",
    "prompts": "evokd/prompts",
    "benchmarks": "evokd/bench",
}


def test_the_wheel_installs_only_the_evokd_namespace_and_all_of_it(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = zipfile.ZipFile(next(tmp_path.glob("evokd-*.whl")))
    names = wheel.namelist()
    assert {n.split("/")[0] for n in names} == {"evokd", next(n.split("/")[0] for n in names if ".dist-info" in n)}
    for folder, installed in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "results" in init.parts:
                continue
            inside = init.relative_to(ROOT / folder).as_posix()  # "__init__.py" or "sub/__init__.py"
            assert f"{installed}/{inside}" in names, f"{init.parent} is missing from the wheel"
    prompts = {str(p.relative_to(ROOT / "prompts")) for p in (ROOT / "prompts").rglob("*.md")}
    assert prompts and all(f"evokd/prompts/{p}" in names for p in prompts)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = wheel.read(entry_points).decode()
    assert "evokd = evokd.cli:main" in text and "bench = evokd.bench.bench" in text
    assert not any(n.startswith("evokd/bench/results") or "/tests/" in n for n in names)
