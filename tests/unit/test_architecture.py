"""Every import in the product points down a floor (or stays in its room), and none points at `tests`.

The floors are the table in docs/architecture.md (between its `floors:` markers), read here so the page
and this check are one source; the folder -> installed name mapping is pyproject.toml's package-dir.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from tests.support import ROOT

GROUND = "ground"  # the ground floor's modules may import each other: one room
# The benchmark's speed check runs only from a checkout and borrows the scripted server inside a function.
LAZY_TEST_IMPORTS = {"evokd.bench.speed": "tests.support"}


def floor_table() -> dict[str, tuple[int, str]]:
    """Installed name -> (floor, room), from the table in docs/architecture.md."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page.split("<!-- floors:start -->")[1].split("<!-- floors:end -->")[0]
    floors: dict[str, tuple[int, str]] = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells[0].isdigit():
            floor = int(cells[0])
            for name in re.findall(r"`([\w.]+)`", cells[1]):
                floors[name] = (floor, GROUND if floor == 0 else name)
    return floors


def product_modules() -> dict[str, Path]:
    """Installed module name -> source file, for every module the wheel installs."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {name: setuptools["package-dir"].get(name, name.replace(".", "/")) for name in setuptools["packages"]}
    modules: dict[str, Path] = {}
    for package, folder in folders.items():
        for file in (ROOT / folder).glob("*.py"):
            modules[package if file.stem == "__init__" else f"{package}.{file.stem}"] = file
    return modules


def imports(module: str, file: Path, known: set[str]) -> list[tuple[int, str, bool]]:
    """(line, imported module, inside a function) for every import in ``file``, relative ones resolved."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    package = module if file.stem == "__init__" else module.rpartition(".")[0]
    local = {
        id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, id(node) in local) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # `from evokd import prompts` imports the module evokd.prompts; `from evokd.text import clip`, evokd.text.
            found += [
                (node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in known else base, id(node) in local)
                for a in node.names
            ]
    return found


def place(name: str, floors: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    """The floor and room of an installed name: its longest prefix in the table."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in floors:
            return floors[".".join(parts[:n])]
    return None


def test_the_floor_table_places_every_product_module():
    floors = floor_table()
    assert len(floors) >= 17 and {f for f, _ in floors.values()} == set(range(7))
    unplaced = [m for m in product_modules() if place(m, floors) is None]
    assert unplaced == [], "add these to the table in docs/architecture.md"


def test_every_import_points_down_a_floor_and_never_at_tests():
    floors, modules = floor_table(), product_modules()
    offenders = []
    for module, file in sorted(modules.items()):
        here = place(module, floors)
        assert here is not None
        for line, target, lazy in imports(module, file, set(modules)):
            where = f"{file.relative_to(ROOT)}:{line}: {module} (floor {here[0]}) imports {target}"
            if target.split(".")[0] == "tests":
                if not (lazy and target.startswith(LAZY_TEST_IMPORTS.get(module, "\0"))):
                    offenders.append(f"{where}: the product never imports tests")
                continue
            there = place(target, floors) if target.split(".")[0] == "evokd" else None
            if there is not None and there[1] != here[1] and there[0] >= here[0]:
                offenders.append(f"{where} (floor {there[0]})")
    assert offenders == [], "imports that point up or sideways:\n" + "\n".join(offenders)


def test_the_check_sees_function_local_relative_and_from_imports(tmp_path):
    """The walk is not vacuous: it finds the kinds of import a module can hide."""
    source = tmp_path / "nodes.py"
    source.write_text("from . import review\nfrom evokd import prompts\n\ndef f():\n    import evokd.cli\n")
    found = imports("evokd.graph.nodes", source, {"evokd.graph.review", "evokd.prompts"})
    assert found == [(1, "evokd.graph.review", False), (2, "evokd.prompts", False), (5, "evokd.cli", True)]
    floors = floor_table()
    assert place("evokd.cli", floors) == (6, "evokd.cli") and place("evokd.graph.nodes", floors) == (5, "evokd.graph")
    assert place("evokd.settings", floors) == (0, GROUND)
